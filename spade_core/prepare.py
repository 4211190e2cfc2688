"""The `prepare` stage: parse → resolve repeated pairs → iterative k-core → leakage-safe split → Parquet.

Split protocol (per user, per seed): each user's interactions are shuffled with the seed; the first
⌊test_frac·n + ½⌋ go to test, the next ⌊val_frac·n + ½⌋ to validation, the rest (always ≥ 1) to train.
A val/test interaction whose item has no training interaction is moved to train (one per such item),
so no evaluated item is unseen in training. Splits are disjoint and cover the k-core exactly.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from spade_core import parsing
from spade_core.artifacts import file_sha256
from spade_core.data import Interactions, degree_summary, write_interactions, write_json

log = logging.getLogger(__name__)
TRAIN, VAL, TEST = 0, 1, 2


def resolve_duplicates(df: pd.DataFrame, rule: str) -> pd.DataFrame:
    """One row per (user, item): `last`/`first` keep the latest/earliest by timestamp (file order breaks
    ties); `error` refuses repeated pairs."""
    dup = df.duplicated(["user", "item"], keep=False)
    if not dup.any():
        return df
    if rule == "error":
        first = df[dup].iloc[0]
        raise parsing.DataError(
            f"{int(dup.sum())} rows repeat a (user, item) pair, e.g. user {first.user!r}, item {first.item!r}; "
            "set data.duplicates to 'last' or 'first' to keep one rating per pair"
        )
    ordered = df.assign(_row=np.arange(len(df))).sort_values(["timestamp", "_row"], kind="stable")
    kept = ordered.drop_duplicates(["user", "item"], keep="last" if rule == "last" else "first")
    log.info("resolved %d repeated (user, item) rows (rule: %s)", len(df) - len(kept), rule)
    return kept.sort_values("_row").drop(columns="_row").reset_index(drop=True)


def kcore(users: np.ndarray, items: np.ndarray, min_user: int, min_item: int) -> np.ndarray:
    """Mask of the interactions in the (min_user, min_item)-core: iterated until nothing changes."""
    keep = np.ones(len(users), dtype=bool)
    while True:
        u_deg = np.bincount(users[keep], minlength=users.max() + 1 if len(users) else 0)
        i_deg = np.bincount(items[keep], minlength=items.max() + 1 if len(items) else 0)
        new = keep & (u_deg[users] >= min_user) & (i_deg[items] >= min_item)
        if new.sum() == keep.sum():
            return new
        keep = new


def split_labels(users: np.ndarray, items: np.ndarray, val_frac: float, test_frac: float, seed: int) -> np.ndarray:
    """TRAIN/VAL/TEST label per interaction, following the protocol in the module docstring."""
    n = len(users)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(n), users))  # by user, shuffled within user
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    counts = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, counts)
    # Every user keeps at least one training row.
    n_test = np.minimum(np.floor(test_frac * counts + 0.5).astype(int), counts - 1)
    n_val = np.minimum(np.floor(val_frac * counts + 0.5).astype(int), counts - 1 - n_test)
    per_row_test, per_row_val = np.repeat(n_test, counts), np.repeat(n_val, counts)
    labels_sorted = np.where(rank < per_row_test, TEST, np.where(rank < per_row_test + per_row_val, VAL, TRAIN))
    labels = np.empty(n, dtype=np.int8)
    labels[order] = labels_sorted
    # Items with no training row: move one of their held-out rows (the first in shuffled order) to train.
    seen = np.zeros(items.max() + 1, dtype=bool)
    seen[items[labels == TRAIN]] = True
    held_out = order[labels_sorted != TRAIN]
    unseen = held_out[~seen[items[held_out]]]
    _, first = np.unique(items[unseen], return_index=True)
    labels[unseen[first]] = TRAIN
    return labels


def _index(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(contiguous int32 codes, sorted unique raw ids)."""
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int32), np.asarray(uniques)


