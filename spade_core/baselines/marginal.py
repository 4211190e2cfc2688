"""Baseline generator: marginal — the real degree distributions and rating histogram, nothing else.

Degrees. The U' synthetic users' degrees are a bootstrap resample of the real training user degrees,
scaled by I'/I (so a user interacts with the same share of the catalogue, which is what the
normalised-degree KS compares); the I' items' target degrees likewise, scaled by U'/U. Both are then
reconciled to exactly `target_interactions` (the real density ρ at U' x I'): user degrees by
proportional scaling and largest-remainder rounding, item targets by proportional scaling; both
capped at the other side's size.

Wiring (a degree-constrained Chung–Lu draw without duplicates). Each user u takes exactly d_u distinct
items: the d_u largest keys log y_i + L_ui, with L_ui standard logistic noise. Taking the keys above a
threshold τ_u instead would select item i independently with probability σ(log y_i − τ_u) =
x_u y_i / (1 + x_u y_i) (x_u = e^-τ_u), the bipartite fitness model, which unlike Chung–Lu's
d_u t_i / T never exceeds 1 for a popular item of an active user. The item fitnesses y are fitted
so that this model's expected item degrees equal the targets (and its expected user degrees the d_u);
taking the top d_u keys instead of a threshold is the same model conditioned on the exact user degree.
So user degrees are exact, item degrees match their targets in expectation, the total is exactly the
target, and no pair repeats by construction. Ratings are drawn independently of the pairs from the
real training rating histogram. No latent space.
"""

from __future__ import annotations

import numpy as np

from spade_core.baselines import runner, target_interactions
from spade_core.data import Interactions, Prepared
from spade_core.sampling import epoch_rng
from spade_core.synthetic import Synthetic

FIT_ITERATIONS = 1000  # fixed-point sweeps on the (distinct user degree x distinct item target) grid
FIT_TOLERANCE = 1e-6  # relative error of the expected degrees at which the fit stops
CHUNK_CELLS = 1 << 22  # user rows wired at once, as a number of (user, item) cells: bounds memory


def capped_shares(values: np.ndarray, total: float, cap: float) -> np.ndarray:
    """Non-negative floats proportional to `values`, none above `cap`, summing to `total`: what a
    capped entry cannot take is shared among the uncapped ones in proportion."""
    if total > cap * np.count_nonzero(values):
        raise ValueError(f"{total} interactions do not fit under a cap of {cap} per entity")
    x = values * (total / values.sum())
    while (over := x > cap).any():
        x[over] = cap
        free = x < cap
        x[free] *= (total - x[~free].sum()) / x[free].sum()
    return x


def integer_shares(values: np.ndarray, total: int, cap: int) -> np.ndarray:
    """capped_shares rounded to integers that still sum to `total` (largest remainder)."""
    x = capped_shares(values.astype(np.float64), total, cap)
    base = np.floor(x).astype(np.int64)
    order = np.argsort(base - x, kind="stable")  # largest fractional part first
    base[order[: total - base.sum()]] += 1
    return base


def fit_fitness(user_degree: np.ndarray, item_target: np.ndarray) -> np.ndarray:
    """log y per item such that p_ui = σ(log x_u + log y_i) has row sums d_u and column sums t_i.

    Solved by the alternating fixed point x_u = d_u / Σ_i y_i / (1 + x_u y_i) (and its mirror) on the
    grid of distinct values weighted by their counts, which is tiny next to U' x I'. Entities of
    degree 0 get log 0 = -inf, so they are never selected.
    """
    du, cu = np.unique(user_degree[user_degree > 0], return_counts=True)
    ti, inverse, ci = np.unique(item_target, return_inverse=True, return_counts=True)
    positive = ti > 0
    ti, ci = ti[positive], ci[positive]
    x, y = du / np.sqrt(du.sum()), ti / np.sqrt(ti.sum())  # Chung–Lu as the starting point
    for _ in range(FIT_ITERATIONS):
        odds = x[:, None] * y[None, :]
        p = odds / (1 + odds)
        rows, cols = p @ ci, cu @ p
        if max(np.abs(rows / du - 1).max(), np.abs(cols / ti - 1).max()) < FIT_TOLERANCE:
            break
        x = du / ((y[None, :] / (1 + odds)) @ ci)
        y = ti / (cu @ (x[:, None] / (1 + x[:, None] * y[None, :])))
    log_y = np.full(len(positive), -np.inf)
    log_y[positive] = np.log(y)
    return log_y[inverse]


def wire(rng: np.random.Generator, user_degree: np.ndarray, log_fitness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(users, items): user u paired with the user_degree[u] items of largest log y_i + logistic noise."""
    n_items = len(log_fitness)
    users, items = [], []
    step = max(1, CHUNK_CELLS // n_items)
    for start in range(0, len(user_degree), step):
        degree = user_degree[start : start + step]
        keys = log_fitness[None, :] + rng.logistic(size=(len(degree), n_items))
        ranked = np.argsort(-keys, axis=1, kind="stable")
        items.append(ranked[np.arange(n_items)[None, :] < degree[:, None]])  # row-major: user by user
        users.append(np.repeat(np.arange(start, start + len(degree)), degree))
    return np.concatenate(users), np.concatenate(items)


def generate(real: Prepared, n_users: int, n_items: int, cfg: dict, seed: int) -> Synthetic:
    """U' x I' entities with resampled real degree distributions, exactly target_interactions distinct
    pairs, ratings drawn from the real training rating histogram."""
    rng = epoch_rng(seed, 0)
    n = target_interactions(real, n_users, n_items)
    real_user = np.bincount(real.train.user, minlength=real.n_users)
    real_item = np.bincount(real.train.item, minlength=real.n_items)
    user_degree = integer_shares(rng.choice(real_user, n_users) * (n_items / real.n_items), n, n_items)
    item_target = capped_shares(rng.choice(real_item, n_items) * (n_users / real.n_users), n, n_users)
    users, items = wire(rng, user_degree, fit_fitness(user_degree, item_target))
    counts = np.array([np.sum(real.train.rating == v) for v in real.vocab], dtype=np.float64)
    ratings = rng.choice(real.vocab, size=n, p=counts / counts.sum())
    return Synthetic(Interactions(users, items, ratings), n_users, n_items, latents=None)


run = runner(generate)
