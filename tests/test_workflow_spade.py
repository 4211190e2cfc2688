"""A real Snakemake run of a small matrix on ml-100k (few epochs) all the way to the tables, then real
dry-runs after config changes: only what a change invalidates is scheduled again."""

import json

import numpy as np
import pandas as pd
import pytest

from spade_core import synthetic
from spade_core.data import load_prepared
from tests.conftest import Workflow, job_counts

pytestmark = pytest.mark.slow

MATRIX = "matrix={seeds: [0], generators: [spade, random], ablations: [base, gating_off]}"
EVAL = "tstr_models: [mf], reference: {epochs: 2}"
CONFIG = [MATRIX, "representation={epochs: 3}", "generative={epochs: 5}", f"eval={{{EVAL}}}"]
TARGET = "results/tables/main.tex"


@pytest.fixture(scope="module")
def ran(tmp_path_factory, mirror):
    workflow = Workflow(tmp_path_factory.mktemp("matrix"), mirror)
    planned = job_counts(_text(workflow.run("-n", TARGET, "--config", *CONFIG)))
    workflow.run("--cores", "2", TARGET, "--config", *CONFIG)
    return workflow, planned


def _text(proc) -> str:
    return proc.stdout + proc.stderr


def _rescheduled(workflow, *changes) -> dict:
    """The jobs a dry-run schedules after the finished run, with `changes` appended to the config."""
    out = _text(workflow.run("-n", TARGET, "--config", *CONFIG, *changes))
    return {} if "Nothing to be done" in out else job_counts(out)


def test_synthesis_only_ablation_shares_stage1_and_stage2_in_the_plan(ran):
    _, planned = ran
    assert planned["stage1"] == 1 and planned["stage2"] == 1 and planned["stage3"] == 2
    assert planned["evaluate"] == 3 and planned["baseline_random"] == 1


def test_stages_one_to_three_on_ml100k(ran):
    workflow, _ = ran
    [s1], [s2] = workflow.artifacts("stage1"), workflow.artifacts("stage2")
    s3 = workflow.artifacts("stage3")
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


def test_evaluations_and_tables(ran):
    workflow, _ = ran
    docs = {json.loads((f / "spec.json").read_text())["parents"]["generator"]: json.loads((f / "metrics.json").read_text())
            for f in workflow.artifacts("evaluate")}
    assert len(docs) == 3
    for folder in workflow.artifacts("baseline_random"):
        assert docs[folder.name]["geometry"] is None  # no latent space: not applicable, not a number
    for folder in workflow.artifacts("stage3"):
        geo = docs[folder.name]["geometry"]
        assert set(geo) == {"mf", "ncf"} and 0 < geo["mf"]["pgps"]["pgps"] < 1
    tables = workflow.dir / "results" / "tables"
    main = pd.read_csv(tables / "main.csv")
    assert list(main["Generator"]) == ["spade", "random"]
    assert main.loc[1, "PGPS (MF)"] == "—"  # random has no latent space
    assert (tables / "main.tex").read_text().count(r"\begin{tabular}") == 1
    index = pd.read_csv(tables / "index.csv", dtype=str)
    assert len(index) == 3 and set(index["evaluate"]) == {f.name for f in workflow.artifacts("evaluate")}


def test_a_finished_run_has_nothing_left_to_do(ran):
    workflow, _ = ran
    assert _rescheduled(workflow) == {}


def test_gamma_reschedules_synthesis_and_what_follows_only(ran):
    workflow, _ = ran
    assert _rescheduled(workflow, "synthesis={gamma: 3.0}") == {"stage3": 2, "evaluate": 2, "aggregate": 1, "tables": 1}


def test_representation_epochs_reschedule_spade_from_stage1_but_no_baseline(ran):
    workflow, _ = ran
    assert _rescheduled(workflow, "representation={epochs: 4}") == {
        "stage1": 1, "stage2": 1, "stage3": 2, "evaluate": 2, "aggregate": 1, "tables": 1}


def test_an_evaluation_setting_reschedules_evaluation_and_tables_only(ran):
    workflow, _ = ran
    assert _rescheduled(workflow, f"eval={{{EVAL}, neighbor_k: 5}}") == {"evaluate": 3, "aggregate": 1, "tables": 1}


def test_jobs_share_compiled_programs_and_a_cached_program_gives_the_same_bytes(ran):
    # Last in this module: it rebuilds an artifact, which the dry-run tests above must not see.
    workflow, _ = ran
    assert list((workflow.dir / ".cache" / "jax").glob("*-cache")), "no compiled program was cached"
    folder = next(f for f in workflow.artifacts("stage3") if json.loads((f / "spec.json").read_text())["config"]["gating"])
    before = (folder / "interactions.parquet").read_bytes()
    target = str((folder / "manifest.json").relative_to(workflow.dir))
    workflow.run("--cores", "1", "--force", target, "--config", *CONFIG, env={"JAX_LOG_COMPILES": "1"})
    log = (workflow.dir / "logs" / "stage3" / f"{folder.name}.log").read_text()
    assert "Persistent compilation cache hit" in log  # Stage III's programs came from the first run's cache
    assert (folder / "interactions.parquet").read_bytes() == before
