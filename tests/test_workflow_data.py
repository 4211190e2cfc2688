"""Real Snakemake runs of the data stages on the MovieLens-100K mirror."""

import json
import shutil

import numpy as np
import pytest

from spade_core import config
from spade_core.data import load_prepared
from spade_core.matrix import build_graph
from tests.conftest import job_counts

pytestmark = pytest.mark.slow


def test_dry_run_lists_the_whole_matrix_before_any_data_exists(workflow):
    out = workflow.run("-n", "results/tables/main.tex")
    counts = job_counts(out.stdout + out.stderr)
    assert counts == {
        "download": 1, "prepare": 5, "reference": 10, "tstr_real": 5, "stage1": 15, "stage2": 20, "stage3": 35,
        "baseline_random": 5, "baseline_marginal": 5, "baseline_noise_mf": 5, "baseline_ganrs": 5,
        "baseline_vae": 5, "evaluate": 60, "aggregate": 1, "tables": 1,
    }
    assert not (workflow.dir / "results").exists()


def test_lint_is_clean(workflow):
    out = workflow.run("--lint")
    assert "Congratulations, your workflow is in a good condition!" in out.stdout + out.stderr


def test_prepare_on_ml100k(workflow):
    workflow.run("--cores", "2", "prepared", "--config", "matrix={seeds: [0, 1]}")
    [download] = workflow.artifacts("download")
    prepared = workflow.artifacts("prepare")
    assert len(prepared) == 2
    tests = []
    for folder in prepared:
        ds = load_prepared(folder)
        stats = json.loads((folder / "stats.json").read_text())
        assert (stats["users"], stats["items"], stats["interactions"]) == (943, 1349, 99287)
        splits = [set(zip(s.user.tolist(), s.item.tolist())) for s in (ds.train, ds.val, ds.test)]
        assert sum(map(len, splits)) == 99287 and len(set().union(*splits)) == 99287  # disjoint, complete
        assert set(np.unique(ds.train.user)) == set(range(943))
        assert set(np.unique(np.r_[ds.val.item, ds.test.item])) <= set(np.unique(ds.train.item))
        assert json.loads((folder / "spec.json").read_text())["parents"] == {"download": download.name}
        tests.append(splits[2])
    assert tests[0] != tests[1]  # seeds 0 and 1 split differently
    again = workflow.run("--cores", "2", "prepared", "--config", "matrix={seeds: [0, 1]}")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_same_seed_gives_the_same_bytes(workflow, tmp_path_factory):
    workflow.run("--cores", "1", "prepared", "--config", "matrix={seeds: [3]}")
    [folder] = workflow.artifacts("prepare")
    first = (folder / "train.parquet").read_bytes()
    workflow.run("--cores", "1", "prepared", "--config", "matrix={seeds: [3]}", "--forcerun", "prepare")
    assert (folder / "train.parquet").read_bytes() == first


def test_nested_command_line_overrides(workflow):
    out = workflow.run("-n", "results/tables/main.tex", "--config", "synthesis={gamma: 3.0}", "matrix={seeds: [0]}")
    expected = build_graph(config.load({"synthesis": {"gamma": 3.0}, "matrix": {"seeds": [0]}}))
    default = build_graph(config.load({"matrix": {"seeds": [0]}}))
    text = out.stdout + out.stderr
    assert all(k in text for k in expected.keys("stage3"))
    assert not any(k in text for k in default.keys("stage3"))
    assert all(k in text for k in default.keys("stage1"))  # untouched stages keep their keys


def test_configfile_overrides_merge_nested_keys(workflow):
    (workflow.dir / "mine.yaml").write_text("synthesis:\n  gamma: 3.0\nmatrix:\n  seeds: [0]\n")
    out = workflow.run("-n", "results/tables/main.tex", "--configfile", "config.yaml", "mine.yaml")
    expected = build_graph(config.load({"synthesis": {"gamma": 3.0}, "matrix": {"seeds": [0]}}))
    assert all(k in out.stdout + out.stderr for k in expected.keys("stage3"))


def test_invalid_config_fails_at_parse_time(workflow):
    out = workflow.run("-n", "--config", "synthesis={gamma: 0.5}", check=False)
    assert out.returncode != 0
    assert "invalid config at 'synthesis.gamma': value 0.5" in out.stdout + out.stderr
    out = workflow.run("-n", "--config", "matrix={datasets: [ml-20m]}", check=False)
    assert out.returncode != 0 and "unknown dataset 'ml-20m'" in out.stdout + out.stderr


def _no_trusted_download(workflow):
    root = workflow.dir / "results" / "artifacts" / "download"
    return not root.exists() or not any(root.iterdir())


def test_checksum_mismatch_fails_and_leaves_no_artifact(workflow, tmp_path):
    bad = tmp_path / "bad-mirror" / "ml-100k"
    shutil.copytree(workflow.mirror / "ml-100k", bad)
    (bad / "u.data").write_bytes((bad / "u.data").read_bytes().replace(b"\t5\t", b"\t4\t", 1))
    (bad / "u.data").chmod(0o644)
    out = workflow.run("--cores", "1", "prepared", "--config", "matrix={seeds: [0]}", check=False,
                       env={"SPADE_DATA_MIRROR": str(bad.parent)})
    assert out.returncode != 0
    [log] = (workflow.dir / "logs" / "download").glob("*.log")
    text = log.read_text()
    assert "checksum mismatch" in text and str(bad / "u.data") in text
    assert "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490" in text
    assert _no_trusted_download(workflow)


def test_missing_mirror_fails_clearly(workflow, tmp_path):
    out = workflow.run("--cores", "1", "prepared", "--config", "matrix={seeds: [0]}", check=False,
                       env={"SPADE_DATA_MIRROR": str(tmp_path / "nowhere")})
    assert out.returncode != 0
    [log] = (workflow.dir / "logs" / "download").glob("*.log")
    assert "does not exist" in log.read_text()
    assert _no_trusted_download(workflow)
