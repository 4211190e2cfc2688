"""The smoke gate: invariants a real run must hold, one PASS/FAIL line per check.

Run through Snakemake on a small matrix (`snakemake --cores 2 smoke --configfile resources/smoke.yaml`);
any FAIL fails the rule. Checks: artifact wiring (every lineage artifact complete and verified, parents as the
graph says), exact entity counts, ratings inside the real vocabulary, no duplicate pairs, a repeated
Stage III synthesis reproducing its artifact bit for bit, and PGPS strictly between its floor and the
copy ceiling for every generator with a latent space.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from spade_core import stage1, stage2, stage3, synthetic
from spade_core.artifacts import ArtifactError, artifact_dir, configure_logging, verify
from spade_core.data import SYNTHETIC_COLUMNS, load_prepared, write_interactions

log = logging.getLogger(__name__)


def _generator_role(lineage: dict) -> str:
    return next(r for r in lineage if r == "stage3" or r.startswith("baseline_"))


def _folder(root: Path, role: str, key: str) -> Path:
    stage = "reference" if role.startswith("reference_") else role
    return root / artifact_dir(stage, key)


def check_wiring(cells: list[dict], root: Path) -> list[str]:
    problems = []
    for cell in cells:
        for role, key in cell["lineage"].items():
            try:
                verify(_folder(root, role, key))
            except ArtifactError as err:
                problems.append(str(err))
        gen = _generator_role(cell["lineage"])
        spec = json.loads((_folder(root, "evaluate", cell["lineage"]["evaluate"]) / "spec.json").read_text())
        if spec["parents"].get("generator") != cell["lineage"][gen]:
            problems.append(f"evaluate {cell['lineage']['evaluate']} does not read generator {cell['lineage'][gen]}")
    return problems


def check_outputs(cells: list[dict], root: Path) -> dict[str, list[str]]:
    """Problems per check ('counts', 'ratings', 'duplicates') over every generator output."""
    found = {"counts": [], "ratings": [], "duplicates": []}
    seen = set()
    for cell in cells:
        gen = _generator_role(cell["lineage"])
        key = cell["lineage"][gen]
        if key in seen:
            continue
        seen.add(key)
        folder = _folder(root, gen, key)
        cfg = json.loads((folder / "spec.json").read_text())["config"]
        real = load_prepared(_folder(root, "prepare", cell["lineage"]["prepare"]))
        n_users, n_items = synthetic.target_size(real.n_users, real.n_items, cfg["alpha"], cfg["beta"])
        syn = synthetic.load(folder)
        name = f"{gen}/{key}"
        if (syn.n_users, syn.n_items) != (n_users, n_items):
            found["counts"].append(f"{name}: {syn.n_users} x {syn.n_items}, expected {n_users} x {n_items}")
        x = syn.interactions
        if not np.isin(x.rating, real.vocab).all():
            found["ratings"].append(f"{name}: ratings outside {real.vocab.tolist()}")
        if len(np.unique(x.user.astype(np.int64) * syn.n_items + x.item)) != len(x):
            found["duplicates"].append(f"{name}: duplicate (user, item) pairs")
    return found


def check_determinism(cells: list[dict], root: Path) -> list[str]:
    """Re-run one Stage III synthesis from its parents and compare the interaction bytes."""
    cell = next((c for c in cells if "stage3" in c["lineage"]), None)
    if cell is None:
        return ["no SPADE cell in the matrix to re-synthesise"]
    folder = _folder(root, "stage3", cell["lineage"]["stage3"])
    cfg = json.loads((folder / "spec.json").read_text())["config"]
    s1 = _folder(root, "stage1", cell["lineage"]["stage1"])
    real = load_prepared(_folder(root, "prepare", cell["lineage"]["prepare"]))
    model, arch = stage1.load(s1)
    latents = (np.load(s1 / "user_latents.npy"), np.load(s1 / "item_latents.npy"))
    syn, _ = stage3.synthesize(real, model, arch, stage2.load(_folder(root, "stage2", cell["lineage"]["stage2"])),
                               latents, cfg, cfg["seed"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "interactions.parquet"
        write_interactions(path, synthetic.sort_pairs(syn.interactions), SYNTHETIC_COLUMNS)
        same = path.read_bytes() == (folder / "interactions.parquet").read_bytes()
    return [] if same else [f"re-synthesising stage3/{folder.name} gave different bytes"]


def check_pgps(cells: list[dict], root: Path) -> tuple[list[str], int]:
    problems, checked = [], 0
    for cell in cells:
        doc = json.loads((_folder(root, "evaluate", cell["lineage"]["evaluate"]) / "metrics.json").read_text())
        for ref, geo in (doc["geometry"] or {}).items():
            checked += 1
            p = geo["pgps"]
            if not p["floor"] < p["pgps"] < 1.0:
                problems.append(f"{cell['generator']}/{cell['ablation']} seed {cell['seed']} ({ref}): "
                                f"PGPS {p['pgps']:.4f} not strictly between floor {p['floor']:.4f} and 1")
    return problems, checked


def run(cells: list[dict], report_out: str | Path, log_file: str | None = None, root: str | Path = ".") -> None:
    """Run every check, write the PASS/FAIL report, and raise if any check failed."""
    configure_logging(log_file)
    root = Path(root)
    outputs = check_outputs(cells, root)
    pgps_problems, pgps_checked = check_pgps(cells, root)
    results = [
        ("artifact wiring", check_wiring(cells, root), f"{len(cells)} cells"),
        ("entity counts", outputs["counts"], "exact U' x I'"),
        ("rating support", outputs["ratings"], "every rating in the real vocabulary"),
        ("no duplicate pairs", outputs["duplicates"], "one row per (user, item)"),
        ("deterministic synthesis", check_determinism(cells, root), "repeated Stage III, same bytes"),
        ("PGPS between floor and ceiling", pgps_problems, f"{pgps_checked} generator x reference results"),
    ]
    lines = [f"{'FAIL' if problems else 'PASS'} {name}: {'; '.join(problems[:5]) if problems else detail}"
             for name, problems, detail in results]
    Path(report_out).write_text("\n".join(lines) + "\n")
    for line in lines:
        log.info(line)
        print(line)
    failed = [name for name, problems, _ in results if problems]
    if failed:
        raise RuntimeError(f"smoke: {len(failed)} check(s) failed: {', '.join(failed)}")
