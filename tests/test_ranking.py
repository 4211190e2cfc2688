import ir_measures
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spade_core import ranking
from spade_core.ranking import ranking_metrics, top_k


def _reference_top_k(scores, exclude, k):
    """Brute force: full stable sort on -score, excluded items dropped."""
    out = []
    for u, row in enumerate(scores):
        order = np.argsort(-row, kind="stable")
        banned = set(exclude[u].nonzero()[1]) if exclude is not None else set()
        keep = [i for i in order if i not in banned][:k]
        out.append(keep + [-1] * (k - len(keep)))
    return np.array(out)


# ---------------------------------------------------------------- top_k


def test_top_k_known_answer():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [4.0, 3.0, 2.0, 1.0]])
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 0]]))
    np.testing.assert_array_equal(top_k(scores, exclude, 2), [[3, 2], [0, 1]])
    np.testing.assert_array_equal(top_k(scores, None, 2), [[1, 3], [0, 1]])


def test_top_k_ties_broken_by_lower_index():
    scores = np.array([[1.0, 2.0, 2.0, 1.0, 2.0]])
    np.testing.assert_array_equal(top_k(scores, None, 5), [[1, 2, 4, 0, 3]])
    # The tie straddles the cut-off: the lowest-index tied items win.
    np.testing.assert_array_equal(top_k(scores, None, 2), [[1, 2]])
    np.testing.assert_array_equal(top_k(np.zeros((1, 6)), None, 3), [[0, 1, 2]])


def test_top_k_pads_when_too_few_eligible_items():
    scores = np.array([[0.3, 0.2, 0.1]])
    exclude = sp.csr_matrix(np.array([[1, 0, 1]]))
    np.testing.assert_array_equal(top_k(scores, exclude, 3), [[1, -1, -1]])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 7).flatmap(
        lambda n_items: st.tuples(
            # Small integer scores: plenty of ties.
            arrays(np.float64, st.tuples(st.integers(1, 6), st.just(n_items)), elements=st.integers(-2, 2).map(float)),
            st.integers(1, n_items),
            st.randoms(use_true_random=False),
        )
    )
)
def test_top_k_matches_brute_force(case):
    scores, k, rnd = case
    mask = np.array([[rnd.random() < 0.3 for _ in row] for row in scores], dtype=np.int8)
    exclude = sp.csr_matrix(mask)
    got = top_k(scores, exclude, k)
    np.testing.assert_array_equal(got, _reference_top_k(scores, exclude, k))
    for u in range(len(scores)):
        assert not set(got[u]) & set(np.flatnonzero(mask[u]))


def test_top_k_chunking_gives_same_answer(monkeypatch):
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(37, 20)).astype(np.float32)
    exclude = sp.csr_matrix(rng.random((37, 20)) < 0.2)
    whole = top_k(scores, exclude, 6)
    monkeypatch.setattr(ranking, "CHUNK_ROWS", 5)
    np.testing.assert_array_equal(top_k(scores, exclude, 6), whole)
    np.testing.assert_array_equal(whole, _reference_top_k(scores, exclude, 6))


def test_top_k_bad_input():
    with pytest.raises(ValueError, match="k must be"):
        top_k(np.zeros((2, 3)), None, 4)
    with pytest.raises(ValueError, match="k must be"):
        top_k(np.zeros((2, 3)), None, 0)
    with pytest.raises(ValueError, match="exclude shape"):
        top_k(np.zeros((2, 3)), sp.csr_matrix((2, 4)), 1)
    with pytest.raises(ValueError, match="non-empty 2-D"):
        top_k(np.zeros((0, 3)), None, 1)
    with pytest.raises(ValueError, match="finite"):
        top_k(np.array([[0.0, np.nan]]), None, 1)


# ---------------------------------------------------------- ranking_metrics


