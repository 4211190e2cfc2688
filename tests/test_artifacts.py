import json
import shutil

import pytest

from spade_core import artifacts
from spade_core.artifacts import ArtifactError, build, code_fingerprint, key_of, make_spec, verify


def test_key_is_stable_under_dict_ordering():
    a = {"stage": "s", "config": {"x": 1, "y": {"b": 2, "a": [1, 2]}}, "parents": {"p": "k1", "q": "k2"}}
    b = {"parents": {"q": "k2", "p": "k1"}, "config": {"y": {"a": [1, 2], "b": 2}, "x": 1}, "stage": "s"}
    assert key_of(a) == key_of(b)
    assert len(key_of(a)) == artifacts.KEY_LENGTH


def test_key_changes_with_any_value():
    base = {"stage": "s", "config": {"x": 1}, "parents": {}}
    assert key_of(base) != key_of({**base, "config": {"x": 2}})
    assert key_of(base) != key_of({**base, "stage": "t"})
    assert key_of(base) != key_of({**base, "parents": {"p": "k"}})
    assert key_of({"v": 1}) != key_of({"v": 1.5})


@pytest.fixture
def package(tmp_path):
    """A copy of spade_core to edit."""
    pkg = tmp_path / "spade_core"
    shutil.copytree(artifacts.PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return pkg


def test_code_fingerprint_follows_edits_of_the_module_and_its_imports(package):
    before = {m: code_fingerprint(m, package) for m in ("spade_core.prepare", "spade_core.download")}
    # A comment or reformatting does not invalidate...
    text = (package / "prepare.py").read_text()
    (package / "prepare.py").write_text("# a comment\n" + text.replace("\n\n\n", "\n\n\n\n"))
    artifacts._fingerprint.cache_clear()
    assert code_fingerprint("spade_core.prepare", package) == before["spade_core.prepare"]
    # ...a code change does, and only for the modules that import it.
    (package / "parsing.py").write_text((package / "parsing.py").read_text() + "\nEXTRA = 1\n")
    artifacts._fingerprint.cache_clear()
    assert code_fingerprint("spade_core.prepare", package) != before["spade_core.prepare"]  # prepare imports parsing
    assert code_fingerprint("spade_core.download", package) == before["spade_core.download"]


def test_fingerprint_of_a_missing_module_is_an_error(package):
    with pytest.raises(ArtifactError, match="cannot fingerprint"):
        code_fingerprint("spade_core.nope", package)


def _writer(spec, inputs, outdir, payload="hello"):
    (outdir / "out.txt").write_text(payload)


def test_build_writes_spec_outputs_and_manifest(tmp_path):
    spec = make_spec("prepare", {"x": 1}, {}, "spade_core.prepare")
    target = tmp_path / "results" / "prepare" / key_of(spec) / "manifest.json"
    target.parent.mkdir(parents=True)  # as Snakemake does
    folder = build(spec, target, run=_writer, options={"payload": "data"})
    assert json.loads((folder / "spec.json").read_text()) == spec
    manifest = verify(folder)
    assert manifest["key"] == key_of(spec)
    assert set(manifest["files"]) == {"spec.json", "out.txt"}
    assert manifest["files"]["out.txt"]["sha256"] == artifacts.file_sha256(folder / "out.txt")
    assert {"python", "numpy"} <= set(manifest["versions"]) and manifest["wall_seconds"] >= 0
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_a_failing_build_leaves_nothing_behind(tmp_path):
    spec = make_spec("prepare", {"x": 1}, {}, "spade_core.prepare")
    target = tmp_path / "prepare" / key_of(spec) / "manifest.json"
    target.parent.mkdir(parents=True)

    def half_written(spec, inputs, outdir):
        (outdir / "out.txt").write_text("partial")
        raise RuntimeError("killed mid-way")

    with pytest.raises(RuntimeError, match="killed mid-way"):
        build(spec, target, run=half_written)
    assert list((tmp_path / "prepare").iterdir()) == []


def test_a_forced_rebuild_replaces_the_old_artifact(tmp_path):
    spec = make_spec("prepare", {"x": 1}, {}, "spade_core.prepare")
    target = tmp_path / "prepare" / key_of(spec) / "manifest.json"
    target.parent.mkdir(parents=True)
    build(spec, target, run=_writer)
    (target.parent / "stale.txt").write_text("from an older run")
    target.unlink()  # Snakemake deletes the declared output before rerunning
    build(spec, target, run=_writer, options={"payload": "new"})
    assert (target.parent / "out.txt").read_text() == "new"
    assert not (target.parent / "stale.txt").exists()


def test_verify_rejects_incomplete_and_corrupt_artifacts(tmp_path):
    spec = make_spec("prepare", {}, {}, "spade_core.prepare")
    target = tmp_path / "a" / "manifest.json"
    target.parent.mkdir()
    folder = build(spec, target, run=_writer)
    (folder / "out.txt").write_text("tampered")
    with pytest.raises(ArtifactError, match="corrupt: out.txt"):
        verify(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="incomplete"):
        verify(folder)


def test_build_verifies_its_parents(tmp_path):
    spec = make_spec("prepare", {}, {}, "spade_core.prepare")
    parent = tmp_path / "parent"
    parent.mkdir()
    build(spec, parent / "manifest.json", run=_writer)
    (parent / "out.txt").write_text("tampered")
    child = tmp_path / "child" / "manifest.json"
    child.parent.mkdir()
    with pytest.raises(ArtifactError, match="corrupt"):
        build(spec, child, inputs={"prepare": str(parent / "manifest.json")}, run=_writer)


def test_orphans_are_unreferenced_keys_and_partial_folders(tmp_path):
    for name in ("keep1", "drop1", ".keep2.partial-12"):
        (tmp_path / "stage1" / name).mkdir(parents=True)
    found = artifacts.remove_orphans({"keep1"}, root=tmp_path)
    assert sorted(p.name for p in found) == [".keep2.partial-12", "drop1"]
    assert [p.name for p in (tmp_path / "stage1").iterdir()] == ["keep1"]
