"""Stage III: synthesis — sampled entities, cosine candidates, gated Bernoulli existence, ratings.

1. U' = ⌈αU⌉ user and I' = ⌈βI⌉ item latents from Stage II's generators (joint ablation: the user
   halves of U' tuples and the item halves of I' further tuples).
2. Candidates: each synthetic user's C = ⌈I'·ρ·γ⌉ most cosine-similar synthetic items (faiss; exact
   up to `exact_search_max_items`, IVF above), ρ being the real training density.
3. Existence g ~ Bernoulli(p) on the candidates, p from Stage I's calibrated gate; where g = 1 a rating
   is drawn from the categorical decoder (continuous ablation: the regression output snapped to the
   nearest vocabulary value). `gating_off`: every candidate becomes an interaction.

Candidate correction. Restricting the gate to C candidates drops the probability it puts on every
other pair (about a quarter of it on ml-100k), which would shrink the density and flatten degrees.
So the candidate probabilities are σ(ℓ + b_u + c_i), with per-user and per-item offsets fitted by
iterative proportional fitting so that every synthetic entity's expected degree equals the model's
own estimate of it:
- a user's: I'·σ(a(z_u) + δ), the activity head's interaction rate (Stage I fits a(z_u) to each real
  user's rate k_u / I). δ is one scalar solving mean_u σ(a(z_u) + δ) = ρ over the real training users:
  the condition the head's bias meets at the optimum of its cross-entropy, which minibatch training
  with early stopping leaves up to 8% off (ml-100k seed 3: mean rate 0.0673 against ρ = 0.0624), an
  error that passed straight into the synthetic density. It is fitted on real latents only. Summing
  the calibrated gate over all I' items instead gives the same in theory, but not in practice: on
  ml-100k (seed 2) its spread over synthetic users missed the real degree distribution by KS 0.144
  and its total the real density by −16%, against 0.075 and −1% for the rate head, because the gate
  is fitted to rank items within a user, not to count them;
- an item's: its expected degree under the gate over all U' users, computed exactly in one dense
  pass over all pairs (blocks of users against every item, faster on a CPU than gathering only the
  candidates), rescaled to the users' total.
These are the model's marginals, not counts taken from the real data, and nothing is trimmed or
padded afterwards: the number of interactions is a random outcome of the Bernoulli draws.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from scipy import optimize, special

from spade_core import candidates, stage1, stage2, synthetic
from spade_core.data import Interactions, Prepared, load_prepared
from spade_core.nn import stage_key

log = logging.getLogger(__name__)
PAIR_CHUNK = 1 << 20  # pairs scored per jitted call: bounds memory at ~0.5 GB for 128 hidden units
DENSE_BLOCK = 16  # users per step of the dense pass: small blocks stay in cache (measured fastest)
IPF_ITERATIONS = 30


def candidate_count(n_items: int, density: float, gamma: float) -> int:
    """C = ⌈I'·ρ·γ⌉, at most I'."""
    return min(n_items, math.ceil(round(n_items * density * gamma, 9)))


def sample_latents(gens: dict, n_users: int, n_items: int, key: jax.Array) -> tuple[np.ndarray, np.ndarray]:
    k_users, k_items = jax.random.split(key)
    if "joint" in gens:
        d = gens["joint"].generator.spec.dim // 2
        return gens["joint"].sample(n_users, k_users)[:, :d], gens["joint"].sample(n_items, k_items)[:, d:]
    return gens["users"].sample(n_users, k_users), gens["items"].sample(n_items, k_items)


class Scorer:
    """Scores pairs of synthetic entities with the Stage I model, in fixed-size jitted row blocks.

    Pairs are given as rows: `users` (n,) with `items` either (n, k) (k items per user) or (k,) (the
    same k items for every user). Per-entity tables are gathered once per row or column, not per pair.
    """

    def __init__(self, model: stage1.Representation, arch: stage1.Architecture, zu: np.ndarray, zi: np.ndarray):
        self.arch = arch
        graphdef, state = nnx.split(model)
        self.tables = stage1.entity_tables(model, jnp.asarray(zu), jnp.asarray(zi), arch.n_neg)

        @jax.jit
        def gate(state, tables, u, i):
            return stage1.table_gate_logits(nnx.merge(graphdef, state), tables, u, i)

        @jax.jit
        def ratings(state, tables, u, i, key):
            out = stage1.table_rating_outputs(nnx.merge(graphdef, state), tables, u, i)  # (rows, k, n_out)
            # ratings_from_outputs reads one row per pair: on (rows, k, n_out) the continuous decoder's
            # nearest-value search ran over the wrong axis and returned the lowest rating for every pair.
            flat = stage1.ratings_from_outputs(out.reshape(-1, out.shape[-1]), arch, key)
            return flat.reshape(out.shape[:-1])

        @jax.jit
        def dense(state, tables, cand):
            """Per block of users: exact gate row sums, candidate logits; column sums over all blocks."""
            model = nnx.merge(graphdef, state)
            n_users, n_items = tables["offset"].shape[0], tables["gate_i"].shape[0]
            items = jnp.arange(n_items)[None, :]

            def block(col_sum, rows):
                logits = stage1.table_gate_logits(model, tables, jnp.minimum(rows, n_users - 1)[:, None], items)
                p = jnp.where((rows < n_users)[:, None], jax.nn.sigmoid(logits), 0.0)
                picked = jnp.take_along_axis(logits, cand[jnp.minimum(rows, n_users - 1)], axis=1)
                return col_sum + p.sum(0), (p.sum(1), picked)

            n_blocks = -(-n_users // DENSE_BLOCK)
            rows = jnp.arange(n_blocks * DENSE_BLOCK).reshape(n_blocks, DENSE_BLOCK)
            col_sum, (row_sum, picked) = jax.lax.scan(block, jnp.zeros(n_items), rows)
            return row_sum.ravel()[:n_users], col_sum, picked.reshape(-1, cand.shape[1])[:n_users]

        self._gate, self._ratings, self._dense, self._state = gate, ratings, dense, state

    def dense_pass(self, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(expected degree of every user and item under the gate over all pairs, candidate logits)."""
        users, items, logits = self._dense(self._state, self.tables, jnp.asarray(np.maximum(cand, 0)))
        return np.asarray(users, np.float64), np.asarray(items, np.float64), np.asarray(logits)

    def user_rates(self, shift: float = 0.0) -> np.ndarray:
        """σ(a(z_u) + shift) of every user: the activity head's interaction rate (the offset minus log n_neg)."""
        logits = np.asarray(self.tables["offset"] - jnp.log(self.arch.n_neg), np.float64)
        return special.expit(logits + shift)

    def _rows(self, fn, users, items, *keys):
        users, items = np.asarray(users), np.asarray(items)
        shared = items.ndim == 1
        blocks = -(-len(users) * items.shape[-1] // PAIR_CHUNK)
        block = -(-len(users) // max(blocks, 1))  # equal blocks: little padding
        out = []
        for start in range(0, len(users), block):
            u = users[start : start + block]
            i = items if shared else items[start : start + block]
            pad = block - len(u) if len(users) > block else 0  # one compiled shape per call site
            u = np.pad(u, (0, pad))[:, None]
            i = i[None, :] if shared else np.pad(i, ((0, pad), (0, 0)))
            args = [jax.random.fold_in(key, start) for key in keys]
            out.append(np.asarray(fn(self._state, self.tables, u, i, *args))[: block - pad])
        return np.concatenate(out)

    def gate_logits(self, users, items) -> np.ndarray:
        """Calibrated gate logits, shape (len(users), k)."""
        return self._rows(self._gate, users, items)

    def rating_indices(self, users, items, key: jax.Array) -> np.ndarray:
        """Vocabulary indices for the pairs (users[j], items[j])."""
        users, items = np.asarray(users), np.asarray(items)
        if len(users) == 0:
            return np.zeros(0, dtype=np.int64)
        return self._rows(self._ratings, users, items[:, None], key)[:, 0].astype(np.int64)


@jax.jit
def _ipf(logits, cand, valid, row_target, col_target):
    """Offsets b (rows) and c (items) with Σ_j σ(ℓ_uj + b_u + c_j) = row_target and the item sums =
    col_target, by alternating Newton steps (rows last, so the user degrees hold exactly)."""
    n_items = col_target.shape[0]
    flat_items = jnp.where(valid, cand, 0).ravel()

    def probs(b, c):
        return jnp.where(valid, jax.nn.sigmoid(logits + b[:, None] + c[cand]), 0.0)

    def row_step(b, c):
        p = probs(b, c)
        return b - (p.sum(1) - row_target) / jnp.maximum((p * (1 - p)).sum(1), 1e-6)

    def col_step(b, c):
        p = probs(b, c)
        total = jax.ops.segment_sum(p.ravel(), flat_items, n_items)
        slope = jax.ops.segment_sum((p * (1 - p)).ravel(), flat_items, n_items)
        return c - jnp.where(slope > 1e-6, (total - col_target) / jnp.maximum(slope, 1e-6), 0.0)

    def body(_, bc):
        b, c = bc
        b = row_step(b, c)
        return b, col_step(b, c)

    b, c = jax.lax.fori_loop(0, IPF_ITERATIONS, body, (jnp.zeros(logits.shape[0]), jnp.zeros(n_items)))
    b = row_step(b, c)
    return b, c, probs(b, c)


def activity_shift(model: stage1.Representation, real_zu: np.ndarray, density: float) -> float:
    """The δ with mean_u σ(a(z_u) + δ) = `density` over the real users' latents (see module doc)."""
    if not 0 < density < 1:
        raise ValueError(f"training density must lie in (0, 1), got {density}")
    logits = np.asarray(stage1.activity_logits(model, jnp.asarray(real_zu)), np.float64)
    gap = lambda d: np.mean(special.expit(logits + d)) - density  # noqa: E731 (increasing in d)
    lo, hi = -1.0, 1.0
    while gap(lo) > 0:
        lo *= 2
    while gap(hi) < 0:
        hi *= 2
    return float(optimize.brentq(gap, lo, hi, xtol=1e-12))


def corrected_probabilities(scorer: Scorer, cand: np.ndarray, n_items: int,
                            rate_shift: float = 0.0) -> tuple[np.ndarray, dict]:
    """Candidate probabilities after the correction described in the module doc, and its figures;
    `rate_shift` is δ from `activity_shift`."""
    valid = cand >= 0
    users, items, logits = scorer.dense_pass(cand)
    p0 = np.where(valid, special.expit(logits), 0.0)
    rates = scorer.user_rates(rate_shift)
    # A user cannot exceed its C candidates, nor an item the users that have it as a candidate.
    row_target = np.minimum(n_items * rates, 0.98 * valid.sum(1))
    col_target = np.minimum(items, 0.98 * np.bincount(cand[valid], minlength=n_items))
    col_target *= row_target.sum() / max(col_target.sum(), 1e-12)  # one total for both margins
    b, c, p = _ipf(jnp.asarray(np.where(valid, logits, 0), jnp.float32), jnp.asarray(np.maximum(cand, 0)),
                   jnp.asarray(valid), jnp.asarray(row_target, jnp.float32), jnp.asarray(col_target, jnp.float32))
    p = np.asarray(p)
    figures = {
        "rate_shift": rate_shift,
        "rate_head_expected_interactions": float(n_items * rates.sum()),
        "full_gate_expected_interactions": float(users.sum()),
        "candidate_mass_fraction": float(p0.sum() / users.sum()),
        "expected_interactions": float(p.sum()),
        "item_margin_error": float(np.abs(np.bincount(cand[valid], p[valid], n_items) - col_target).sum() / p.sum()),
        "user_offset_range": [float(np.min(b)), float(np.max(b))],
        "item_offset_range": [float(np.min(c)), float(np.max(c))],
    }
    return p, figures


def synthesize(real: Prepared, model, arch, gens: dict, real_latents: tuple, cfg: dict, seed: int):
    """The synthetic dataset and its report (see module doc)."""
    timings, start = {}, time.perf_counter()
    n_users, n_items = synthetic.target_size(real.n_users, real.n_items, cfg["alpha"], cfg["beta"])
    key = stage_key(seed, "stage3")
    zu, zi = sample_latents(gens, n_users, n_items, jax.random.fold_in(key, 0))
    c = candidate_count(n_items, real.density, cfg["gamma"])
    exact = n_items <= cfg["exact_search_max_items"]
    timings["sample_latents"] = time.perf_counter() - start

    t = time.perf_counter()
    cand = candidates.top_c(zu, zi, c, exact=exact, seed=seed)
    timings["candidate_search"] = time.perf_counter() - t
    rng = np.random.default_rng([seed, 3])
    report = {"candidates_per_user": c, "exact_search": exact, "gating": cfg["gating"]}
    valid = cand >= 0
    t = time.perf_counter()
    scorer = Scorer(model, arch, zu, zi)
    if cfg["gating"]:
        shift = activity_shift(model, real_latents[0], real.density)
        p, figures = corrected_probabilities(scorer, cand, n_items, shift)
        report.update(figures)
        keep = valid & (rng.random(cand.shape, dtype=np.float32) < p)
    else:
        keep = valid
    timings["gate"] = time.perf_counter() - t
    users, items = np.nonzero(keep)[0].astype(np.int32), cand[keep]
    t = time.perf_counter()
    index = scorer.rating_indices(users, items, jax.random.fold_in(key, 1))
    timings["ratings"] = time.perf_counter() - t
    ratings = np.asarray(arch.vocab)[index]
    latents = {"synthetic_users": zu, "synthetic_items": zi, "real_users": real_latents[0], "real_items": real_latents[1]}
    syn = synthetic.Synthetic(Interactions(users, items, ratings), n_users, n_items, latents)
    timings["total"] = time.perf_counter() - start
    return syn, {**report, "seconds": timings}


def run(spec: dict, inputs: dict, outdir: Path) -> None:
    cfg = spec["config"]
    real = load_prepared(inputs["prepare"])
    model, arch = stage1.load(inputs["stage1"])
    gens = stage2.load(inputs["stage2"])
    real_latents = (np.load(inputs["stage1"] / "user_latents.npy"), np.load(inputs["stage1"] / "item_latents.npy"))
    syn, report = synthesize(real, model, arch, gens, real_latents, cfg, cfg["seed"])
    doc = synthetic.write(syn, outdir, real, cfg["alpha"], cfg["beta"], {"synthesis": report})
    log.info("%d x %d synthetic, %d interactions, density %.4f (real %.4f, ratio %.3f), C = %d, %.2f s",
             doc["users"], doc["items"], doc["interactions"], doc["density"], real.density, doc["density_ratio"],
             report["candidates_per_user"], report["seconds"]["total"])
