"""Structure-aware metrics computed in one shared reference space.

Every array here holds embeddings, one row per entity, all in the same
reference space (a generator's own latents are first mapped there with
:func:`fit_ridge_map`). Nearest neighbours are exact faiss searches: cosine is
inner product on L2-normalised float32 rows, euclidean is ``IndexFlatL2``.
"""

from dataclasses import dataclass

import faiss
import numpy as np

METRICS = ("cosine", "euclidean")


@dataclass(frozen=True, eq=False)  # eq=False: array fields make == ambiguous and hashing fail
class RidgeMap:
    """Affine map ``Z @ W + b`` from a latent space (p) to the reference space (d)."""

    W: np.ndarray  # (p, d)
    b: np.ndarray  # (d,)

    def apply(self, Z: np.ndarray) -> np.ndarray:
        """Map (n, p) latents to (n, d) reference-space points."""
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.W.shape[0]:
            raise ValueError(f"Z must have shape (n, {self.W.shape[0]}), got {Z.shape}")
        return Z @ self.W + self.b


def fit_ridge_map(Z: np.ndarray, R: np.ndarray, lam: float) -> RidgeMap:
    """Ridge regression of reference points R (n, d) on latents Z (n, p).

    The bias is not penalised: Z and R are centred, W = (Zcᵀ Zc + lam I)⁻¹ Zcᵀ Rc
    and b = mean(R) - mean(Z) @ W, so a large lam shrinks predictions towards
    mean(R), not towards 0. lam = 0 is ordinary least squares and needs Zc of
    full column rank.
    """
    Z = _as_2d(Z, "Z")
    R = _as_2d(R, "R")
    if len(Z) != len(R):
        raise ValueError(f"Z has {len(Z)} rows but R has {len(R)}")
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    z_mean, r_mean = Z.mean(axis=0), R.mean(axis=0)
    Zc, Rc = Z - z_mean, R - r_mean
    gram = Zc.T @ Zc + lam * np.eye(Z.shape[1])
    W = np.linalg.solve(gram, Zc.T @ Rc)
    return RidgeMap(W=W, b=r_mean - z_mean @ W)


def knn(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    metric: str = "cosine",
    exclude_self: bool = False,
) -> np.ndarray:
    """Indices (n_queries, k) into ``base`` of each query's k nearest rows, nearest first.

    ``exclude_self=True`` is for queries == base: row i never lists index i.
    The index is excluded, not the distance-0 hit, so an exact duplicate of a
    point still counts as its neighbour. Cosine of a zero row is taken as 0.
    """
    queries = _as_2d(queries, "queries")
    base = _as_2d(base, "base")
    if exclude_self and len(queries) != len(base):
        raise ValueError(f"exclude_self needs queries == base, got {len(queries)} vs {len(base)} rows")
    self_index = np.arange(len(queries)) if exclude_self else None
    return _knn(queries, base, k, metric, self_index)


def _knn(queries, base, k, metric, self_index=None):
    """k-NN where query i must not list base row ``self_index[i]`` (if given)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if queries.shape[1] != base.shape[1]:
        raise ValueError(f"queries have dim {queries.shape[1]} but base has dim {base.shape[1]}")
    available = len(base) - (self_index is not None)
    if not 1 <= k <= available:
        raise ValueError(f"k must be in [1, {available}] for a base of {len(base)} rows, got {k}")
    q, b = _prepare(queries, metric), _prepare(base, metric)
    index = faiss.IndexFlatIP(b.shape[1]) if metric == "cosine" else faiss.IndexFlatL2(b.shape[1])
    index.add(b)
    if self_index is None:
        return index.search(q, k)[1].astype(np.int64)
    found = index.search(q, k + 1)[1].astype(np.int64)
    # Drop the query's own index; if it fell outside the k+1 hits (many exact
    # duplicates), drop the last hit instead.
    drop = found == np.asarray(self_index)[:, None]
    drop[~drop.any(axis=1), -1] = True
    return found[~drop].reshape(len(q), k)


def _prepare(x, metric):
    x = np.array(x, dtype=np.float32, order="C")
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x /= np.maximum(norms, np.finfo(np.float32).tiny)
    return x


def _as_2d(x, name):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {x.shape}")
    return x


def _row_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a[i] ∩ b[i]| per row, for rows of distinct indices."""
    # Each common index shows up as one adjacent equal pair once merged and sorted.
    merged = np.sort(np.concatenate([a, b], axis=1), axis=1)
    return (merged[:, 1:] == merged[:, :-1]).sum(axis=1)


def _real_neighbourhoods(real, k, metric):
    """N_k of every real point: itself first, then its k-1 nearest other real points."""
    own = np.arange(len(real))[:, None]
    if k == 1:
        return own
    return np.concatenate([own, knn(real, real, k - 1, metric, exclude_self=True)], axis=1)


def _pgps_score(real, synth, k, metric, real_nbrs):
    synth_nbrs = _knn(synth, real, k, metric)
    anchors = synth_nbrs[:, 0]
    return float(np.mean(_row_overlap(synth_nbrs, real_nbrs[anchors]) / k))


def _gaussian_like(x, n, seed):
    """n draws from the Gaussian with x's mean and (full, ddof=0) covariance."""
    mean = x.mean(axis=0)
    centred = x - mean
    cov = centred.T @ centred / len(x)
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)


