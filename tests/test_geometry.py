import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spade_core.geometry import RidgeMap, fit_ridge_map, knn, memorisation, ndi, pgps


def _gaussian(seed, n, d=16, shift=None):
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x if shift is None else x + shift


def _brute_knn(queries, base, k, metric):
    if metric == "cosine":
        qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        bn = base / np.linalg.norm(base, axis=1, keepdims=True)
        dist = -(qn @ bn.T)
    else:
        dist = ((queries[:, None, :] - base[None, :, :]) ** 2).sum(-1)
    return np.argsort(dist, axis=1, kind="stable")[:, :k]


# ------------------------------------------------------------ ridge map


def test_ridge_recovers_exact_affine_map():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(200, 5))
    W, b = rng.normal(size=(5, 3)), rng.normal(size=3)
    fit = fit_ridge_map(Z, Z @ W + b, lam=1e-10)
    np.testing.assert_allclose(fit.W, W, atol=1e-8)
    np.testing.assert_allclose(fit.b, b, atol=1e-8)
    np.testing.assert_allclose(fit.apply(Z[:7]), Z[:7] @ W + b, atol=1e-8)


def test_ridge_bias_is_not_shrunk():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(100, 4)) + 5.0
    R = rng.normal(size=(100, 2)) + np.array([10.0, -3.0])
    fit = fit_ridge_map(Z, R, lam=1e12)
    np.testing.assert_allclose(fit.W, 0.0, atol=1e-8)
    # Predictions collapse to mean(R), not to 0.
    np.testing.assert_allclose(fit.apply(Z), np.broadcast_to(R.mean(axis=0), R.shape), atol=1e-6)


def test_ridge_matches_closed_form_with_penalty():
    rng = np.random.default_rng(2)
    Z, R = rng.normal(size=(50, 3)), rng.normal(size=(50, 2))
    fit = fit_ridge_map(Z, R, lam=2.5)
    Zc, Rc = Z - Z.mean(0), R - R.mean(0)
    W = np.linalg.inv(Zc.T @ Zc + 2.5 * np.eye(3)) @ Zc.T @ Rc
    np.testing.assert_allclose(fit.W, W, atol=1e-12)
    np.testing.assert_allclose(fit.b, R.mean(0) - Z.mean(0) @ W, atol=1e-12)


def test_ridge_bad_input():
    with pytest.raises(ValueError, match="rows"):
        fit_ridge_map(np.zeros((3, 2)), np.zeros((4, 2)), 1.0)
    with pytest.raises(ValueError, match="lam"):
        fit_ridge_map(np.zeros((3, 2)), np.zeros((3, 2)), -1.0)
    with pytest.raises(ValueError, match="shape"):
        RidgeMap(W=np.zeros((2, 3)), b=np.zeros(3)).apply(np.zeros((4, 5)))


# ------------------------------------------------------------------ knn


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_matches_brute_force(metric):
    base, queries = _gaussian(3, 300, 8), _gaussian(4, 40, 8)
    np.testing.assert_array_equal(knn(queries, base, 5, metric), _brute_knn(queries, base, 5, metric))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_exclude_self(metric):
    x = _gaussian(5, 200, 8)
    got = knn(x, x, 4, metric, exclude_self=True)
    np.testing.assert_array_equal(got, _brute_knn(x, x, 5, metric)[:, 1:])
    assert not (got == np.arange(200)[:, None]).any()


def test_knn_exclude_self_keeps_duplicates():
    # Rows 0 and 1 are the same point: each is the other's nearest neighbour.
    x = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 0.0], [9.0, 1.0]])
    got = knn(x, x, 1, "euclidean", exclude_self=True)
    np.testing.assert_array_equal(got[:2, 0], [1, 0])
    # Many copies: self is excluded whatever order faiss lists them in.
    many = np.zeros((6, 3))
    got = knn(many, many, 5, "euclidean", exclude_self=True)
    for i, row in enumerate(got):
        assert sorted(row) == [j for j in range(6) if j != i]


def test_knn_bad_input():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="k must be"):
        knn(x, x, 6)
    with pytest.raises(ValueError, match="k must be"):
        knn(x, x, 5, exclude_self=True)
    with pytest.raises(ValueError, match="metric"):
        knn(x, x, 1, metric="manhattan")
    with pytest.raises(ValueError, match="dim"):
        knn(np.zeros((2, 4)), x, 1)
    with pytest.raises(ValueError, match="exclude_self"):
        knn(np.zeros((2, 3)), x, 1, exclude_self=True)
    with pytest.raises(ValueError, match="non-empty"):
        knn(np.zeros((0, 3)), x, 1)


# ----------------------------------------------------------------- pgps


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_pgps_exact_copies_score_one(metric):
    real = _gaussian(6, 400)
    out = pgps(real, real[np.random.default_rng(0).permutation(400)[:150]], k=10, metric=metric)
    assert out["pgps"] == 1.0
    assert out["n_synthetic"] == 150 and out["k"] == 10
    assert out["floor"] == pytest.approx(10 / 400)


def test_pgps_unrelated_cloud_scores_near_null():
    # An independent Gaussian cloud is what the null is built from, so it
    # should sit within noise of it (spread over seeds ~0.007) and far below 1.
    real, synth = _gaussian(7, 600), _gaussian(8, 600)
    out = pgps(real, synth, k=10, seed=3)
    assert abs(out["pgps"] - out["null"]) < 0.04
    assert out["pgps"] < 0.5
    assert out["lift_floor"] == pytest.approx(out["pgps"] - out["floor"])
    assert out["lift_null"] == pytest.approx(out["pgps"] - out["null"])


