"""A real Snakemake run of SPADE's three stages on ml-100k (few epochs)."""

import json

import numpy as np
import pytest

from spade_core import synthetic
from spade_core.data import load_prepared

pytestmark = pytest.mark.slow

CONFIG = ["matrix={seeds: [0], generators: [spade], ablations: [base, gating_off]}",
          "representation={epochs: 3}", "generative={epochs: 5}"]


def test_stages_one_to_three_on_ml100k(workflow):
    out = workflow.run("--cores", "2", "synthesized", "--config", *CONFIG)
    [s1], [s2] = workflow.artifacts("stage1"), workflow.artifacts("stage2")
    s3 = workflow.artifacts("stage3")
    assert len(s3) == 2  # base and gating_off share stage1/stage2
    report = json.loads((s1 / "report.json").read_text())
    assert report["epochs_run"] == 3 and 0.5 < report["val_auc"] <= 1
    assert (s1 / "params.npz").is_file() and np.load(s1 / "user_latents.npy").shape == (943, 64)
    assert set(json.loads((s2 / "report.json").read_text())) == {"users", "items"}
    log = (workflow.dir / "logs" / "stage1" / f"{s1.name}.log").read_text()
    assert log.count("epoch ") >= 3  # a progress line per epoch
    [real_dir] = workflow.artifacts("prepare")
    real = load_prepared(real_dir)
    summaries = {}
    for folder in s3:
        spec = json.loads((folder / "spec.json").read_text())
        assert spec["parents"] == {"prepare": real_dir.name, "stage1": s1.name, "stage2": s2.name}
        syn = synthetic.load(folder)
        synthetic.check_invariants(syn, 1886, 2698, real.vocab)
        summaries[spec["config"]["gating"]] = json.loads((folder / "summary.json").read_text())
    c = summaries[False]["synthesis"]["candidates_per_user"]
    assert summaries[False]["interactions"] == 1886 * c  # gating off: every candidate
    assert summaries[True]["interactions"] < summaries[False]["interactions"]
    assert (workflow.dir / "benchmarks" / "stage3").is_dir()
    again = workflow.run("--cores", "2", "synthesized", "--config", *CONFIG)
    assert "Nothing to be done" in again.stdout + again.stderr
