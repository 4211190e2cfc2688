"""TS-TR (train on synthetic, test on real) and benchmark fidelity: recommenders inside one universe.

Each recommender is trained and scored inside its own universe: on the real data, trained on the
real training split and scored on the real test split; on a synthetic dataset, trained on its
training part and scored on a per-user synthetic holdout (the same split protocol as the real data,
test fraction `HOLDOUT_FRAC`, no validation part). Training items are always masked from the
rankings. RelPerf = synthetic / real, per recommender and metric.

Benchmark fidelity ranks FIDELITY_MODELS by NDCG@10 in both universes and reports Kendall's τ between
the two orders: does the synthetic data rank recommenders as the real data does?

The `tstr_real` stage computes the real universe once per (dataset, seed); `evaluate` reuses it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from spade_core import recommenders
from spade_core.data import Interactions, load_prepared, write_json
from spade_core.prepare import TRAIN, split_labels

log = logging.getLogger(__name__)
HOLDOUT_FRAC = 0.1
FIDELITY_MODELS = ("popularity", "itemknn", "mf", "bpr", "ncf")
FIDELITY_METRIC = "ndcg@10"


def models_to_run(tstr_models: list[str]) -> list[str]:
    """The TS-TR models plus the benchmark-fidelity set, in a fixed order."""
    return [m for m in recommenders.MODELS if m in set(tstr_models) | set(FIDELITY_MODELS)]


def universe(train: Interactions, test: Interactions, n_users: int, n_items: int, models: list[str],
             cfg: dict, ks: list[int], seed: int) -> dict:
    """{model: ranking metrics (+ fit_seconds)} for each model trained on `train`, scored on `test`."""
    out = {}
    for name in models:
        rec = recommenders.fit(name, train, n_users, n_items, cfg, seed)
        out[name] = {**recommenders.evaluate(rec, train, test, n_users, n_items, ks),
                     "fit_seconds": rec.report["fit_seconds"]}
        log.info("%s: NDCG@10 %.4f  Recall@10 %.4f", name, out[name].get("ndcg@10", np.nan),
                 out[name].get("recall@10", np.nan))
    return out


def holdout(data: Interactions, seed: int) -> tuple[Interactions, Interactions]:
    """(train, test) of a synthetic dataset: the real split protocol with a test fraction only."""
    labels = split_labels(data.user, data.item, 0.0, HOLDOUT_FRAC, seed)
    return data.take(np.flatnonzero(labels == TRAIN)), data.take(np.flatnonzero(labels != TRAIN))


def relperf(real: dict, synth: dict, models: list[str]) -> dict:
    """synthetic / real for every metric of every TS-TR model (None where the real figure is 0)."""
    out = {}
    for m in models:
        keys = [k for k in real[m] if "@" in k]
        out[m] = {k: (synth[m][k] / real[m][k] if real[m][k] else None) for k in keys}
    return out


def fidelity(real: dict, synth: dict) -> dict:
    """Kendall's τ between the recommenders' NDCG@10 orders in the two universes."""
    a = [real[m][FIDELITY_METRIC] for m in FIDELITY_MODELS]
    b = [synth[m][FIDELITY_METRIC] for m in FIDELITY_MODELS]
    tau = kendalltau(a, b).statistic
    return {"kendall_tau": None if np.isnan(tau) else float(tau), "models": list(FIDELITY_MODELS),
            "metric": FIDELITY_METRIC, "real": a, "synthetic": b}


def run(spec: dict, inputs: dict, outdir: Path) -> None:
    cfg = spec["config"]
    real = load_prepared(inputs["prepare"])
    metrics = universe(real.train, real.test, real.n_users, real.n_items, models_to_run(cfg["tstr_models"]),
                       cfg["reference"], cfg["topk"], cfg["seed"])
    write_json(outdir / "metrics.json", metrics)