def test_pgps_rewards_preserved_local_structure():
    real = _gaussian(9, 600)
    jittered = real + 0.05 * _gaussian(10, 600)
    out = pgps(real, jittered, k=10)
    assert out["pgps"] > 0.9
    assert out["lift_null"] > 0.4


def test_pgps_null_is_seeded():
    real, synth = _gaussian(11, 200), _gaussian(12, 100)
    assert pgps(real, synth, 5, seed=1) == pgps(real, synth, 5, seed=1)
    assert pgps(real, synth, 5, seed=1)["null"] != pgps(real, synth, 5, seed=2)["null"]


def test_pgps_k_one_is_anchor_agreement():
    # With k = 1, N_1(a) = {a} and N_1(s) = {a}: every item scores 1.
    real = _gaussian(13, 50)
    assert pgps(real, _gaussian(14, 30), k=1)["pgps"] == 1.0


def test_pgps_bad_input():
    real = _gaussian(15, 20, 4)
    with pytest.raises(ValueError, match="k must be"):
        pgps(real, real, k=20)
    with pytest.raises(ValueError, match="dim"):
        pgps(real, np.zeros((3, 5)), k=2)


# ------------------------------------------------------------------ ndi


def test_ndi_no_synthetic_is_zero():
    real = _gaussian(16, 300)
    out = ndi(real, np.empty((0, 16)), k=10)
    assert out["ndi"] == 0.0 and out["expected"] == 0.0 and out["n_synthetic"] == 0
    assert np.isnan(out["ratio"])


def test_ndi_exact_duplicates_displace_half():
    # Each real neighbour now comes with its twin at the same distance (and u
    # with its own copy), so at most ceil((k-1)/2) real ones stay.
    real = _gaussian(17, 500)
    out = ndi(real, real.copy(), k=10)
    assert out["ndi"] >= 0.5
    assert out["expected"] == pytest.approx(500 / 999)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_ndi_same_distribution_matches_expected(metric):
    # Over 40 seeds this setting gives ndi with sd ~0.008 around 500/2499;
    # 0.03 is ~4 sd.
    real, synth = _gaussian(18, 2000), _gaussian(19, 500)
    out = ndi(real, synth, k=10, metric=metric)
    assert out["expected"] == pytest.approx(500 / 2499)
    assert out["ndi"] == pytest.approx(out["expected"], abs=0.03)
    assert out["ratio"] == pytest.approx(out["ndi"] / out["expected"])


def test_ndi_equals_synthetic_fraction_of_pool_neighbours():
    # The identity behind "expected": displaced(u) = synthetic share of N'_k(u).
    real, synth = _gaussian(20, 300, 6), _gaussian(21, 200, 6) * 1.3
    pool = np.vstack([real, synth])
    after = knn(pool, pool, 7, "euclidean", exclude_self=True)[:300]
    assert ndi(real, synth, 7, "euclidean")["ndi"] == pytest.approx(np.mean(after >= 300))


def test_ndi_far_away_cloud_is_zero():
    real = _gaussian(22, 400, shift=np.r_[20.0, np.zeros(15)])
    synth = _gaussian(23, 400, shift=np.r_[0.0, 20.0, np.zeros(14)])
    assert ndi(real, synth, k=10, metric="cosine")["ndi"] == pytest.approx(0.0, abs=1e-3)
    assert ndi(real, synth, k=10, metric="euclidean")["ndi"] == 0.0


def test_ndi_bad_input():
    real = _gaussian(24, 10, 3)
    with pytest.raises(ValueError, match="k must be"):
        ndi(real, real, k=10)
    with pytest.raises(ValueError, match="synth_users"):
        ndi(real, np.zeros((4, 2)), k=2)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(0, 40))
def test_ndi_is_a_fraction(seed, k, n_synth):
    rng = np.random.default_rng(seed)
    out = ndi(rng.normal(size=(30, 3)), rng.normal(size=(n_synth, 3)), k=k, metric="euclidean")
    assert 0.0 <= out["ndi"] <= 1.0
    assert out["expected"] == pytest.approx(n_synth / (n_synth + 29))


# --------------------------------------------------------- memorisation


def test_memorisation_of_copies():
    real = _gaussian(25, 1000)
    out = memorisation(real, real[:200].copy())
    assert out["median_synth_to_real"] == 0.0
    assert out["median_ratio"] == 0.0
    assert out["frac_closer_than_real_p1"] == 1.0


def test_memorisation_of_independent_draws():
    real, synth = _gaussian(26, 2000), _gaussian(27, 2000)
    out = memorisation(real, synth)
    assert 0.9 < out["median_ratio"] < 1.1
    assert out["frac_closer_than_real_p1"] < 0.05
    assert out["median_ratio"] == pytest.approx(out["median_synth_to_real"] / out["median_real_to_real"])


def test_memorisation_known_answer():
    real = np.array([[0.0], [1.0], [3.0]])  # real NN distances: 1, 1, 2
    synth = np.array([[0.5], [3.0], [10.0]])  # distances to real: 0.5, 0, 7
    out = memorisation(real, synth)
    assert out["median_real_to_real"] == 1.0
    assert out["median_synth_to_real"] == 0.5
    assert out["frac_closer_than_real_p1"] == pytest.approx(2 / 3)


def test_memorisation_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        memorisation(np.zeros((1, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="dim"):
        memorisation(np.zeros((4, 2)), np.zeros((3, 3)))
