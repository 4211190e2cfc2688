import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from spade_core import distributions
from spade_core.distributions import bures_w2, degree_report, rating_tv, w2

# ------------------------------------------------------------------- w2


def test_w2_of_a_cloud_with_itself_is_zero():
    X = np.random.default_rng(0).normal(size=(300, 5))
    out = w2(X, X)
    assert out["w2_exact"] == pytest.approx(0.0, abs=1e-9)
    assert out["w2_bures"] == pytest.approx(0.0, abs=1e-6)
    assert out["n_used"] == 300 and out["m_used"] == 300


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(0, 10_000))
def test_w2_1d_equals_sorted_matching(n, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n), rng.exponential(size=n) * 3
    expected = np.sqrt(np.mean((np.sort(x) - np.sort(y)) ** 2))
    assert w2(x[:, None], y[:, None])["w2_exact"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_w2_pure_shift():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))  # correlated
    t = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 0.25])
    out = w2(X, X + t)
    assert out["w2_exact"] == pytest.approx(np.linalg.norm(t), rel=1e-9)
    assert out["w2_bures"] == pytest.approx(np.linalg.norm(t), rel=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 60), st.integers(2, 60), st.integers(1, 4), st.integers(0, 10_000))
def test_bures_lower_bounds_exact(n, m, d, seed):
    # Gelbrich: the Gaussian with the same first two moments is never farther.
    rng = np.random.default_rng(seed)
    out = w2(rng.normal(size=(n, d)), rng.standard_t(3, size=(m, d)) + 1.0)
    assert out["w2_bures"] <= out["w2_exact"] + 1e-7


def test_w2_subsamples_deterministically():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(500, 3)), rng.normal(size=(80, 3)) + 1.0
    a = w2(X, Y, max_exact=100, seed=7)
    assert (a["n_used"], a["m_used"]) == (100, 80)
    assert a == w2(X, Y, max_exact=100, seed=7)
    assert a["w2_exact"] != w2(X, Y, max_exact=100, seed=8)["w2_exact"]
    # Bures always sees the full clouds.
    assert a["w2_bures"] == w2(X, Y)["w2_bures"]


def test_w2_raises_when_ot_does_not_converge(monkeypatch):
    rng = np.random.default_rng(3)
    monkeypatch.setattr(distributions, "OT_MAX_ITER", 5)
    with pytest.raises(RuntimeError, match="converge"):
        w2(rng.normal(size=(60, 2)), rng.normal(size=(70, 2)))


