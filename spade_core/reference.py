"""Reference models: MF or NCF trained on the real training split, whose user and item embeddings
are the shared space every generator of a (dataset, seed) is evaluated in."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from spade_core import recommenders
from spade_core.data import load_prepared, write_json

log = logging.getLogger(__name__)


def run(spec: dict, inputs: dict, outdir: Path) -> None:
    cfg = dict(spec["config"])
    name, seed = cfg.pop("model"), cfg.pop("seed")
    real = load_prepared(inputs["prepare"])
    rec = recommenders.fit(name, real.train, real.n_users, real.n_items, cfg, seed)
    np.save(outdir / "user_factors.npy", rec.user_factors.astype(np.float32))
    np.save(outdir / "item_factors.npy", rec.item_factors.astype(np.float32))
    test = recommenders.evaluate(rec, real.train, real.test, real.n_users, real.n_items, [10, 20])
    write_json(outdir / "report.json", {"model": name, "fit_seconds": rec.report["fit_seconds"], "test": test})
    log.info("reference %s: NDCG@10 %.4f on the real test split, fitted in %.1f s", name, test["ndcg@10"],
             rec.report["fit_seconds"])
