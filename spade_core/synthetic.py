"""The synthetic dataset artifact, common to Stage III and every baseline.

Files:
- `interactions.parquet`: `synthetic_user`, `synthetic_item` (int32, 0..U'-1 / 0..I'-1, a namespace of
  their own: no column is named like the real `user`/`item`, so a join on them fails), `rating`
  (float64, always a value of the real rating vocabulary). Rows sorted by (user, item).
- `latents.npz` (generators with a latent space only): `synthetic_users`, `synthetic_items` and the
  real entities in the same space, `real_users`, `real_items`, which evaluation needs to place
  synthetic entities in its reference space.
- `summary.json`: U', I', nnz, density, degree summaries and the rating histogram.

`write` checks the invariants first and refuses to write a dataset that breaks one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spade_core.data import SYNTHETIC_COLUMNS, Interactions, Prepared, degree_summary, read_interactions, write_interactions, write_json

LATENT_KEYS = ("synthetic_users", "synthetic_items", "real_users", "real_items")


class InvariantError(RuntimeError):
    """A synthetic dataset breaks one of the guarantees every generator must keep."""


@dataclass(frozen=True)
class Synthetic:
    interactions: Interactions
    n_users: int
    n_items: int
    latents: dict[str, np.ndarray] | None = None  # LATENT_KEYS -> arrays, or None (no latent space)


def target_size(n_users: int, n_items: int, alpha: float, beta: float) -> tuple[int, int]:
    """(U', I') = (⌈α·U⌉, ⌈β·I⌉); the rounding guards against 2.0·943 = 1886.0000000000002."""
    return math.ceil(round(alpha * n_users, 9)), math.ceil(round(beta * n_items, 9))


def sort_pairs(data: Interactions) -> Interactions:
    return data.take(np.lexsort((data.item, data.user)))


def check_invariants(syn: Synthetic, n_users: int, n_items: int, vocab: np.ndarray) -> None:
    """Raise InvariantError naming every broken guarantee: exact entity counts, ratings in the
    vocabulary, no duplicate (user, item) pairs, indices in range, latents shaped like the entities."""
    problems = []
    x = syn.interactions
    if (syn.n_users, syn.n_items) != (n_users, n_items):
        problems.append(f"entity counts {syn.n_users} x {syn.n_items}, expected exactly {n_users} x {n_items}")
    if len(x) and (x.user.min() < 0 or x.user.max() >= syn.n_users or x.item.min() < 0 or x.item.max() >= syn.n_items):
        problems.append("user or item indices outside 0..U'-1 / 0..I'-1")
    outside = ~np.isin(x.rating, vocab)
    if outside.any():
        problems.append(f"{int(outside.sum())} ratings outside the vocabulary {vocab.tolist()}, e.g. {x.rating[outside][0]!r}")
    keys = x.user.astype(np.int64) * max(syn.n_items, 1) + x.item
    if len(np.unique(keys)) != len(keys):
        problems.append(f"{len(keys) - len(np.unique(keys))} duplicate (user, item) pairs")
    if syn.latents is not None:
        if set(syn.latents) != set(LATENT_KEYS):
            problems.append(f"latents must hold {LATENT_KEYS}, got {sorted(syn.latents)}")
        else:
            for key, count in (("synthetic_users", syn.n_users), ("synthetic_items", syn.n_items)):
                if len(syn.latents[key]) != count:
                    problems.append(f"{key} has {len(syn.latents[key])} rows for {count} entities")
    if problems:
        raise InvariantError("synthetic dataset rejected: " + "; ".join(problems))


def summary(syn: Synthetic, vocab: np.ndarray) -> dict:
    x = syn.interactions
    hist = {f"{v:g}": int(np.sum(x.rating == v)) for v in vocab}
    return {
        "users": syn.n_users,
        "items": syn.n_items,
        "interactions": len(x),
        "density": len(x) / (syn.n_users * syn.n_items),
        "user_degree": degree_summary(np.bincount(x.user, minlength=syn.n_users)),
        "item_degree": degree_summary(np.bincount(x.item, minlength=syn.n_items)),
        "rating_histogram": hist,
        "has_latents": syn.latents is not None,
    }


def write(syn: Synthetic, outdir: Path, real: Prepared, alpha: float, beta: float, extra: dict | None = None) -> dict:
    """Check the invariants against the sizes α, β imply for `real`, then write the artifact files.

    Returns the summary (with `extra` merged in), which is also written to summary.json.
    """
    n_users, n_items = target_size(real.n_users, real.n_items, alpha, beta)
    check_invariants(syn, n_users, n_items, real.vocab)
    write_interactions(outdir / "interactions.parquet", sort_pairs(syn.interactions), SYNTHETIC_COLUMNS)
    if syn.latents is not None:
        with open(outdir / "latents.npz", "wb") as fh:
            np.savez(fh, **{k: np.asarray(v, dtype=np.float32) for k, v in syn.latents.items()})
    doc = {**summary(syn, real.vocab), "real_train_density": real.density, **(extra or {})}
    doc["density_ratio"] = doc["density"] / real.density
    write_json(outdir / "summary.json", doc)
    return doc


def load(folder: str | Path) -> Synthetic:
    folder = Path(folder)
    doc = json.loads((folder / "summary.json").read_text())
    latents = None
    if (folder / "latents.npz").is_file():
        with np.load(folder / "latents.npz") as z:
            latents = {k: z[k] for k in z.files}
    inter = read_interactions(folder / "interactions.parquet", SYNTHETIC_COLUMNS)
    return Synthetic(inter, doc["users"], doc["items"], latents)
