import hashlib
import zipfile

import pytest

from spade_core.datasets import BUILTIN
from spade_core.download import DownloadError, fetch, safe_extract

ML1M_RATINGS = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ml1m_fixture(tmp_path):
    """A tiny archive in the official ml-1m layout, and a dataset spec trusting its hash."""
    archive = tmp_path / "mirror" / "ml-1m.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-1m/ratings.dat", ML1M_RATINGS)
        zf.writestr("ml-1m/movies.dat", "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n")
    return archive, {"name": "ml-1m", **BUILTIN["ml-1m"], "archive_sha256": sha(archive)}


def test_ml1m_archive_from_mirror_is_verified_and_extracted(tmp_path):
    archive, spec = ml1m_fixture(tmp_path)
    (tmp_path / "work").mkdir()
    fetch(spec, tmp_path / "raw", archive.parent, tmp_path / "work")
    assert (tmp_path / "raw" / "ratings.dat").read_text() == ML1M_RATINGS


def test_checksum_mismatch_names_path_expected_and_actual(tmp_path):
    archive, _ = ml1m_fixture(tmp_path)
    spec = {"name": "ml-1m", **BUILTIN["ml-1m"]}  # the official hash, which the fixture cannot match
    (tmp_path / "work").mkdir()
    with pytest.raises(DownloadError) as err:
        fetch(spec, tmp_path / "raw", archive.parent, tmp_path / "work")
    message = str(err.value)
    assert str(archive) in message and BUILTIN["ml-1m"]["archive_sha256"] in message and sha(archive) in message
    assert not (tmp_path / "raw").exists()


def test_extracted_ml1m_folder_cannot_be_verified(tmp_path):
    folder = tmp_path / "mirror" / "ml-1m"
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_text(ML1M_RATINGS)
    with pytest.raises(DownloadError, match="cannot be verified.*ml-1m.zip"):
        fetch({"name": "ml-1m", **BUILTIN["ml-1m"]}, tmp_path / "raw", tmp_path / "mirror", tmp_path)


def test_ml100k_folder_mirror_is_verified(tmp_path, mirror):
    spec = {"name": "ml-100k", **BUILTIN["ml-100k"]}
    fetch(spec, tmp_path / "raw", mirror, tmp_path)
    assert sha(tmp_path / "raw" / "u.data") == BUILTIN["ml-100k"]["ratings_sha256"]
    # The same folder with one changed byte is refused.
    bad = tmp_path / "bad" / "ml-100k"
    bad.mkdir(parents=True)
    (bad / "u.data").write_bytes((mirror / "ml-100k" / "u.data").read_bytes()[:-1] + b"9")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch(spec, tmp_path / "raw2", tmp_path / "bad", tmp_path)


def test_missing_mirror_and_missing_dataset_in_mirror(tmp_path):
    spec = {"name": "ml-100k", **BUILTIN["ml-100k"]}
    with pytest.raises(DownloadError, match="data mirror .*nowhere does not exist.*SPADE_DATA_MIRROR"):
        fetch(spec, tmp_path / "raw", tmp_path / "nowhere", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DownloadError, match="holds neither ml-100k.zip nor ml-100k/"):
        fetch(spec, tmp_path / "raw", tmp_path / "empty", tmp_path)


def test_extraction_refuses_members_outside_the_target(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-1m/ratings.dat", "ok")
        zf.writestr("../../escaped.txt", "pwned")
    (tmp_path / "out").mkdir()
    with pytest.raises(DownloadError, match="outside"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists() and not list((tmp_path / "out").iterdir())