def test_ranking_metrics_known_answer():
    # User 0: relevant {1, 3}, ranked [1, 2, 3] -> hits at ranks 1 and 3.
    # User 1: relevant {0}, ranked [2, 1, 0]   -> hit at rank 3.
    # User 2: no relevant items -> skipped.
    topk = np.array([[1, 2, 3], [2, 1, 0], [0, 1, 2]])
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]]))
    m = ranking_metrics(topk, relevant, [1, 3])
    assert m["n_users_evaluated"] == 2
    assert m["recall@1"] == pytest.approx((0.5 + 0.0) / 2)
    assert m["recall@3"] == pytest.approx((1.0 + 1.0) / 2)
    assert m["ndcg@1"] == pytest.approx((1.0 + 0.0) / 2)
    ndcg0 = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    assert m["ndcg@3"] == pytest.approx((ndcg0 + 1 / np.log2(4)) / 2)
    assert m["map@1"] == pytest.approx((0.5 * 1.0 + 0.0) / 2)
    assert m["map@3"] == pytest.approx(((1.0 + 2 / 3) / 2 + 1 / 3) / 2)


def test_map_denominator_is_all_relevant_items():
    # 4 relevant items, perfect top 2: AP@2 = (1 + 1) / 4, recall@2 = 2 / 4, nDCG@2 = 1.
    m = ranking_metrics(np.array([[0, 1]]), sp.csr_matrix(np.ones((1, 4))), [2])
    assert m["map@2"] == pytest.approx(0.5)
    assert m["recall@2"] == pytest.approx(0.5)
    assert m["ndcg@2"] == pytest.approx(1.0)


def test_padding_is_never_a_hit():
    m = ranking_metrics(np.array([[-1, -1]]), sp.csr_matrix(np.ones((1, 3))), [2])
    assert m["recall@2"] == 0.0 and m["ndcg@2"] == 0.0 and m["map@2"] == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_ir_measures(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, depth = 60, 120, 30
    scores = rng.permutation(n_users * n_items).reshape(n_users, n_items) / 7.0  # distinct
    train = sp.csr_matrix(rng.random((n_users, n_items)) < 0.1)
    # Relevance: users with 1 item, with more than every k, and with none.
    test = rng.random((n_users, n_items)) < rng.choice([0.0, 0.05, 0.4], size=(n_users, 1))
    test[:5] = False
    test[:5, rng.integers(0, n_items, size=5)] = True
    test[5, :] = False
    test = sp.csr_matrix(test & ~train.toarray())

    ks = [1, 5, 10, 30]
    ours = ranking_metrics(top_k(scores, train, depth), test, ks)

    # ir-measures ranks the full score list itself (training items removed).
    run = [
        ir_measures.ScoredDoc(str(u), str(i), float(scores[u, i]))
        for u in range(n_users)
        for i in range(n_items)
        if not train[u, i]
    ]
    qrels = [ir_measures.Qrel(str(u), str(i), 1) for u, i in zip(*test.nonzero())]
    measures = [m for k in ks for m in (ir_measures.R @ k, ir_measures.nDCG @ k, ir_measures.AP @ k)]
    ref = ir_measures.calc_aggregate(measures, qrels, run)
    assert ours["n_users_evaluated"] == len({q.query_id for q in qrels})
    for k in ks:
        assert ours[f"recall@{k}"] == pytest.approx(ref[ir_measures.R @ k], abs=1e-6)
        assert ours[f"ndcg@{k}"] == pytest.approx(ref[ir_measures.nDCG @ k], abs=1e-6)
        assert ours[f"map@{k}"] == pytest.approx(ref[ir_measures.AP @ k], abs=1e-6)


def test_ranking_metrics_bad_input():
    rel = sp.csr_matrix(np.eye(3))
    with pytest.raises(ValueError, match="each k"):
        ranking_metrics(np.zeros((3, 2), dtype=int), rel, [3])
    with pytest.raises(ValueError, match="users"):
        ranking_metrics(np.zeros((2, 2), dtype=int), rel, [1])
    with pytest.raises(ValueError, match="repeats"):
        ranking_metrics(np.array([[0, 0], [1, 2], [0, 1]]), rel, [1])
    with pytest.raises(ValueError, match="indices"):
        ranking_metrics(np.array([[0, 3], [1, 2], [0, 1]]), rel, [1])
    with pytest.raises(ValueError, match="no user"):
        ranking_metrics(np.array([[0, 1]]), sp.csr_matrix((1, 3)), [1])
    with pytest.raises(ValueError, match="ks"):
        ranking_metrics(np.zeros((3, 2), dtype=int), rel, [])
