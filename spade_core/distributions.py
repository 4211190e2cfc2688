"""Global distribution checks: Wasserstein-2 between embedding clouds,
degree distributions of interaction lists, and rating histograms."""

import warnings

import numpy as np

OT_MAX_ITER = 10_000_000


def w2(X: np.ndarray, Y: np.ndarray, max_exact: int = 4000, seed: int = 0) -> dict:
    """Wasserstein-2 distance between point clouds X (n, d) and Y (m, d), uniform weights.

    "w2_exact" is exact OT (POT network simplex) on the squared-euclidean cost.
    A cloud with more than ``max_exact`` rows is first replaced by a seeded
    subsample of max_exact rows without replacement; "n_used" / "m_used" say
    how many rows went in. At max_exact = 4000, d = 64, one exact solve takes
    about 4-6 s on 2 cores (POT solves single-threaded; measured on Gaussian
    and clustered clouds) and its float64 cost matrix takes 128 MB.

    "w2_bures" is the closed form between the Gaussians with each *full* cloud's
    mean and (ddof=0) covariance: ‖μx − μy‖² + tr(Σx + Σy − 2 (Σy^½ Σx Σy^½)^½),
    square-rooted. Without subsampling it is a lower bound on w2_exact
    (Gelbrich), equal to it for clouds that differ by a translation.
    """
    X, Y = _cloud(X, "X"), _cloud(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X has dim {X.shape[1]} but Y has dim {Y.shape[1]}")
    if max_exact < 1:
        raise ValueError(f"max_exact must be >= 1, got {max_exact}")
    rng = np.random.default_rng(seed)
    Xs, Ys = _subsample(X, max_exact, rng), _subsample(Y, max_exact, rng)
    return {
        "w2_exact": _exact_w2(Xs, Ys),
        "w2_bures": bures_w2(*_moments(X), *_moments(Y)),
        "n_used": int(len(Xs)),
        "m_used": int(len(Ys)),
    }


def mmd2(X: np.ndarray, Y: np.ndarray, bandwidth: float | None = None) -> dict:
    """Unbiased squared maximum mean discrepancy between samples X (n, d) and Y (m, d).

    Gaussian kernel k(x, y) = exp(−‖x − y‖² / (2 h²)) with h the median pairwise distance of the pooled
    sample unless given. The estimator is unbiased (diagonal terms dropped), so its expectation is 0
    when X and Y come from one distribution and it can be slightly negative; unlike the exact W2 of
    small samples in many dimensions, it does not reward a generator for being under-dispersed.
    """
    X, Y = _cloud(X, "X"), _cloud(Y, "Y")
    if len(X) < 2 or len(Y) < 2:
        raise ValueError("mmd2 needs at least two points per sample")
    Z = np.concatenate([X, Y])
    sq = np.maximum(np.sum(Z**2, 1)[:, None] + np.sum(Z**2, 1)[None, :] - 2 * Z @ Z.T, 0.0)
    if bandwidth is None:
        bandwidth = float(np.sqrt(np.median(sq[np.triu_indices(len(Z), 1)]) / 2))
    K = np.exp(-sq / (2 * bandwidth**2))
    n, m = len(X), len(Y)
    kxx, kyy, kxy = K[:n, :n], K[n:, n:], K[:n, n:]
    value = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
             - 2 * kxy.mean())
    return {"mmd2": float(value), "bandwidth": bandwidth}


def bures_w2(mean_x: np.ndarray, cov_x: np.ndarray, mean_y: np.ndarray, cov_y: np.ndarray) -> float:
    """W2 between N(mean_x, cov_x) and N(mean_y, cov_y); covariances (d, d) symmetric PSD."""
    root_y = _sqrt_psd(cov_y)
    # Only the trace of the inner square root is needed: sum of sqrt(eigenvalues).
    inner = np.linalg.eigvalsh(_symmetrise(root_y @ cov_x @ root_y))
    cross = np.sqrt(np.clip(inner, 0.0, None)).sum()
    w2_sq = np.sum((mean_x - mean_y) ** 2) + np.trace(cov_x) + np.trace(cov_y) - 2.0 * cross
    return float(np.sqrt(max(w2_sq, 0.0)))


