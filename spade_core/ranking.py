"""Top-k recommendation and the ranking metrics computed on it.

Conventions (binary relevance; they match ir-measures / trec_eval exactly):

* An item is relevant to a user when its entry in ``relevant`` is > 0.
* Ranks are 1-based; ``topk[u, 0]`` is user u's rank-1 item. Padding entries
  (``-1``, see :func:`top_k`) are never relevant.
* Recall@k = |relevant items in the top k| / |relevant|  (ir-measures ``R@k``).
* NDCG@k = DCG@k / IDCG@k with gain 1 and discount 1/log2(rank + 1); IDCG@k is
  the DCG of min(|relevant|, k) hits at ranks 1, 2, ...  (ir-measures ``nDCG@k``).
* MAP@k = (1/|relevant|) * sum over ranks r <= k holding a relevant item of
  precision@r. The denominator is *all* relevant items, not min(|relevant|, k)
  (ir-measures ``AP@k``, trec_eval ``map_cut_k``).
* Each metric is the mean over users with at least one relevant item; users
  with none are skipped, as trec_eval skips queries absent from the qrels.
"""

import numpy as np
import scipy.sparse as sp

CHUNK_ROWS = 2048


def top_k(scores: np.ndarray, exclude: sp.spmatrix | None, k: int) -> np.ndarray:
    """The k highest-scoring items of each user.

    Args:
        scores: (U, I) finite float scores; higher is better.
        exclude: (U, I) sparse 0/1 matrix (e.g. training interactions) or None.
            Items with a nonzero entry are never returned.
        k: number of items per user, 1 <= k <= I.

    Returns:
        (U, k) int64 item indices, best first. Ties are broken by lower item
        index first, so the result is fully deterministic. A user with fewer
        than k non-excluded items gets their eligible items followed by -1.

    Users are processed in chunks of ``CHUNK_ROWS`` rows, so extra memory is
    O(CHUNK_ROWS * I) whatever U is.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty 2-D array, got shape {scores.shape}")
    n_users, n_items = scores.shape
    if not 1 <= k <= n_items:
        raise ValueError(f"k must be in [1, n_items={n_items}], got {k}")
    if exclude is not None:
        if exclude.shape != scores.shape:
            raise ValueError(f"exclude shape {exclude.shape} != scores shape {scores.shape}")
        exclude = sp.csr_matrix(exclude)

    out = np.empty((n_users, k), dtype=np.int64)
    for start in range(0, n_users, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_users)
        block = np.array(scores[start:stop], dtype=np.result_type(scores.dtype, np.float32))
        if not np.isfinite(block).all():
            raise ValueError("scores must be finite (-inf is reserved for excluded items)")
        banned = np.zeros(block.shape, dtype=bool)
        if exclude is not None:
            rows, cols = exclude[start:stop].nonzero()
            banned[rows, cols] = True
            block[banned] = -np.inf
        out[start:stop] = _top_k_block(block, k)
        # Excluded items can only be selected when fewer than k were eligible.
        picked_banned = np.take_along_axis(banned, out[start:stop], axis=1)
        out[start:stop][picked_banned] = -1
    return out


def _top_k_block(block: np.ndarray, k: int) -> np.ndarray:
    """Top-k of each row of a dense block, ties by lower column index."""
    n_rows, n_cols = block.shape
    # k-th largest value per row; argpartition alone would pick tied items at
    # the boundary arbitrarily, so take everything above it and the first
    # (by index) of the items equal to it.
    kth = np.partition(block, n_cols - k, axis=1)[:, n_cols - k, None]
    above = block > kth
    equal = block == kth
    need = k - above.sum(axis=1, keepdims=True)
    chosen = above | (equal & (np.cumsum(equal, axis=1) <= need))
    # nonzero walks row-major, so each row's k columns come out in index order
    # and the stable sort below keeps lower indices first among ties.
    cols = np.nonzero(chosen)[1].reshape(n_rows, k)
    vals = np.take_along_axis(block, cols, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1)


def ranking_metrics(topk: np.ndarray, relevant: sp.spmatrix, ks: list[int]) -> dict:
    """Recall@k, NDCG@k and MAP@k (see module docstring) for each k in ks.

    Args:
        topk: (U, K) int item indices per user, best first, as returned by
            :func:`top_k`; -1 marks padding. No item may repeat within a row.
        relevant: (U, I) sparse matrix; entries > 0 are the relevant items.
        ks: cut-offs, each 1 <= k <= K.

    Returns:
        ``{"recall@k", "ndcg@k", "map@k"}`` for each k (floats, means over users
        with at least one relevant item) and ``"n_users_evaluated"`` (int).
    """
    topk = np.asarray(topk)
    if topk.ndim != 2 or topk.size == 0:
        raise ValueError(f"topk must be a non-empty 2-D array, got shape {topk.shape}")
    if not np.issubdtype(topk.dtype, np.integer):
        raise ValueError(f"topk must hold integer item indices, got dtype {topk.dtype}")
    n_users, depth = topk.shape
    if relevant.shape[0] != n_users:
        raise ValueError(f"relevant has {relevant.shape[0]} users, topk has {n_users}")
    n_items = relevant.shape[1]
    if topk.min() < -1 or topk.max() >= n_items:
        raise ValueError(f"topk indices must lie in [-1, {n_items}) (-1 = padding)")
    if not ks:
        raise ValueError("ks must be non-empty")
    for k in ks:
        if not 1 <= k <= depth:
            raise ValueError(f"each k must be in [1, K={depth}], got {k}")
    ordered = np.sort(topk, axis=1)
    if ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any():
        raise ValueError("topk repeats an item within a user's row")

    relevant = sp.csr_matrix(relevant)
    rel_users, rel_items = (relevant > 0).nonzero()
    n_relevant = np.bincount(rel_users, minlength=n_users)
    evaluated = n_relevant > 0
    if not evaluated.any():
        raise ValueError("no user has a relevant item")

    # hits[u, r] = 1 if the item at rank r+1 of user u is relevant, via a
    # membership test on flattened (user, item) keys.
    rel_keys = rel_users.astype(np.int64) * n_items + rel_items
    keys = np.arange(n_users, dtype=np.int64)[:, None] * n_items + topk
    hits = (np.isin(keys, rel_keys) & (topk >= 0))[evaluated].astype(np.float64)
    n_rel = n_relevant[evaluated].astype(np.float64)

    ranks = np.arange(1, depth + 1)
    discount = 1.0 / np.log2(ranks + 1)
    ideal_dcg = np.cumsum(discount)
    precision_at_r = np.cumsum(hits, axis=1) / ranks

    result = {}
    for k in ks:
        h = hits[:, :k]
        idcg = ideal_dcg[np.minimum(n_rel, k).astype(np.int64) - 1]
        result[f"recall@{k}"] = float(np.mean(h.sum(axis=1) / n_rel))
        result[f"ndcg@{k}"] = float(np.mean((h * discount[:k]).sum(axis=1) / idcg))
        result[f"map@{k}"] = float(np.mean((h * precision_at_r[:, :k]).sum(axis=1) / n_rel))
    result["n_users_evaluated"] = int(evaluated.sum())
    return result
