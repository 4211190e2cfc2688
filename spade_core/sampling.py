"""Negative sampling for implicit-feedback objectives.

`NegativeSampler` draws, for each given user, items uniformly from that user's *non-training* items
(vectorised rejection sampling against a sorted key array). Draws are deterministic for a given
generator state; `epoch_rng(seed, epoch)` gives each epoch its own independent stream, so negatives
are redrawn every epoch and a rerun reproduces them exactly.
"""

from __future__ import annotations

import numpy as np


def epoch_rng(seed: int, epoch: int, stream: int = 0) -> np.random.Generator:
    """An independent generator for (seed, epoch, stream)."""
    return np.random.default_rng([seed, epoch, stream])


class NegativeSampler:
    def __init__(self, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int):
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        self.n_items = n_items
        self._keys = np.unique(users * n_items + items)
        degree = np.bincount(users, minlength=n_users)
        full = np.flatnonzero(degree >= n_items)
        if len(full):
            raise ValueError(f"user {int(full[0])} has interacted with every item, so it has no negatives to sample")

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Whether each (user, item) pair is a training interaction."""
        keys = np.asarray(users, dtype=np.int64) * self.n_items + np.asarray(items, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        return self._keys[pos] == keys

    def sample(self, users: np.ndarray, n_neg: int, rng: np.random.Generator) -> np.ndarray:
        """(len(users), n_neg) int32 items, each uniform over its user's non-training items."""
        users = np.asarray(users)
        out = rng.integers(0, self.n_items, size=(len(users), n_neg))
        owner = np.broadcast_to(users[:, None], out.shape)
        bad = np.flatnonzero(self.contains(owner, out))
        while len(bad):
            flat = out.reshape(-1)
            flat[bad] = rng.integers(0, self.n_items, size=len(bad))
            bad = bad[self.contains(owner.reshape(-1)[bad], flat[bad])]
        return out.astype(np.int32)