def _exact_w2(X, Y):
    import ot  # here, not at the top: POT pulls in scikit-learn, seconds that most stages never need

    cost = ot.dist(X, Y)  # squared euclidean
    a, b = np.full(len(X), 1.0 / len(X)), np.full(len(Y), 1.0 / len(Y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-convergence is checked below
        value, log = ot.emd2(a, b, cost, numItermax=OT_MAX_ITER, log=True)
    if log["warning"] is not None:
        raise RuntimeError(f"exact OT did not converge: {log['warning']}")
    return float(np.sqrt(max(float(value), 0.0)))


def _sqrt_psd(S):
    vals, vecs = np.linalg.eigh(_symmetrise(S))
    # Round-off can make PSD eigenvalues slightly negative.
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def _symmetrise(S):
    return 0.5 * (S + S.T)


def _moments(X):
    mean = X.mean(axis=0)
    centred = X - mean
    return mean, centred.T @ centred / len(X)


def _subsample(X, limit, rng):
    if len(X) <= limit:
        return X
    return X[np.sort(rng.choice(len(X), size=limit, replace=False))]


def _cloud(X, name):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {X.shape}")
    return X


def degree_report(
    real_users: np.ndarray,
    real_items: np.ndarray,
    n_real_users: int,
    n_real_items: int,
    synth_users: np.ndarray,
    synth_items: np.ndarray,
    n_synth_users: int,
    n_synth_items: int,
) -> dict:
    """Compare the degree distributions of a real and a synthetic interaction list.

    Each dataset is given as its user and item index columns (one row per
    interaction, ints in [0, n_users) and [0, n_items)) plus the entity
    counts; entities with no interaction have degree 0. Rows are counted as
    given (a repeated pair counts twice).

    A user's normalised degree is its degree / n_items (an item's: / n_users),
    so a dataset grown by factors α, β in users and items with the same
    relative activity is not counted as distortion.

    Returns flat floats: "ks_user", "ks_item" (two-sample KS statistic on
    normalised degrees), "ks_user_raw", "ks_item_raw" (on raw degrees),
    "density_real", "density_synth", "density_ratio" (synth / real), and
    "{real|synth}_{user|item}_degree_{mean|median|max|zero_frac}".
    """
    real = _degrees(real_users, real_items, n_real_users, n_real_items, "real")
    synth = _degrees(synth_users, synth_items, n_synth_users, n_synth_items, "synth")
    report = {}
    for side, n_other_real, n_other_synth in (
        ("user", n_real_items, n_synth_items),
        ("item", n_real_users, n_synth_users),
    ):
        r, s = real[side], synth[side]
        report[f"ks_{side}"] = _ks(r / n_other_real, s / n_other_synth)
        report[f"ks_{side}_raw"] = _ks(r, s)
    report["density_real"] = float(len(real_users) / (n_real_users * n_real_items))
    report["density_synth"] = float(len(synth_users) / (n_synth_users * n_synth_items))
    report["density_ratio"] = report["density_synth"] / report["density_real"]
    for name, degs in (("real", real), ("synth", synth)):
        for side in ("user", "item"):
            d = degs[side]
            report[f"{name}_{side}_degree_mean"] = float(d.mean())
            report[f"{name}_{side}_degree_median"] = float(np.median(d))
            report[f"{name}_{side}_degree_max"] = float(d.max())
            report[f"{name}_{side}_degree_zero_frac"] = float(np.mean(d == 0))
    return report


def _ks(a, b):
    from scipy import stats  # lazily, as POT above: Stage II/III import this module and never need it

    return float(stats.ks_2samp(a, b).statistic)


def _degrees(users, items, n_users, n_items, name):
    """{"user": (n_users,), "item": (n_items,)} interaction counts, zeros included."""
    users, items = np.asarray(users), np.asarray(items)
    if users.ndim != 1 or users.shape != items.shape:
        raise ValueError(f"{name} user/item columns must be 1-D of equal length, got {users.shape}, {items.shape}")
    if len(users) == 0:
        raise ValueError(f"{name} interaction list is empty")
    if not (np.issubdtype(users.dtype, np.integer) and np.issubdtype(items.dtype, np.integer)):
        raise ValueError(f"{name} user/item columns must be integer indices")
    for column, n, what in ((users, n_users, "user"), (items, n_items, "item")):
        if n < 1:
            raise ValueError(f"{name} n_{what}s must be >= 1, got {n}")
        if column.min() < 0 or column.max() >= n:
            raise ValueError(f"{name} {what} indices must lie in [0, {n})")
    return {"user": np.bincount(users, minlength=n_users), "item": np.bincount(items, minlength=n_items)}


def rating_tv(real_ratings: np.ndarray, synth_ratings: np.ndarray, vocab) -> float:
    """Total-variation distance 0.5 Σ|p − q| between the two ratings' histograms over ``vocab``.

    Ratings must be exact members of vocab (e.g. 1..5 or 0.5 steps); anything
    else raises ValueError. The result lies in [0, 1].
    """
    vocab = np.unique(np.asarray(vocab))
    if vocab.ndim != 1 or vocab.size == 0:
        raise ValueError("vocab must be a non-empty 1-D collection of rating values")
    p = _histogram(real_ratings, vocab, "real_ratings")
    q = _histogram(synth_ratings, vocab, "synth_ratings")
    return float(0.5 * np.abs(p - q).sum())


def _histogram(ratings, vocab, name):
    ratings = np.asarray(ratings).ravel()
    if ratings.size == 0:
        raise ValueError(f"{name} is empty")
    pos = np.searchsorted(vocab, ratings).clip(0, len(vocab) - 1)
    unknown = vocab[pos] != ratings
    if unknown.any():
        raise ValueError(f"{name} has values not in vocab, e.g. {ratings[unknown][:5].tolist()}")
    return np.bincount(pos, minlength=len(vocab)) / len(ratings)
