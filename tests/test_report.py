"""Aggregation and tables from evaluation documents written to disk."""

import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from spade_core import report
from spade_core.artifacts import artifact_dir


def metrics_doc(rng, latents: bool, scale: float):
    def ranking():
        return {k: float(rng.uniform(0.1, 0.3)) for k in ("recall@10", "ndcg@10", "map@10", "recall@20", "ndcg@20", "map@20")}

    models = ("popularity", "itemknn", "mf", "bpr", "ncf")
    geo = {ref: {"map_r2_users": 0.5, "pgps": {"pgps": 0.3 * scale, "floor": 0.01, "null": 0.2, "lift_floor": 0.29 * scale,
                                               "lift_null": 0.1 * scale, "k": 10, "n_synthetic": 5},
                 "ndi": {"ndi": 0.7, "expected": 0.66, "ratio": 0.7 / 0.66},
                 "w2_users": {"w2_exact": 2.0 * scale, "w2_bures": 1.0}, "w2_items": {"w2_exact": 2.5, "w2_bures": 1.0}}
           for ref in ("mf", "ncf")}
    return {
        "distribution": {"ks_user": 0.05 * scale, "ks_item": 0.07, "density_ratio": 1.0 + 0.1 * scale, "rating_tv": 0.02},
        "geometry": geo if latents else None,
        "tstr": {"real": {m: ranking() for m in models}, "synthetic": {m: ranking() for m in models},
                 "relperf": {m: {"ndcg@10": 0.9 * scale} for m in ("mf", "ncf", "bpr")}},
        "fidelity": {"kendall_tau": 0.6},
    }


@pytest.fixture
def results(tmp_path):
    rng = np.random.default_rng(0)
    cells = []
    specs = [("spade", "base", True, 1.0), ("spade", "gating_off", True, 2.0), ("random", "base", False, 3.0)]
    for seed in (0, 1):
        for generator, ablation, latents, scale in specs:
            key = f"{len(cells):016x}"
            folder = tmp_path / artifact_dir("evaluate", key)
            folder.mkdir(parents=True)
            (folder / "metrics.json").write_text(json.dumps(metrics_doc(rng, latents, scale + 0.01 * seed)))
            lineage = {"prepare": "p" * 16, "evaluate": key}
            cells.append({"dataset": "ml-100k", "seed": seed, "generator": generator, "ablation": ablation,
                          "lineage": lineage})
    report.aggregate(cells, tmp_path / "metrics.parquet", tmp_path / "summary.parquet", root=tmp_path)
    report.write_tables(tmp_path / "summary.parquet", cells, tmp_path / "tables")
    return tmp_path, cells


def test_mean_and_std_over_seeds(results):
    root, _ = results
    summary = pd.read_parquet(root / "summary.parquet")
    row = summary[(summary.generator == "spade") & (summary.ablation == "base") & (summary.metric == "distribution.ks_user")]
    assert row["mean"].item() == pytest.approx(0.05 * 1.005) and row["n"].item() == 2
    assert row["std"].item() == pytest.approx(np.std([0.05, 0.0505], ddof=1))


def test_not_applicable_cells_are_em_dashes(results):
    root, _ = results
    main = pd.read_csv(root / "tables" / "main.csv")
    random_row = main[main.Generator == "random"].iloc[0]
    assert random_row["PGPS (MF)"] == "—" and random_row["W2 users (MF)"] == "—"
    assert random_row["KS users"] != "—"
    text = (root / "tables" / "main.md").read_text() + (root / "tables" / "main.tex").read_text()
    assert "nan" not in text.lower()


def test_best_values_are_marked(results):
    root, _ = results
    md = (root / "tables" / "main.md").read_text()
    spade = next(line for line in md.splitlines() if line.startswith("| spade |"))
    assert "**0.050 ± 0.000**" in spade  # lowest KS users (0.0500, 0.0505 -> 0.050 ± 0.000)
    ablations = (root / "tables" / "ablations.csv").read_text()
    assert "spade/gating_off" in ablations and "random" not in ablations


def test_latex_is_structurally_sound(results):
    root, _ = results
    tex = (root / "tables" / "main.tex").read_text()
    assert tex.count(r"\begin{") == tex.count(r"\end{") and r"\toprule" in tex and r"\bottomrule" in tex
    n_cols = len(re.search(r"\\begin\{tabular\}\{(lr*)\}", tex).group(1))
    rows = [line for line in tex.splitlines() if line.endswith(r"\\")]
    assert rows and all(line.count("&") == n_cols - 1 for line in rows)
    body = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    assert "±" not in body and "—" not in body and "_" not in body.replace(r"\_", "")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles_inside_a_document(results, tmp_path):
    root, _ = results
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage{graphicx}\\begin{document}\n"
                   + (root / "tables" / "main.tex").read_text() + "\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", doc.name], cwd=tmp_path, capture_output=True)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_index_lists_every_cell_with_its_keys(results):
    root, cells = results
    index = pd.read_csv(root / "tables" / "index.csv", dtype=str)
    assert len(index) == len(cells) and set(index["evaluate"]) == {c["lineage"]["evaluate"] for c in cells}
