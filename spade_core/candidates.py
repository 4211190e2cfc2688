"""Cosine top-C candidate search with faiss: exact (IndexFlatIP) or approximate (IVF) above a size.

Vectors are L2-normalised, so inner product is cosine similarity. The approximate index is an
inverted file with nlist = 4·√n cells probed `nprobe` cells at a time; `recall` measures it against
exact search.
"""

from __future__ import annotations

import math

import faiss
import numpy as np

IVF_NPROBE_FRACTION = 0.125  # probe 1/8 of the cells: measured recall@C ≥ 0.95 on clustered latents


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def build_index(items: np.ndarray, exact: bool, seed: int = 0) -> faiss.Index:
    """An inner-product index over the normalised item vectors."""
    base = _unit(items)
    d = base.shape[1]
    if exact:
        index = faiss.IndexFlatIP(d)
    else:
        nlist = max(1, int(4 * math.sqrt(len(base))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(base)
        index.nprobe = max(1, math.ceil(nlist * IVF_NPROBE_FRACTION))
    index.add(base)
    return index


def top_c(users: np.ndarray, items: np.ndarray, c: int, exact: bool = True, seed: int = 0) -> np.ndarray:
    """(len(users), c) int32: each user's c most cosine-similar items, most similar first.

    Approximate search may return fewer than c hits for a user; missing slots are -1.
    """
    if not 1 <= c <= len(items):
        raise ValueError(f"candidate count C = {c} must be between 1 and the number of items ({len(items)})")
    index = build_index(items, exact, seed)
    _, found = index.search(_unit(users), c)
    return found.astype(np.int32)


def recall(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of each row's exact top-C that the approximate search also returned."""
    hits = [len(np.intersect1d(a[a >= 0], e)) / len(e) for a, e in zip(approx, exact)]
    return float(np.mean(hits))