def test_w2_bad_input():
    with pytest.raises(ValueError, match="dim"):
        w2(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-empty"):
        w2(np.zeros((0, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="max_exact"):
        w2(np.zeros((3, 2)), np.zeros((3, 2)), max_exact=0)


def test_bures_known_gaussians():
    # 1-d: W2² = (m1 - m2)² + (s1 - s2)².
    assert bures_w2(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]])) == pytest.approx(
        np.sqrt(9.0 + 1.0)
    )
    # Commuting (diagonal) covariances: W2² = ‖Δμ‖² + Σ (√a_i − √b_i)².
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.0])
    mx, my = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = np.sqrt(np.sum((mx - my) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    assert bures_w2(mx, np.diag(a), my, np.diag(b)) == pytest.approx(expected)


def test_bures_matches_scipy_sqrtm_for_general_covariances():
    rng = np.random.default_rng(4)
    A, B = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    Sx, Sy = A @ A.T + 0.1 * np.eye(5), B @ B.T
    mx, my = rng.normal(size=5), rng.normal(size=5)
    root_y = np.real(scipy.linalg.sqrtm(Sy))
    cross = np.real(np.trace(scipy.linalg.sqrtm(root_y @ Sx @ root_y)))
    expected = np.sqrt(np.sum((mx - my) ** 2) + np.trace(Sx) + np.trace(Sy) - 2 * cross)
    assert bures_w2(mx, Sx, my, Sy) == pytest.approx(expected, rel=1e-8)
    # Symmetric in its two Gaussians.
    assert bures_w2(my, Sy, mx, Sx) == pytest.approx(expected, rel=1e-8)


# -------------------------------------------------------- degree_report


def _random_interactions(seed, n_users, n_items, n):
    """Unique (user, item) pairs with power-law-ish activity on both sides."""
    rng = np.random.default_rng(seed)
    pu = 1.0 / np.arange(1, n_users + 1) ** 0.8
    pi = 1.0 / np.arange(1, n_items + 1) ** 0.8
    users = rng.choice(n_users, size=n, p=pu / pu.sum())
    items = rng.choice(n_items, size=n, p=pi / pi.sum())
    pairs = np.unique(np.c_[users, items], axis=0)
    return pairs[:, 0], pairs[:, 1]


def test_degree_report_known_answer():
    # User degrees [2, 1, 0], item degrees [1, 2]; 3 of 6 cells filled.
    users, items = np.array([0, 0, 1]), np.array([0, 1, 1])
    r = degree_report(users, items, 3, 2, users, items, 3, 2)
    assert r["density_real"] == pytest.approx(0.5)
    assert r["real_user_degree_mean"] == 1.0
    assert r["real_user_degree_median"] == 1.0
    assert r["real_user_degree_max"] == 2.0
    assert r["real_user_degree_zero_frac"] == pytest.approx(1 / 3)
    assert r["real_item_degree_mean"] == 1.5
    assert r["real_item_degree_zero_frac"] == 0.0


def test_degree_report_identical_data():
    u, i = _random_interactions(0, 200, 150, 3000)
    r = degree_report(u, i, 200, 150, u, i, 200, 150)
    for key in ("ks_user", "ks_item", "ks_user_raw", "ks_item_raw"):
        assert r[key] == 0.0
    assert r["density_ratio"] == 1.0
    assert all(type(v) is float for v in r.values())  # JSON-ready, not numpy scalars


def test_degree_report_blow_up_is_not_distortion():
    # alpha = beta = 2: user u -> {2u, 2u+1}, item i -> {2i, 2i+1}, each
    # interaction -> 4. Every degree doubles and so does the other side, so the
    # normalised degrees are each real one repeated twice: identical ECDFs.
    n_users, n_items = 200, 150
    u, i = _random_interactions(1, n_users, n_items, 3000)
    a, b = np.meshgrid([0, 1], [0, 1], indexing="ij")
    su = (2 * u[:, None] + a.ravel()).ravel()
    si = (2 * i[:, None] + b.ravel()).ravel()
    r = degree_report(u, i, n_users, n_items, su, si, 2 * n_users, 2 * n_items)
    assert r["ks_user"] == pytest.approx(0.0, abs=1e-12)
    assert r["ks_item"] == pytest.approx(0.0, abs=1e-12)
    assert r["ks_user_raw"] > 0.3
    assert r["ks_item_raw"] > 0.3
    assert r["density_ratio"] == pytest.approx(1.0)
    assert r["synth_user_degree_mean"] == pytest.approx(2 * r["real_user_degree_mean"])


def test_degree_report_counts_zero_degree_entities():
    # Same interactions, but the synthetic side claims 100 extra silent users.
    u, i = _random_interactions(2, 100, 80, 1500)
    r = degree_report(u, i, 100, 80, u, i, 200, 80)
    assert r["synth_user_degree_zero_frac"] >= 0.5
    assert r["ks_user_raw"] > 0.4
    assert r["density_ratio"] == pytest.approx(0.5)


def test_degree_report_bad_input():
    ok_u, ok_i = np.array([0, 1]), np.array([1, 0])
    with pytest.raises(ValueError, match="real user indices"):
        degree_report(np.array([0, 2]), ok_i, 2, 2, ok_u, ok_i, 2, 2)
    with pytest.raises(ValueError, match="synth item indices"):
        degree_report(ok_u, ok_i, 2, 2, ok_u, np.array([-1, 0]), 2, 2)
    with pytest.raises(ValueError, match="equal length"):
        degree_report(ok_u, np.array([0]), 2, 2, ok_u, ok_i, 2, 2)
    with pytest.raises(ValueError, match="empty"):
        degree_report(ok_u, ok_i, 2, 2, np.array([], int), np.array([], int), 2, 2)
    with pytest.raises(ValueError, match="integer"):
        degree_report(ok_u.astype(float), ok_i, 2, 2, ok_u, ok_i, 2, 2)


# ------------------------------------------------------------ rating_tv


def test_rating_tv_known_answer():
    # p = (1/2, 1/4, 1/4, 0, 0), q = (1/4, 3/4, 0, 0, 0) -> 0.5 * (1/4 + 1/2 + 1/4).
    assert rating_tv([1, 1, 2, 3], [1, 2, 2, 2], vocab=[1, 2, 3, 4, 5]) == pytest.approx(0.5)
    assert rating_tv([0.5, 1.0], [4.5, 4.5, 5.0], vocab=np.arange(1, 11) / 2) == pytest.approx(1.0)


def test_rating_tv_identical_histograms():
    assert rating_tv([5, 3, 3, 1], [1, 3, 5, 3], vocab=range(1, 6)) == 0.0


def test_rating_tv_bad_input():
    with pytest.raises(ValueError, match="not in vocab"):
        rating_tv([1, 2, 6], [1, 2], vocab=[1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="not in vocab"):
        rating_tv([1, 2], [1.5], vocab=[1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        rating_tv([], [1], vocab=[1])
    with pytest.raises(ValueError, match="vocab"):
        rating_tv([1], [1], vocab=[])


def test_mmd2_is_near_zero_for_one_distribution_and_positive_for_shifted_or_shrunk():
    from spade_core.distributions import mmd2

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((400, 8)), rng.standard_normal((400, 8))
    same = mmd2(a, b)
    assert abs(same["mmd2"]) < 0.01 and same["bandwidth"] > 0
    assert mmd2(a, b + 0.5)["mmd2"] > 10 * abs(same["mmd2"])
    assert mmd2(a, 0.7 * b, bandwidth=same["bandwidth"])["mmd2"] > 10 * abs(same["mmd2"])
    with pytest.raises(ValueError):
        mmd2(a[:1], b)
