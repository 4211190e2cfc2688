import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spade_core import config, parsing
from spade_core.data import load_prepared
from spade_core.parsing import DataError
from spade_core.prepare import TEST, TRAIN, VAL, kcore, prepare, resolve_duplicates, split_labels, write

DATA = config.load({})["data"]


def frame(rows):
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]).astype(
        {"rating": np.float64, "timestamp": np.int64}
    )


def test_duplicates_keep_latest_first_or_refuse():
    df = frame([(1, 1, 5, 30), (1, 1, 2, 10), (1, 2, 4, 5), (1, 1, 3, 30)])
    # latest timestamp wins; among equal timestamps, the later row; output keeps file order
    assert resolve_duplicates(df, "last")["rating"].tolist() == [4.0, 3.0]
    assert sorted(resolve_duplicates(df, "first")["rating"].tolist()) == [2.0, 4.0]
    with pytest.raises(DataError, match="repeat a \\(user, item\\) pair"):
        resolve_duplicates(df, "error")


interactions = st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), min_size=1, max_size=300)


@settings(max_examples=60, deadline=None)
@given(interactions, st.integers(1, 4), st.integers(1, 4))
def test_kcore_survivors_are_a_fixed_point(pairs, min_user, min_item):
    users, items = (np.array(x) for x in zip(*pairs))
    keep = kcore(users, items, min_user, min_item)
    u, i = users[keep], items[keep]
    if keep.any():  # every survivor meets both thresholds...
        assert np.bincount(u)[u].min() >= min_user and np.bincount(i)[i].min() >= min_item
        assert kcore(u, i, min_user, min_item).all()  # ...so filtering them again removes nothing


def test_kcore_iterates_to_a_fixed_point():
    # Item 5 has one user; dropping it leaves user 2 with one item, so user 2 goes in a second pass.
    users = np.array([0, 0, 1, 1, 2, 2])
    items = np.array([0, 1, 0, 1, 0, 5])
    keep = kcore(users, items, 2, 2)
    assert keep.tolist() == [True, True, True, True, False, False]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(30, 400))
def test_split_is_disjoint_user_safe_and_item_safe(seed, n):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 20, n)
    items = rng.integers(0, 50, n)
    labels = split_labels(users, items, 0.1, 0.1, seed)
    assert set(np.unique(labels)) <= {TRAIN, VAL, TEST}
    train = labels == TRAIN
    assert set(users) == set(users[train])  # every user keeps training rows
    assert set(items[~train]) <= set(items[train])  # no held-out item unseen in training
    assert np.array_equal(labels, split_labels(users, items, 0.1, 0.1, seed))  # deterministic


def test_split_fractions_per_user():
    users = np.repeat(np.arange(50), 20)
    items = np.tile(np.arange(20), 50)
    labels = split_labels(users, items, 0.1, 0.2, seed=3)
    per_user = np.array([np.bincount(labels[users == u], minlength=3) for u in range(50)])
    assert (per_user == [14, 2, 4]).all()


def test_empty_after_kcore_is_an_error():
    df = frame([(1, 1, 5, 1), (2, 2, 4, 2)])
    with pytest.raises(DataError, match="no interactions survive the 5/5 k-core"):
        prepare(df, DATA, seed=0)


@pytest.fixture(scope="module")
def ml100k(mirror):
    return parsing.read_ml100k(mirror / "ml-100k" / "u.data")


def test_ml100k_five_core_counts_and_split(ml100k, tmp_path):
    out = prepare(ml100k, DATA, seed=0)
    stats = out["stats"]
    assert (stats["users"], stats["items"], stats["interactions"]) == (943, 1349, 99287)
    write(out, tmp_path)
    ds = load_prepared(tmp_path)
    assert len(ds.train) + len(ds.val) + len(ds.test) == 99287
    pairs = [set(zip(s.user.tolist(), s.item.tolist())) for s in (ds.train, ds.val, ds.test)]
    assert not (pairs[0] & pairs[1] or pairs[0] & pairs[2] or pairs[1] & pairs[2])
    assert set(np.unique(ds.train.user)) == set(range(943))
    assert set(np.unique(ds.test.item)) <= set(np.unique(ds.train.item))
    assert ds.vocab.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert abs(ds.density - stats["train_density"]) < 1e-12
    assert ds.train.user.dtype == np.int32


def test_different_seeds_give_different_splits(ml100k):
    a = prepare(ml100k, DATA, seed=0)["splits"]["test"]
    b = prepare(ml100k, DATA, seed=1)["splits"]["test"]
    assert set(zip(a.user, a.item)) != set(zip(b.user, b.item))
