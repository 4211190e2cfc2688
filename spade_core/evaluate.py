"""The evaluation suite of one generator output (Stage III or a baseline): one metrics.json.

- distribution: degree KS on normalised and raw degrees, density ratio, rating-histogram TV.
- geometry, per reference model (MF, NCF trained on the real training split): synthetic entities are
  placed in the reference space by a ridge map fitted on the real entities from the generator's own
  latent space (`map_ridge`, unpenalised bias); then PGPS (items), NDI (users), latent W2 (users and
  items, exact OT up to `w2_max_exact` points per cloud, a seeded subsample above, plus the Bures
  form) and memorisation distance. Generators without a latent space get `null` here, never a number.
- tstr: each recommender trained and scored inside its own universe (see spade_core.tstr), RelPerf.
- fidelity: Kendall's τ between the recommenders' NDCG@10 orders on real and synthetic data.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from spade_core import synthetic, tstr
from spade_core.data import Prepared, load_prepared, write_json
from spade_core.distributions import degree_report, rating_tv, w2
from spade_core.geometry import fit_ridge_map, memorisation, ndi, pgps

log = logging.getLogger(__name__)


def _r2(pred: np.ndarray, target: np.ndarray) -> float:
    return float(1 - np.sum((target - pred) ** 2) / np.sum((target - target.mean(0)) ** 2))


def geometry(latents: dict, ref_users: np.ndarray, ref_items: np.ndarray, cfg: dict, seed: int) -> dict:
    """Structure-aware metrics of synthetic entities placed in one reference space."""
    lam, k = cfg["map_ridge"], cfg["neighbor_k"]
    user_map = fit_ridge_map(latents["real_users"], ref_users, lam)
    item_map = fit_ridge_map(latents["real_items"], ref_items, lam)
    users, items = user_map.apply(latents["synthetic_users"]), item_map.apply(latents["synthetic_items"])
    return {
        "map_r2_users": _r2(user_map.apply(latents["real_users"]), ref_users),
        "map_r2_items": _r2(item_map.apply(latents["real_items"]), ref_items),
        "pgps": pgps(ref_items, items, k, seed=seed),
        "ndi": ndi(ref_users, users, k),
        "w2_users": w2(ref_users, users, max_exact=cfg["w2_max_exact"], seed=seed),
        "w2_items": w2(ref_items, items, max_exact=cfg["w2_max_exact"], seed=seed),
        "memorisation_users": memorisation(ref_users, users),
        "memorisation_items": memorisation(ref_items, items),
    }


def distribution(real: Prepared, syn: synthetic.Synthetic) -> dict:
    t, x = real.train, syn.interactions
    report = degree_report(t.user, t.item, real.n_users, real.n_items, x.user, x.item, syn.n_users, syn.n_items)
    return {**report, "rating_tv": rating_tv(t.rating, x.rating, real.vocab)}


def clean(doc):
    """JSON-ready: NaN and infinities become null (undefined, not zero)."""
    if isinstance(doc, dict):
        return {k: clean(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [clean(v) for v in doc]
    if isinstance(doc, (float, np.floating)):
        return float(doc) if math.isfinite(doc) else None
    if isinstance(doc, np.integer):
        return int(doc)
    return doc


def evaluate(real: Prepared, syn: synthetic.Synthetic, references: dict, real_tstr: dict, cfg: dict) -> dict:
    """metrics.json's document (see module doc). `references` maps model → (user, item) embeddings."""
    seed, seconds = cfg["seed"], {}
    start = time.perf_counter()
    doc = {"has_latents": syn.latents is not None, "distribution": distribution(real, syn)}
    seconds["distribution"] = time.perf_counter() - start
    t = time.perf_counter()
    doc["geometry"] = None
    if syn.latents is not None:
        doc["geometry"] = {name: geometry(syn.latents, ru, ri, cfg, seed) for name, (ru, ri) in references.items()}
    seconds["geometry"] = time.perf_counter() - t
    t = time.perf_counter()
    train, test = tstr.holdout(syn.interactions, seed)
    models = tstr.models_to_run(cfg["tstr_models"])
    synth_tstr = tstr.universe(train, test, syn.n_users, syn.n_items, models, cfg["reference"], cfg["topk"], seed)
    doc["tstr"] = {"real": real_tstr, "synthetic": synth_tstr,
                   "relperf": tstr.relperf(real_tstr, synth_tstr, cfg["tstr_models"])}
    doc["fidelity"] = tstr.fidelity(real_tstr, synth_tstr)
    seconds["tstr"] = time.perf_counter() - t
    doc["seconds"] = {**seconds, "total": time.perf_counter() - start}
    return clean(doc)


def run(spec: dict, inputs: dict, outdir: Path) -> None:
    cfg = spec["config"]
    real = load_prepared(inputs["prepare"])
    syn = synthetic.load(inputs["generator"])
    references = {
        name: (np.load(inputs[f"reference_{name}"] / "user_factors.npy"),
               np.load(inputs[f"reference_{name}"] / "item_factors.npy"))
        for name in cfg["reference_models"]
    }
    real_tstr = json.loads((inputs["tstr_real"] / "metrics.json").read_text())
    doc = evaluate(real, syn, references, real_tstr, cfg)
    doc["generator"] = json.loads((inputs["generator"] / "spec.json").read_text())["stage"]
    write_json(outdir / "metrics.json", doc)
    geo = (doc["geometry"] or {}).get("mf")
    log.info("%s: degree KS user %.3f item %.3f, density ratio %.3f, PGPS(mf) %s, NDCG@10 RelPerf(mf) %s, τ %s, %.1f s",
             doc["generator"], doc["distribution"]["ks_user"], doc["distribution"]["ks_item"],
             doc["distribution"]["density_ratio"], None if geo is None else round(geo["pgps"]["pgps"], 4),
             doc["tstr"]["relperf"].get("mf", {}).get("ndcg@10"), doc["fidelity"]["kendall_tau"],
             doc["seconds"]["total"])

