"""Readers for raw interaction files: MovieLens 100K / 1M and custom CSV, TSV or Parquet.

Each returns a DataFrame with columns user, item (raw ids), rating (float64) and timestamp (int64),
or raises DataError naming the file, the line and the offending value. MovieLens ids must be integers;
custom ids may be any non-empty value.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["user", "item", "rating", "timestamp"]


class DataError(ValueError):
    """A raw data file is malformed."""


def _line(df: pd.DataFrame, position: int, header: bool) -> int:
    return int(position) + (2 if header else 1)


def _check_present(df: pd.DataFrame, path: Path, header: bool) -> None:
    for col in df.columns:
        values = df[col]
        bad = values.isna() | (values.astype(str).str.strip() == "")
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path}, line {_line(df, pos, header)}: missing value in column {col!r}")


def _numeric(df: pd.DataFrame, col: str, path: Path, header: bool, integer: bool, label: str) -> pd.Series:
    raw = df[col]
    values = pd.to_numeric(raw, errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=np.float64))
    if integer:
        bad |= values.to_numpy(dtype=np.float64) % 1 != 0
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        kind = "an integer" if integer else "a finite number"
        raise DataError(f"{path}, line {_line(df, pos, header)}: {label} {raw.iloc[pos]!r} is not {kind}")
    return values.astype(np.int64) if integer else values.astype(np.float64)


def _read_text_table(path: Path, sep: str, encoding: str = "utf-8") -> pd.DataFrame:
    text = path.read_text(encoding=encoding)
    if sep == "::":
        text, sep = text.replace("::", "\t"), "\t"  # the C parser takes one-character separators only
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as err:
        raise DataError(f"{path}: {err}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    if df.shape[1] != 4:
        raise DataError(f"{path}: expected 4 fields per line (user, item, rating, timestamp), found {df.shape[1]}")
    df.columns = COLUMNS
    return df


def _movielens(path: Path, sep: str) -> pd.DataFrame:
    df = _read_text_table(path, sep)
    _check_present(df, path, header=False)
    return pd.DataFrame(
        {
            "user": _numeric(df, "user", path, False, True, "user id"),
            "item": _numeric(df, "item", path, False, True, "item id"),
            "rating": _numeric(df, "rating", path, False, False, "rating"),
            "timestamp": _numeric(df, "timestamp", path, False, True, "timestamp"),
        }
    )


def read_ml100k(path: str | Path) -> pd.DataFrame:
    """`u.data`: tab-separated user, item, rating, timestamp."""
    return _movielens(Path(path), "\t")


def read_ml1m(path: str | Path) -> pd.DataFrame:
    """`ratings.dat`: `::`-separated user, item, rating, timestamp."""
    return _movielens(Path(path), "::")


def read_titles(path: str | Path, fmt: str) -> pd.DataFrame:
    """Item titles: `u.item` (`|`-separated) or `movies.dat` (`::`-separated); both are Latin-1."""
    path = Path(path)
    text = path.read_text(encoding="latin-1")
    rows = [line.split("|" if fmt == "ml-100k" else "::") for line in text.splitlines() if line.strip()]
    try:
        return pd.DataFrame({"raw_id": [int(r[0]) for r in rows], "title": [r[1] for r in rows]})
    except (ValueError, IndexError):
        raise DataError(f"{path}: malformed item metadata (expected id and title on every line)") from None


def read_custom(path: str | Path, spec: dict) -> pd.DataFrame:
    """A user's interaction file, columns named by `spec` (user_col, item_col, rating_col, timestamp_col).

    Without a timestamp column, the row number stands in for time (so "last" means last in the file).
    """
    path = Path(path)
    fmt = spec["file_format"]
    try:
        if fmt == "parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, sep="," if fmt == "csv" else "\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read as {fmt}: {err}") from None
    wanted = {"user": spec["user_col"], "item": spec["item_col"], "rating": spec["rating_col"]}
    if spec.get("timestamp_col"):
        wanted["timestamp"] = spec["timestamp_col"]
    missing = [c for c in wanted.values() if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; the file has {list(df.columns)}. "
            "Set user_col / item_col / rating_col / timestamp_col under custom_datasets."
        )
    df = df[list(wanted.values())].rename(columns={v: k for k, v in wanted.items()}).reset_index(drop=True)
    header = fmt != "parquet"
    _check_present(df, path, header)
    out = pd.DataFrame({"user": df["user"], "item": df["item"]})
    for col in ("user", "item"):  # integer ids stay integers; anything else is kept as text
        as_int = pd.to_numeric(out[col], errors="coerce")
        integral = np.isfinite(as_int.to_numpy(dtype=np.float64)).all() and (as_int % 1 == 0).all()
        out[col] = as_int.astype(np.int64) if integral else out[col].astype(str)
    out["rating"] = _numeric(df, "rating", path, header, False, "rating")
    if "timestamp" in df:
        out["timestamp"] = _numeric(df, "timestamp", path, header, True, "timestamp")
    else:
        out["timestamp"] = np.arange(len(df), dtype=np.int64)
    if len(out) == 0:
        raise DataError(f"{path} holds no interactions")
    return out
