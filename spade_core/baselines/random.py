"""Baseline generator: random.

Exactly `target_interactions(real, U', I')` distinct (user, item) pairs drawn uniformly from the
U' x I' grid (a uniformly random subset of cells), so the density is the real training density ρ up
to the rounding of one interaction; each rating uniform over the real rating vocabulary. No structure
and no latent space: the floor every other generator has to beat.
"""

from __future__ import annotations

import numpy as np

from spade_core.baselines import runner, target_interactions
from spade_core.data import Interactions, Prepared
from spade_core.sampling import epoch_rng
from spade_core.synthetic import Synthetic


def distinct_cells(rng: np.random.Generator, population: int, n: int) -> np.ndarray:
    """A uniformly random n-subset of range(population), in random order.

    Draws with replacement and tops up what collisions removed: memory stays O(n), where
    rng.choice(replace=False) would permute the whole grid (U' x I' can be ~10^8 cells).
    """
    if n > population:
        raise ValueError(f"cannot draw {n} distinct cells from {population}")
    cells = np.empty(0, dtype=np.int64)
    while len(cells) < n:
        missing = n - len(cells)
        cells = np.union1d(cells, rng.integers(0, population, size=missing + missing // 8 + 16))
    return cells[rng.permutation(len(cells))[:n]]  # a uniform subset of a uniform subset is uniform


def generate(real: Prepared, n_users: int, n_items: int, cfg: dict, seed: int) -> Synthetic:
    """U' x I' entities, target_interactions distinct uniform pairs, uniform vocabulary ratings."""
    rng = epoch_rng(seed, 0)
    n = target_interactions(real, n_users, n_items)
    users, items = np.divmod(distinct_cells(rng, n_users * n_items, n), n_items)
    ratings = rng.choice(real.vocab, size=n)
    return Synthetic(Interactions(users, items, ratings), n_users, n_items, latents=None)


run = runner(generate)
