"""Baseline generator: noise_mf — real MF embeddings, resampled and blurred with isotropic noise.

1. Two factorisations of the real training split, one per thing to generate:
   - existence: the implicit MF of `spade_core.recommenders` (score p_u · q_i + b_i, trained with BCE
     on each positive against sampled non-training items), `dim` factors, `epochs` epochs;
   - ratings: GANRS's DeepMF (⟨E_u, E_i⟩ ≈ the rating normalised to [0, 1]), RATING_DIM factors,
     RATING_EPOCHS epochs (GANRS's defaults).
2. Synthetic entities: each of the U' users copies a real user drawn uniformly with replacement, each
   of the I' items a real item; every embedding gets N(0, σ²I) noise added, σ = `noise_scale` × the
   root-mean-square per-dimension standard deviation of that real embedding table (so the knob is
   free of the tables' scale). Item biases b_i are copied without noise.
3. Existence: the `target_interactions` (U', I') pairs with the highest noisy MF scores over the whole
   U' × I' grid, so the density is the real training density; ties broken by the lower (user, item).
4. Ratings, by quantile mapping: the chosen pairs are ordered by their noisy DeepMF prediction (ties
   by pair) and cut into consecutive runs whose sizes follow the real training rating histogram
   (largest-remainder rounding, as in `marginal`); the lowest run gets the lowest vocabulary value,
   and so on. So ratings keep the model's order and the real histogram exactly, where rounding a
   regression would pile up in the middle of the scale.

Latents: [p; E_u] per user and [q; E_i] per item, real and synthetic, in the same space.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from spade_core import recommenders
from spade_core.baselines import ganrs, marginal, runner, target_interactions
from spade_core.data import Interactions, Prepared
from spade_core.sampling import epoch_rng
from spade_core.synthetic import Synthetic

log = logging.getLogger(__name__)

RATING_DIM, RATING_EPOCHS = 5, 20  # GANRS's DeepMF defaults (baselines.ganrs)
SCORE_CELLS = 1 << 22  # grid cells scored at once while selecting the top pairs: bounds memory


def blur(table: np.ndarray, rows: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """table[rows] + N(0, σ²) per value, σ = scale × the RMS per-column std of `table` (float32)."""
    sigma = scale * float(np.sqrt(np.mean(table.var(axis=0))))
    return (table[rows] + sigma * rng.standard_normal((len(rows), table.shape[1]))).astype(np.float32)


def top_pairs(users: np.ndarray, items: np.ndarray, bias: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n (user, item) cells with the largest users @ items.T + bias, ties by lower cell index,
    found a block of users at a time so memory stays O(n + SCORE_CELLS)."""
    n_items = len(items)
    if not 0 < n <= len(users) * n_items:
        raise ValueError(f"cannot choose {n} pairs from a {len(users)} x {n_items} grid")
    best_cell, best_score = np.empty(0, np.int64), np.empty(0, np.float32)
    step = max(1, SCORE_CELLS // n_items)
    for start in range(0, len(users), step):
        block = (users[start : start + step] @ items.T + bias).astype(np.float32).ravel()
        score = np.r_[best_score, block]
        cell = np.r_[best_cell, np.arange(start * n_items, start * n_items + len(block), dtype=np.int64)]
        if len(score) > n:
            threshold = np.partition(score, len(score) - n)[len(score) - n]  # the n-th largest
            above, tied = np.flatnonzero(score > threshold), np.flatnonzero(score == threshold)
            tied = tied[np.argsort(cell[tied], kind="stable")[: n - len(above)]]
            keep = np.r_[above, tied]
            score, cell = score[keep], cell[keep]
        best_score, best_cell = score, cell
    return np.divmod(np.sort(best_cell), n_items)


def quantile_ratings(prediction: np.ndarray, real_ratings: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """Vocabulary ratings in the order of `prediction` whose histogram is the real one (module doc)."""
    histogram = np.array([np.sum(real_ratings == v) for v in vocab], np.float64)
    counts = marginal.integer_shares(histogram, len(prediction), cap=len(prediction))
    out = np.empty(len(prediction), dtype=vocab.dtype)
    out[np.argsort(prediction, kind="stable")] = np.repeat(vocab, counts)
    return out


def generate(real: Prepared, n_users: int, n_items: int, cfg: dict, seed: int) -> Synthetic:
    """The noise_mf baseline at U' x I' (module doc)."""
    start = time.perf_counter()
    mf = recommenders.fit("mf", real.train, real.n_users, real.n_items, {"dim": cfg["dim"], "epochs": cfg["epochs"]}, seed)
    eu, ei, _ = ganrs.train_deepmf(real, RATING_DIM, RATING_EPOCHS, seed)
    rng = epoch_rng(seed, 0)
    src_users, src_items = rng.integers(0, real.n_users, n_users), rng.integers(0, real.n_items, n_items)
    scale = cfg["noise_scale"]
    p, q = blur(mf.user_factors, src_users, scale, rng), blur(mf.item_factors, src_items, scale, rng)
    su, si = blur(eu, src_users, scale, rng), blur(ei, src_items, scale, rng)
    users, items = top_pairs(p, q, mf.item_bias[src_items], target_interactions(real, n_users, n_items))
    prediction = np.sum(su[users] * si[items], axis=1)
    ratings = quantile_ratings(prediction, real.train.rating, real.vocab)
    log.info("noise_mf: %d pairs from MF scores, ratings by quantile mapping, %.1f s", len(users),
             time.perf_counter() - start)
    latents = {
        "synthetic_users": np.c_[p, su], "synthetic_items": np.c_[q, si],
        "real_users": np.c_[mf.user_factors, eu], "real_items": np.c_[mf.item_factors, ei],
    }
    return Synthetic(Interactions(users, items, ratings), n_users, n_items, latents)


run = runner(generate)
