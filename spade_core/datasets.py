"""The dataset registry: what each dataset name means, as the document its artifact keys hash.

Kept free of heavy imports: the Snakefile consults it while parsing.
"""

from __future__ import annotations

from pathlib import Path

from spade_core.artifacts import file_sha256
from spade_core.config import ConfigError

GROUPLENS = "https://files.grouplens.org/datasets/movielens"

BUILTIN: dict[str, dict] = {
    "ml-100k": {
        "format": "ml-100k",
        "url": f"{GROUPLENS}/ml-100k.zip",
        "archive_sha256": "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        "folder": "ml-100k",
        "ratings": "u.data",
        "ratings_sha256": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "items": "u.item",
    },
    "ml-1m": {
        "format": "ml-1m",
        "url": f"{GROUPLENS}/ml-1m.zip",
        "archive_sha256": "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        "folder": "ml-1m",
        "ratings": "ratings.dat",
        # Only the archive's hash is published to us, so an extracted ml-1m folder cannot be verified.
        "ratings_sha256": None,
        "items": "movies.dat",
    },
}

DEFERRED = {
    "amazon": "registered but deferred: the Amazon Reviews subset and its core filter are not pinned yet, "
    "and they set the density that drives Stage III; use a custom dataset for now",
}


def dataset_spec(name: str, cfg: dict) -> tuple[dict, dict]:
    """(spec, options) for dataset `name`: the hashed description, and run-time options such as paths.

    Builtin datasets are described by their source and checksums; custom ones by their file's SHA-256
    and column names, so moving the file does not change keys but editing it does.
    """
    if name in BUILTIN:
        return {"name": name, **BUILTIN[name]}, {}
    custom = cfg["custom_datasets"]
    if name in custom:
        entry = dict(custom[name])
        path = Path(entry.pop("path")).expanduser()
        if not path.is_file():
            raise ConfigError(f"custom dataset {name!r}: file {path} does not exist (custom_datasets.{name}.path)")
        fmt = entry.pop("format")
        if fmt == "auto":
            fmt = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet"}.get(path.suffix.lower())
            if fmt is None:
                raise ConfigError(
                    f"custom dataset {name!r}: cannot tell the format of {path.name}; "
                    f"set custom_datasets.{name}.format to csv, tsv or parquet"
                )
        spec = {"name": name, "format": "custom", "file_format": fmt, "sha256": file_sha256(path), **entry}
        return spec, {"path": str(path.resolve())}
    if name in DEFERRED:
        raise ConfigError(f"dataset {name!r} is {DEFERRED[name]}")
    raise ConfigError(
        f"invalid config at 'matrix.datasets': unknown dataset {name!r}; "
        f"use one of {sorted(BUILTIN)} or a name defined under custom_datasets"
    )
