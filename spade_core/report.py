"""Aggregation over seeds and the paper tables (CSV, Markdown, booktabs LaTeX), plus the artifact index.

`aggregate` flattens every cell's metrics.json into long rows (dataset, seed, generator, ablation,
reference, metric, value) and then takes mean ± std over seeds. A metric that does not apply to a
generator (geometry without a latent space) has no rows, so its table cell prints as an em dash.

Tables mark the best value of each column in bold: lowest for distances (KS, W2, TV); closest to 1
for ratios (density ratio, NDI / its expectation, RelPerf); highest for PGPS lifts and Kendall's τ.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spade_core.artifacts import artifact_dir, configure_logging

log = logging.getLogger(__name__)
EM_DASH = "—"
KEYS = ["dataset", "generator", "ablation", "reference", "metric"]
NO_REFERENCE = "-"


# --- aggregation -----------------------------------------------------------------------------


def flatten(doc: dict) -> list[tuple[str, str, float]]:
    """(reference, metric, value) rows of one metrics.json; `null` values produce no row."""
    rows = [(NO_REFERENCE, f"distribution.{k}", v) for k, v in doc["distribution"].items()]
    for ref, geo in (doc["geometry"] or {}).items():
        for group, values in geo.items():
            if isinstance(values, dict):
                rows += [(ref, f"{group}.{k}", v) for k, v in values.items() if k not in ("k", "n_synthetic")]
            else:
                rows.append((ref, group, values))
    for universe in ("real", "synthetic"):
        for model, metrics in doc["tstr"][universe].items():
            rows += [(NO_REFERENCE, f"tstr.{universe}.{model}.{k}", v) for k, v in metrics.items() if "@" in k]
    for model, metrics in doc["tstr"]["relperf"].items():
        rows += [(NO_REFERENCE, f"relperf.{model}.{k}", v) for k, v in metrics.items()]
    rows.append((NO_REFERENCE, "fidelity.kendall_tau", doc["fidelity"]["kendall_tau"]))
    return [(r, m, float(v)) for r, m, v in rows if isinstance(v, (int, float)) and not isinstance(v, bool)
            and v is not None and math.isfinite(v)]


def long_table(cells: list[dict], root: str | Path = ".") -> pd.DataFrame:
    rows = []
    for cell in cells:
        path = Path(root) / artifact_dir("evaluate", cell["lineage"]["evaluate"]) / "metrics.json"
        doc = json.loads(path.read_text())
        coords = {k: cell[k] for k in ("dataset", "seed", "generator", "ablation")}
        rows += [{**coords, "reference": ref, "metric": m, "value": v} for ref, m, v in flatten(doc)]
    return pd.DataFrame(rows, columns=["dataset", "seed", "generator", "ablation", "reference", "metric", "value"])


def summarise(long: pd.DataFrame) -> pd.DataFrame:
    """mean, std (ddof=1; 0 for a single seed) and n over seeds per (dataset, generator, ablation, reference, metric)."""
    grouped = long.groupby(KEYS, sort=True)["value"]
    out = grouped.agg(mean="mean", std=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, n="count")
    return out.reset_index()


def aggregate(cells: list[dict], metrics_out: str | Path, summary_out: str | Path, log_file: str | None = None,
              root: str | Path = ".") -> None:
    configure_logging(log_file)
    long = long_table(cells, root)
    long.to_parquet(metrics_out, index=False)
    summarise(long).to_parquet(summary_out, index=False)
    log.info("aggregated %d cells into %d metric rows", len(cells), len(long))


# --- tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str  # Markdown/CSV header; LaTeX escapes it
    reference: str
    metric: str
    best: str  # "min", "max", "one" (closest to 1)


def _relperf(model: str) -> Column:
    return Column(f"RelPerf NDCG@10 ({model.upper()})", NO_REFERENCE, f"relperf.{model}.ndcg@10", "one")


MAIN_COLUMNS = [
    Column("KS users", NO_REFERENCE, "distribution.ks_user", "min"),
    Column("KS items", NO_REFERENCE, "distribution.ks_item", "min"),
    Column("Density ratio", NO_REFERENCE, "distribution.density_ratio", "one"),
    Column("Rating TV", NO_REFERENCE, "distribution.rating_tv", "min"),
    Column("PGPS (MF)", "mf", "pgps.pgps", "none"),
    Column("PGPS lift (floor)", "mf", "pgps.lift_floor", "max"),
    Column("PGPS lift (null)", "mf", "pgps.lift_null", "max"),
    Column("PGPS lift (null, NCF)", "ncf", "pgps.lift_null", "max"),
    Column("NDI (MF)", "mf", "ndi.ndi", "none"),
    Column("NDI expected", "mf", "ndi.expected", "none"),
    Column("NDI / expected", "mf", "ndi.ratio", "one"),
    Column("W2 users (MF)", "mf", "w2_users.w2_exact", "min"),
    Column("W2 items (MF)", "mf", "w2_items.w2_exact", "min"),
    _relperf("mf"),
    _relperf("ncf"),
    _relperf("bpr"),
    Column("Fidelity τ", NO_REFERENCE, "fidelity.kendall_tau", "max"),
]
TSTR_METRICS = ["recall@10", "ndcg@10", "map@10", "recall@20", "ndcg@20", "map@20"]


def _lookup(summary: pd.DataFrame) -> dict:
    return {tuple(r[k] for k in KEYS): (r["mean"], r["std"]) for r in summary.to_dict("records")}


def _best(values: list[float | None], rule: str) -> float | None:
    present = [v for v in values if v is not None]
    if not present or rule == "none":
        return None
    key = {"min": lambda v: v, "max": lambda v: -v, "one": lambda v: abs(v - 1)}[rule]
    return min(present, key=key)


@dataclass
class Table:
    name: str
    caption: str
    row_header: str
    rows: list[str]
    columns: list[str]
    cells: list[list[tuple[float, float] | None]]  # (mean, std) or None (not applicable)
    best: list[str]

    def formatted(self) -> list[list[tuple[str, bool]]]:
        """Each cell as (text, is_best)."""
        out = []
        best_values = [_best([c[0] if c else None for c in col], rule) for col, rule in zip(zip(*self.cells), self.best)]
        for row in self.cells:
            out.append([(EM_DASH, False) if c is None else (f"{c[0]:.3f} ± {c[1]:.3f}", c[0] == b)
                        for c, b in zip(row, best_values)])
        return out

    def csv(self) -> str:
        frame = pd.DataFrame([[t for t, _ in row] for row in self.formatted()], columns=self.columns)
        frame.insert(0, self.row_header, self.rows)
        return frame.to_csv(index=False)

    def markdown(self) -> str:
        lines = [f"| {self.row_header} | " + " | ".join(self.columns) + " |",
                 "|---" * (len(self.columns) + 1) + "|"]
        for name, row in zip(self.rows, self.formatted()):
            lines.append(f"| {name} | " + " | ".join(f"**{t}**" if b else t for t, b in row) + " |")
        return f"**{self.caption}**\n\n" + "\n".join(lines) + "\n"

    def latex(self) -> str:
        spec = "l" + "r" * len(self.columns)
        head = " & ".join([latex_escape(self.row_header)] + [latex_escape(c) for c in self.columns])
        body = []
        for name, row in zip(self.rows, self.formatted()):
            cells = [latex_number(t, b) for t, b in row]
            body.append(" & ".join([latex_escape(name)] + cells) + r" \\")
        return "\n".join([
            r"% Generated by SPADE (spade_core.report); needs \usepackage{booktabs} and \usepackage{graphicx}.",
            r"\begin{table}[ht]", r"\centering", rf"\caption{{{latex_escape(self.caption)}}}",
            rf"\label{{tab:spade-{self.name}}}", r"\resizebox{\linewidth}{!}{%", rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule", head + r" \\", r"\midrule", *body, r"\bottomrule", r"\end{tabular}}", r"\end{table}", "",
        ])


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                 "±": r"$\pm$", "τ": r"$\tau$", "ρ": r"$\rho$", "—": "---", "×": r"$\times$"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex_number(text: str, best: bool) -> str:
    if text == EM_DASH:
        return "---"
    mean, std = text.split(" ± ")
    mean = rf"\mathbf{{{mean}}}" if best else mean
    return rf"${mean} \pm {std}$"


def _row_label(dataset: str, generator: str, ablation: str, datasets: list[str]) -> str:
    label = generator if ablation == "base" else f"{generator}/{ablation}"
    return f"{dataset}: {label}" if len(datasets) > 1 else label


def build_tables(summary: pd.DataFrame, cells: list[dict]) -> list[Table]:
    look = _lookup(summary)
    datasets = sorted({c["dataset"] for c in cells})
    combos = sorted({(c["dataset"], c["generator"], c["ablation"]) for c in cells},
                    key=lambda t: (t[0], t[1] != "spade", t[1], t[2] != "base", t[2]))
    n_seeds = sorted({c["seed"] for c in cells})

    def table(name, caption, chosen):
        rows = [_row_label(d, g, a, datasets) for d, g, a in chosen]
        data = [[look.get((d, g, a, col.reference, col.metric)) for col in MAIN_COLUMNS] for d, g, a in chosen]
        return Table(name, caption, "Generator", rows, [c.header for c in MAIN_COLUMNS], data,
                     [c.best for c in MAIN_COLUMNS])

    seeds = f"mean ± std over {len(n_seeds)} seed(s)"
    main = table("main", f"Generators side by side ({seeds}); bold: best per column.",
                 [t for t in combos if t[2] == "base"])
    ablations = table("ablations", f"SPADE ablations ({seeds}); bold: best per column.",
                      [t for t in combos if t[1] == "spade"])
    tstr_rows, tstr_cells = [], []
    real_models = sorted({m.split(".")[2] for m in summary["metric"] if m.startswith("tstr.real.")})
    for d in datasets:
        first = next(t for t in combos if t[0] == d)
        for model in real_models:
            tstr_rows.append(_row_label(d, "real", "base", datasets) + f" · {model}")
            tstr_cells.append([look.get((*first, NO_REFERENCE, f"tstr.real.{model}.{m}")) for m in TSTR_METRICS])
    for d, g, a in combos:
        for model in real_models:
            tstr_rows.append(_row_label(d, g, a, datasets) + f" · {model}")
            tstr_cells.append([look.get((d, g, a, NO_REFERENCE, f"tstr.synthetic.{model}.{m}")) for m in TSTR_METRICS])
    tstr_table = Table("tstr", f"TS-TR absolute ranking metrics, each universe scored on its own holdout ({seeds}).",
                       "Universe · recommender", tstr_rows, TSTR_METRICS, tstr_cells,
                       ["none"] * len(TSTR_METRICS))
    return [main, ablations, tstr_table]


def index_frame(cells: list[dict]) -> pd.DataFrame:
    """One row per matrix cell: coordinates and the key of every artifact in its lineage."""
    roles = sorted({role for c in cells for role in c["lineage"]})
    rows = [{**{k: c[k] for k in ("dataset", "seed", "generator", "ablation")},
             **{role: c["lineage"].get(role, "") for role in roles}} for c in cells]
    return pd.DataFrame(rows).sort_values(["dataset", "seed", "generator", "ablation"])


def write_tables(summary_path: str | Path, cells: list[dict], outdir: str | Path, log_file: str | None = None) -> None:
    configure_logging(log_file)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    summary = pd.read_parquet(summary_path)
    for table in build_tables(summary, cells):
        (outdir / f"{table.name}.csv").write_text(table.csv())
        (outdir / f"{table.name}.md").write_text(table.markdown())
        (outdir / f"{table.name}.tex").write_text(table.latex())
    index_frame(cells).to_csv(outdir / "index.csv", index=False)
    log.info("wrote %s", ", ".join(f"{t}.csv/.md/.tex" for t in ("main", "ablations", "tstr")))
