"""The recommenders behind reference spaces and TS-TR: known answers on tiny matrices, real training."""

import numpy as np
import pytest

from spade_core import recommenders
from spade_core.data import Interactions

FAST = {"dim": 8, "epochs": 25, "lr": 2e-2, "l2": 1e-4, "n_neg": 4, "batch_size": 256}


def pairs(matrix: np.ndarray) -> Interactions:
    u, i = np.nonzero(matrix)
    return Interactions(u, i, np.ones(len(u)))


def blocks(n_users=40, n_items=30, seed=0):
    """Two communities: users 0..19 take items 0..14, users 20..39 items 15..29, each user all but one
    held-out item of its block."""
    rng = np.random.default_rng(seed)
    full = np.zeros((n_users, n_items), dtype=bool)
    full[: n_users // 2, : n_items // 2] = full[n_users // 2 :, n_items // 2 :] = True
    held = np.array([rng.choice(np.flatnonzero(row)) for row in full])
    train = full.copy()
    train[np.arange(n_users), held] = False
    return pairs(train), Interactions(np.arange(n_users), held, np.ones(n_users))


def test_popularity_scores_are_training_counts():
    train = pairs(np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1]]))
    rec = recommenders.fit("popularity", train, 3, 3, {}, seed=0)
    assert np.array_equal(rec.scores(np.array([0, 2])), [[3, 1, 1], [3, 1, 1]])


def test_itemknn_similarity_known_answer():
    x = recommenders.interaction_matrix(pairs(np.array([[1, 1, 0], [1, 1, 1], [0, 0, 1]])), 3, 3)
    w = recommenders.item_similarity(x, neighbors=1).toarray()
    # cos(0, 1) = 1, cos(0, 2) = cos(1, 2) = 1/2; each item keeps its single most similar item.
    assert np.allclose(w, [[0, 1, 0.5], [1, 0, 0], [0, 0, 0]])


def test_itemknn_matches_brute_force_cosine():
    rng = np.random.default_rng(1)
    m = rng.random((25, 12)) < 0.3
    x = recommenders.interaction_matrix(pairs(m), 25, 12)
    w = recommenders.item_similarity(x, neighbors=12).toarray()
    norm = np.sqrt(m.sum(0))
    cos = (m.T.astype(float) @ m) / np.maximum(np.outer(norm, norm), 1e-12)
    np.fill_diagonal(cos, 0)
    assert np.allclose(w, cos, atol=1e-6)


@pytest.mark.parametrize("name", ["mf", "bpr", "ncf", "itemknn"])
def test_models_recover_held_out_items_of_planted_communities(name):
    train, test = blocks()
    rec = recommenders.fit(name, train, 40, 30, FAST, seed=0)
    metrics = recommenders.evaluate(rec, train, test, 40, 30, [1, 5])
    # Only one unseen item per user sits in its own block: a model that learned the blocks ranks it
    # first; popularity (all items tie) scores about 1/16.
    assert metrics["recall@1"] > 0.9
    if name != "itemknn":
        assert rec.report["losses"][-1] < rec.report["losses"][0]
        assert rec.user_factors.shape[0] == 40 and rec.item_factors.shape[0] == 30


@pytest.mark.parametrize("name", ["mf", "bpr", "ncf"])
def test_fits_are_deterministic(name):
    train, _ = blocks()
    a = recommenders.fit(name, train, 40, 30, {**FAST, "epochs": 3}, seed=0)
    b = recommenders.fit(name, train, 40, 30, {**FAST, "epochs": 3}, seed=0)
    c = recommenders.fit(name, train, 40, 30, {**FAST, "epochs": 3}, seed=1)
    assert np.array_equal(a.scores(np.arange(40)), b.scores(np.arange(40)))
    assert not np.array_equal(a.scores(np.arange(40)), c.scores(np.arange(40)))


def test_ncf_embeddings_hold_both_branches():
    train, _ = blocks()
    rec = recommenders.fit("ncf", train, 40, 30, {**FAST, "epochs": 1}, seed=0)
    assert rec.user_factors.shape == (40, 16) and rec.item_factors.shape == (30, 16)


def test_evaluate_excludes_training_items_and_skips_users_without_test_items():
    train = pairs(np.array([[1, 0, 0], [0, 1, 0]]))
    test = Interactions(np.array([0]), np.array([1]), np.array([1.0]))
    rec = recommenders.fit("popularity", train, 2, 3, {}, seed=0)
    # User 0's training item 0 is excluded, so item 1 (popular, lower index than 2) comes first.
    metrics = recommenders.evaluate(rec, train, test, 2, 3, [1])
    assert metrics == pytest.approx({"recall@1": 1.0, "ndcg@1": 1.0, "map@1": 1.0, "n_users_evaluated": 1})


def test_bad_input_fails_clearly():
    train, _ = blocks()
    with pytest.raises(ValueError, match="unknown recommender 'svd'"):
        recommenders.fit("svd", train, 40, 30, {}, seed=0)
    with pytest.raises(ValueError, match=r"unknown recommender settings \['dims'\]"):
        recommenders.fit("mf", train, 40, 30, {"dims": 8}, seed=0)
    with pytest.raises(ValueError, match="no training interactions"):
        recommenders.fit("mf", Interactions([], [], []), 40, 30, FAST, seed=0)
    with pytest.raises(ValueError, match="has no interactions"):
        recommenders.evaluate(recommenders.fit("popularity", train, 40, 30, {}, 0), train,
                              Interactions([], [], []), 40, 30, [10])
