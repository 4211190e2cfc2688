"""The evaluation suite on small generated data with real components (real recommenders, faiss, POT)."""

import numpy as np
import pytest

from spade_core import config, evaluate, synthetic, tstr
from spade_core.data import Interactions, Prepared

EVAL = {**config.load({})["eval"], "seed": 0, "tstr_models": ["mf", "bpr"],
        "reference": {"dim": 8, "epochs": 3, "lr": 5e-3, "l2": 1e-4, "n_neg": 2, "batch_size": 512}}


def toy(seed=0, n_users=60, n_items=50, density=0.2):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    data = Interactions(u, i, rng.choice([1.0, 2.0, 3.0], len(u)))
    part = rng.random(len(u))
    train, test = data.take(np.flatnonzero(part < 0.8)), data.take(np.flatnonzero(part >= 0.8))
    return Prepared(train, test, test, n_users, n_items, np.array([1.0, 2.0, 3.0]), {})


def copy_of(real: Prepared, latent_dim=6, seed=0):
    """A 'generator' that copies the real training data and uses random latents for its entities."""
    rng = np.random.default_rng(seed)
    zu, zi = rng.standard_normal((real.n_users, latent_dim)), rng.standard_normal((real.n_items, latent_dim))
    latents = {"synthetic_users": zu, "synthetic_items": zi, "real_users": zu, "real_items": zi}
    return synthetic.Synthetic(real.train, real.n_users, real.n_items, latents)


def references(real, seed=0):
    rng = np.random.default_rng(seed + 10)
    return {"mf": (rng.standard_normal((real.n_users, 4)), rng.standard_normal((real.n_items, 4)))}


@pytest.fixture(scope="module")
def real_universe():
    real = toy()
    return real, tstr.universe(real.train, real.test, real.n_users, real.n_items,
                               tstr.models_to_run(EVAL["tstr_models"]), EVAL["reference"], EVAL["topk"], 0)


def test_a_copy_scores_as_a_copy(real_universe):
    real, real_tstr = real_universe
    doc = evaluate.evaluate(real, copy_of(real), references(real), real_tstr, EVAL)
    dist = doc["distribution"]
    assert dist["ks_user"] == 0 and dist["ks_item"] == 0 and dist["density_ratio"] == 1 and dist["rating_tv"] == 0
    geo = doc["geometry"]["mf"]
    # Placed copies land where the map puts their real twins, nearer them than a Gaussian cloud lands.
    assert geo["pgps"]["pgps"] > geo["pgps"]["null"]
    assert set(doc["tstr"]["relperf"]) == {"mf", "bpr"}
    assert set(doc["fidelity"]["models"]) == set(tstr.FIDELITY_MODELS)


def test_generators_without_latents_get_null_geometry(real_universe):
    real, real_tstr = real_universe
    syn = synthetic.Synthetic(real.train, real.n_users, real.n_items, None)
    doc = evaluate.evaluate(real, syn, references(real), real_tstr, EVAL)
    assert doc["geometry"] is None and doc["has_latents"] is False
    assert doc["distribution"]["ks_user"] == 0  # distribution metrics still apply


def test_exact_latent_copies_reach_the_pgps_ceiling(real_universe):
    real, real_tstr = real_universe
    ru, ri = references(real)["mf"]
    # Latents equal to the reference embeddings: the ridge map (λ→0) is the identity.
    latents = {"synthetic_users": ru, "synthetic_items": ri, "real_users": ru, "real_items": ri}
    geo = evaluate.geometry(latents, ru, ri, {**EVAL, "map_ridge": 1e-9}, seed=0)
    assert geo["pgps"]["pgps"] == pytest.approx(1.0)
    assert geo["map_r2_users"] == pytest.approx(1.0)
    assert geo["memorisation_items"]["median_ratio"] == pytest.approx(0.0, abs=1e-6)


def test_relperf_and_fidelity():
    real = {m: {"ndcg@10": v, "recall@10": v / 2} for m, v in zip(tstr.FIDELITY_MODELS, [0.1, 0.3, 0.2, 0.4, 0.5])}
    same_order = {m: {"ndcg@10": 2 * r["ndcg@10"], "recall@10": 0.0} for m, r in real.items()}
    rel = tstr.relperf(real, same_order, ["mf"])
    assert rel == {"mf": {"ndcg@10": 2.0, "recall@10": 0.0}}
    assert tstr.fidelity(real, same_order)["kendall_tau"] == pytest.approx(1.0)
    reversed_ = {m: {"ndcg@10": 1 - r["ndcg@10"]} for m, r in real.items()}
    assert tstr.fidelity(real, reversed_)["kendall_tau"] == pytest.approx(-1.0)


def test_holdout_keeps_users_and_items_seen():
    data = toy(density=0.3).train
    train, test = tstr.holdout(data, seed=0)
    assert len(train) + len(test) == len(data)
    assert set(test.item) <= set(train.item) and set(test.user) <= set(train.user)
    assert 0.05 < len(test) / len(data) < 0.15


def test_clean_turns_undefined_numbers_into_null():
    assert evaluate.clean({"a": float("nan"), "b": [np.float32(1.5), float("inf")], "c": np.int64(3)}) == {
        "a": None, "b": [1.5, None], "c": 3}
