import numpy as np
import pytest

from spade_core.sampling import NegativeSampler, epoch_rng


def toy():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(30), 12)
    items = np.concatenate([rng.choice(40, 12, replace=False) for _ in range(30)])
    return users, items


def test_negatives_are_never_training_items():
    users, items = toy()
    sampler = NegativeSampler(users, items, 30, 40)
    neg = sampler.sample(users, 5, epoch_rng(0, 0))
    assert neg.shape == (len(users), 5) and neg.dtype == np.int32
    train = set(zip(users.tolist(), items.tolist()))
    assert not any((u, i) in train for u, row in zip(users.tolist(), neg.tolist()) for i in row)


def test_negatives_are_uniform_over_non_training_items():
    users = np.zeros(3, dtype=int)
    items = np.array([0, 1, 2])  # user 0 has items 0-2 of 10
    sampler = NegativeSampler(users, items, 1, 10)
    draws = sampler.sample(np.zeros(70_000, dtype=int), 1, epoch_rng(1, 0)).ravel()
    counts = np.bincount(draws, minlength=10)
    assert counts[:3].sum() == 0
    assert np.abs(counts[3:] / 70_000 - 1 / 7).max() < 0.01  # ±0.01 is ~7 standard errors


def test_same_key_same_draws_new_epoch_new_draws():
    users, items = toy()
    sampler = NegativeSampler(users, items, 30, 40)
    a = sampler.sample(users, 5, epoch_rng(7, 3))
    assert np.array_equal(a, sampler.sample(users, 5, epoch_rng(7, 3)))
    assert not np.array_equal(a, sampler.sample(users, 5, epoch_rng(7, 4)))


def test_a_user_with_every_item_is_refused():
    with pytest.raises(ValueError, match="user 0 has interacted with every item"):
        NegativeSampler(np.array([0, 0]), np.array([0, 1]), 1, 2)
