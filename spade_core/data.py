"""In-memory interaction data and its Parquet form, shared by every stage.

Real (prepared) interactions use columns `user`, `item`: contiguous int32 indices into the dataset's id
maps. Synthetic interactions use `synthetic_user`, `synthetic_item`, their own namespace, so a join on
the real columns fails instead of silently matching unrelated entities. Ratings are float64 values of
the dataset's rating vocabulary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REAL_COLUMNS = ("user", "item")
SYNTHETIC_COLUMNS = ("synthetic_user", "synthetic_item")


@dataclass(frozen=True)
class Interactions:
    """Parallel arrays: user (int32), item (int32), rating (float64); optional timestamp (int64)."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray | None = None

    def __post_init__(self):
        object.__setattr__(self, "user", np.asarray(self.user, dtype=np.int32))
        object.__setattr__(self, "item", np.asarray(self.item, dtype=np.int32))
        object.__setattr__(self, "rating", np.asarray(self.rating, dtype=np.float64))
        if self.timestamp is not None:
            object.__setattr__(self, "timestamp", np.asarray(self.timestamp, dtype=np.int64))
        if not (len(self.user) == len(self.item) == len(self.rating)):
            raise ValueError("user, item and rating arrays differ in length")

    def __len__(self) -> int:
        return len(self.user)

    def take(self, index: np.ndarray) -> "Interactions":
        ts = None if self.timestamp is None else self.timestamp[index]
        return Interactions(self.user[index], self.item[index], self.rating[index], ts)


def write_interactions(path: str | Path, data: Interactions, columns=REAL_COLUMNS) -> None:
    """Write `data` as Parquet (zstd); the same data always gives the same bytes."""
    cols = {columns[0]: data.user, columns[1]: data.item, "rating": data.rating}
    if data.timestamp is not None:
        cols["timestamp"] = data.timestamp
    pq.write_table(pa.table(cols), path, compression="zstd")


def read_interactions(path: str | Path, columns=REAL_COLUMNS) -> Interactions:
    table = pq.read_table(path)
    missing = [c for c in (*columns, "rating") if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} (has {table.column_names})")
    ts = table.column("timestamp").to_numpy() if "timestamp" in table.column_names else None
    return Interactions(
        table.column(columns[0]).to_numpy(), table.column(columns[1]).to_numpy(), table.column("rating").to_numpy(), ts
    )


@dataclass(frozen=True)
class Prepared:
    """A prepared dataset split: what the `prepare` stage writes, loaded."""

    train: Interactions
    val: Interactions
    test: Interactions
    n_users: int
    n_items: int
    vocab: np.ndarray  # sorted rating values
    stats: dict

    @property
    def density(self) -> float:
        """ρ: the training split's density, which synthesis and baselines aim to reproduce."""
        return len(self.train) / (self.n_users * self.n_items)


def load_prepared(path: str | Path) -> Prepared:
    path = Path(path)
    stats = json.loads((path / "stats.json").read_text())
    vocab = np.asarray(json.loads((path / "vocab.json").read_text())["ratings"], dtype=np.float64)
    return Prepared(
        *(read_interactions(path / f"{split}.parquet") for split in ("train", "val", "test")),
        n_users=stats["users"],
        n_items=stats["items"],
        vocab=vocab,
        stats=stats,
    )


def write_json(path: str | Path, doc) -> None:
    Path(path).write_text(json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n")


def degree_summary(degrees: np.ndarray) -> dict:
    degrees = np.asarray(degrees)
    return {
        "min": int(degrees.min()),
        "median": float(np.median(degrees)),
        "mean": float(degrees.mean()),
        "max": int(degrees.max()),
        "zero_fraction": float(np.mean(degrees == 0)),
    }