def pgps(real_items: np.ndarray, synth_items: np.ndarray, k: int, metric: str = "cosine", seed: int = 0) -> dict:
    """Preference Geometry Preservation Score of synthetic items (I', d) against real items (I, d).

    For a synthetic item s with anchor a = its nearest real item, overlap(s) =
    |N_k(s) ∩ N_k(a)| / k, where N_k(x) is the k nearest *real* items of x and a
    real item is its own nearest (it is in its own N_k). pgps = mean overlap, so
    exact copies of real items score 1 and random neighbour sets score
    k / I ("floor"). "null" is the score of I' points drawn with ``seed`` from
    the Gaussian (mean, full covariance) fitted to the real items: what global
    second-order statistics alone achieve. Requires 1 <= k < I.
    """
    real = _as_2d(real_items, "real_items")
    synth = _as_2d(synth_items, "synth_items")
    if not 1 <= k < len(real):
        raise ValueError(f"k must be in [1, {len(real) - 1}] for {len(real)} real items, got {k}")
    if synth.shape[1] != real.shape[1]:
        raise ValueError(f"synth_items have dim {synth.shape[1]} but real_items have dim {real.shape[1]}")
    real_nbrs = _real_neighbourhoods(real, k, metric)
    score = _pgps_score(real, synth, k, metric, real_nbrs)

    null = _pgps_score(real, _gaussian_like(real, len(synth), seed), k, metric, real_nbrs)
    floor = k / len(real)
    return {
        "pgps": score,
        "floor": floor,
        "null": null,
        "lift_floor": score - floor,
        "lift_null": score - null,
        "k": int(k),
        "n_synthetic": int(len(synth)),
    }


def ndi(real_users: np.ndarray, synth_users: np.ndarray, k: int, metric: str = "cosine") -> dict:
    """Neighbourhood Distortion Index: how much synthetic users (U', d) crowd real users (U, d).

    For each real user u, N_k(u) = its k nearest real users and N'_k(u) = its k
    nearest in the pool real ∪ synthetic (u itself excluded from both).
    displaced(u) = 1 - |N_k(u) ∩ N'_k(u)| / k and ndi = mean over real users.

    "expected" is ndi's exchangeable expectation U' / (U' + U - 1): adding
    points can only push real neighbours out, so (without distance ties) the
    real members of N'_k(u) are the nearest ones of N_k(u) and displaced(u) is
    exactly the synthetic fraction of N'_k(u). If synthetic users were draws
    from the real users' distribution, the U - 1 + U' other pool points would
    be exchangeable given u, each of u's k pool neighbours would be synthetic
    with probability U' / (U' + U - 1), and so would be E[displaced(u)].
    "ratio" = ndi / expected (NaN when U' = 0, where both are 0).
    Requires 1 <= k < U.
    """
    real = _as_2d(real_users, "real_users")
    synth = np.asarray(synth_users, dtype=np.float64)
    if synth.size == 0:
        synth = synth.reshape(0, real.shape[1])
    if synth.ndim != 2 or synth.shape[1] != real.shape[1]:
        raise ValueError(f"synth_users must have shape (U', {real.shape[1]}), got {synth.shape}")
    if not 1 <= k < len(real):
        raise ValueError(f"k must be in [1, {len(real) - 1}] for {len(real)} real users, got {k}")
    own = np.arange(len(real))
    before = _knn(real, real, k, metric, self_index=own)
    # Real users come first in the pool, so u keeps index u there.
    after = _knn(real, np.vstack([real, synth]), k, metric, self_index=own)
    score = float(np.mean(1.0 - _row_overlap(before, after) / k))
    expected = len(synth) / (len(synth) + len(real) - 1)
    return {
        "ndi": score,
        "expected": expected,
        "ratio": score / expected if expected > 0 else float("nan"),
        "k": int(k),
        "n_synthetic": int(len(synth)),
    }


def memorisation(real: np.ndarray, synth: np.ndarray) -> dict:
    """Are synthetic points (m, d) suspiciously close to real points (n, d)?

    Compares the euclidean distance of each synthetic point to its nearest
    real point with the real-to-real nearest-neighbour distances (self
    excluded). Neighbours come from faiss; distances are recomputed in float64
    so exact copies give exactly 0. "frac_closer_than_real_p1" is the fraction
    of synthetic points closer to the real data than the 1st percentile of the
    real-to-real distances. "median_ratio" is NaN if the real median is 0.
    Requires n >= 2.
    """
    real = _as_2d(real, "real")
    synth = _as_2d(synth, "synth")
    if len(real) < 2:
        raise ValueError("memorisation needs at least 2 real points")
    nearest_real = knn(synth, real, 1, "euclidean")[:, 0]
    synth_to_real = np.linalg.norm(synth - real[nearest_real], axis=1)
    nearest_other = knn(real, real, 1, "euclidean", exclude_self=True)[:, 0]
    real_to_real = np.linalg.norm(real - real[nearest_other], axis=1)

    med_synth, med_real = float(np.median(synth_to_real)), float(np.median(real_to_real))
    return {
        "median_synth_to_real": med_synth,
        "median_real_to_real": med_real,
        "median_ratio": med_synth / med_real if med_real > 0 else float("nan"),
        "frac_closer_than_real_p1": float(np.mean(synth_to_real < np.percentile(real_to_real, 1))),
    }
