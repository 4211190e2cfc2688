"""The `download` stage: fetch a builtin dataset (or take it from an offline mirror) and verify it.

Sources, in order: the mirror folder (`SPADE_DATA_MIRROR`, else config `data_mirror`) holding either
the official `<name>.zip` or its extracted `<name>/` folder; otherwise GroupLens over HTTPS. Every
path is verified by SHA-256 (the archive, and the ratings file where its hash is known). The artifact
holds the dataset's files under `raw/`.
"""

from __future__ import annotations

import logging
import os
import shutil
import urllib.request
import zipfile
from pathlib import Path

from spade_core.artifacts import file_sha256

log = logging.getLogger(__name__)
MIRROR_ENV = "SPADE_DATA_MIRROR"


class DownloadError(RuntimeError):
    """The dataset could not be obtained or failed verification."""


def check_sha256(path: Path, expected: str) -> None:
    actual = file_sha256(path)
    if actual != expected:
        raise DownloadError(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}. "
            "The file is corrupt or not the official release; delete it and fetch the dataset again."
        )


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a zip archive, refusing any member that would land outside `dest`."""
    dest = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            target = (dest / member.filename).resolve()
            if target != dest and dest not in target.parents:
                raise DownloadError(f"{archive}: member {member.filename!r} would be extracted outside {dest}")
        zf.extractall(dest)


def _fetch_url(url: str, dest: Path) -> None:
    log.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as err:
        raise DownloadError(
            f"could not download {url}: {err}. Without internet, point {MIRROR_ENV} (or config data_mirror) "
            "at a folder holding the official files."
        ) from err


def _from_archive(spec: dict, archive: Path, raw: Path, work: Path) -> None:
    check_sha256(archive, spec["archive_sha256"])
    safe_extract(archive, work)
    folder = work / spec["folder"]
    if not (folder / spec["ratings"]).is_file():
        raise DownloadError(f"{archive} does not contain {spec['folder']}/{spec['ratings']}")
    shutil.copytree(folder, raw)


def _from_folder(spec: dict, folder: Path, raw: Path) -> None:
    ratings = folder / spec["ratings"]
    if not ratings.is_file():
        raise DownloadError(f"mirror folder {folder} has no {spec['ratings']}")
    if spec["ratings_sha256"] is None:
        raise DownloadError(
            f"{folder} cannot be verified: only the hash of {spec['name']}.zip is known. "
            f"Put the official {spec['name']}.zip in the mirror instead of the extracted folder."
        )
    check_sha256(ratings, spec["ratings_sha256"])
    shutil.copytree(folder, raw)


def mirror_path(configured: str | None) -> Path | None:
    value = os.environ.get(MIRROR_ENV) or configured
    return Path(value).expanduser() if value else None


def fetch(spec: dict, raw: Path, mirror: Path | None, work: Path) -> None:
    """Put the verified files of dataset `spec` into the new folder `raw` (`work` is scratch space)."""
    name = spec["name"]
    if mirror is not None:
        if not mirror.is_dir():
            raise DownloadError(
                f"data mirror {mirror} does not exist; set {MIRROR_ENV} or data_mirror to a folder holding "
                f"{name}.zip or {name}/, or unset both to download from GroupLens"
            )
        archive, folder = mirror / f"{name}.zip", mirror / spec["folder"]
        if archive.is_file():
            log.info("using mirror archive %s", archive)
            return _from_archive(spec, archive, raw, work)
        if folder.is_dir():
            log.info("using mirror folder %s", folder)
            return _from_folder(spec, folder, raw)
        raise DownloadError(f"data mirror {mirror} holds neither {name}.zip nor {spec['folder']}/")
    archive = work / f"{name}.zip"
    _fetch_url(spec["url"], archive)
    _from_archive(spec, archive, raw, work)


def run(spec: dict, inputs: dict, outdir: Path, mirror: str | None = None) -> None:
    ds = spec["config"]["dataset"]
    work = outdir / ".work"
    work.mkdir()
    try:
        fetch(ds, outdir / "raw", mirror_path(mirror), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if ds["ratings_sha256"]:
        check_sha256(outdir / "raw" / ds["ratings"], ds["ratings_sha256"])