def prepare(df: pd.DataFrame, data_cfg: dict, seed: int) -> dict:
    """The prepared dataset as a dict of splits, id maps, vocabulary and statistics (see `write`)."""
    raw_rows = len(df)
    df = resolve_duplicates(df, data_cfg["duplicates"])
    u_codes, _ = _index(df["user"])
    i_codes, _ = _index(df["item"])
    keep = kcore(u_codes, i_codes, data_cfg["min_user_interactions"], data_cfg["min_item_interactions"])
    df = df[keep].reset_index(drop=True)
    if len(df) == 0:
        raise parsing.DataError(
            f"no interactions survive the {data_cfg['min_user_interactions']}/{data_cfg['min_item_interactions']} "
            "k-core; lower data.min_user_interactions / data.min_item_interactions or use a larger dataset"
        )
    users, user_ids = _index(df["user"])
    items, item_ids = _index(df["item"])
    labels = split_labels(users, items, data_cfg["val_frac"], data_cfg["test_frac"], seed)
    all_ = Interactions(users, items, df["rating"].to_numpy(), df["timestamp"].to_numpy())
    splits = {name: all_.take(np.flatnonzero(labels == code)) for name, code in
              (("train", TRAIN), ("val", VAL), ("test", TEST))}
    n_users, n_items, train = len(user_ids), len(item_ids), splits["train"]
    stats = {
        "raw_rows": raw_rows,
        "users": n_users,
        "items": n_items,
        "interactions": len(all_),
        **{f"{name}_interactions": len(split) for name, split in splits.items()},
        "density": len(all_) / (n_users * n_items),
        "train_density": len(train) / (n_users * n_items),
        "train_user_degree": degree_summary(np.bincount(train.user, minlength=n_users)),
        "train_item_degree": degree_summary(np.bincount(train.item, minlength=n_items)),
    }
    vocab = np.unique(all_.rating)
    return {"splits": splits, "user_ids": user_ids, "item_ids": item_ids, "vocab": vocab, "stats": stats}


def write(prepared: dict, outdir: Path, titles: pd.DataFrame | None = None) -> None:
    for name, split in prepared["splits"].items():
        write_interactions(outdir / f"{name}.parquet", split)
    users = {"user": np.arange(len(prepared["user_ids"]), dtype=np.int32), "raw_id": prepared["user_ids"]}
    items = {"item": np.arange(len(prepared["item_ids"]), dtype=np.int32), "raw_id": prepared["item_ids"]}
    if titles is not None:
        items["title"] = pd.Series(prepared["item_ids"]).map(titles.set_index("raw_id")["title"]).fillna("").to_numpy()
    pq.write_table(pa.table(users), outdir / "users.parquet", compression="zstd")
    pq.write_table(pa.table(items), outdir / "items.parquet", compression="zstd")
    write_json(outdir / "vocab.json", {"ratings": [float(r) for r in prepared["vocab"]]})
    write_json(outdir / "stats.json", prepared["stats"])


def read_raw(ds: dict, raw_dir: Path | None, path: str | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(interactions, titles or None) for dataset spec `ds`."""
    if ds["format"] == "custom":
        if file_sha256(path) != ds["sha256"]:
            raise parsing.DataError(f"{path} changed since the workflow was planned; rerun snakemake to re-plan")
        return parsing.read_custom(path, ds), None
    reader = parsing.read_ml100k if ds["format"] == "ml-100k" else parsing.read_ml1m
    titles_path = raw_dir / ds["items"]
    titles = parsing.read_titles(titles_path, ds["format"]) if titles_path.is_file() else None
    return reader(raw_dir / ds["ratings"]), titles


def run(spec: dict, inputs: dict, outdir: Path, path: str | None = None) -> None:
    cfg = spec["config"]
    raw_dir = inputs["download"] / "raw" if "download" in inputs else None
    df, titles = read_raw(cfg["dataset"], raw_dir, path)
    prepared = prepare(df, cfg["data"], cfg["seed"])
    s = prepared["stats"]
    log.info("%s: %d raw rows -> %d users, %d items, %d interactions (train %d, val %d, test %d), ρ = %.4f",
             cfg["dataset"]["name"], s["raw_rows"], s["users"], s["items"], s["interactions"],
             s["train_interactions"], s["val_interactions"], s["test_interactions"], s["train_density"])
    write(prepared, outdir, titles)
