"""Stage III on a tiny planted dataset with real (briefly trained) Stage I and II models."""

import subprocess
import sys

import numpy as np
import pytest

from spade_core import candidates, config, stage1, stage2, stage3, synthetic
from spade_core.data import Interactions, Prepared
from tests.test_stage1 import CFG as STAGE1_CFG
from tests.test_stage1 import VOCAB, planted

SYNTH = {**config.load({})["synthesis"], "alpha": 1.5, "beta": 2.0}
GEN = {**config.load({})["generative"], "noise_dim": 8, "generator_hidden": [32], "critic_hidden": [32], "epochs": 40}


@pytest.fixture(scope="module")
def models():
    ds, group, likes = planted()
    model, arch, *_ = stage1.train(ds, {**STAGE1_CFG, "epochs": 40}, seed=0)
    zu, zi = (np.asarray(z) for z in model.encode())
    gens = stage2.train_all({"users": zu, "items": zi}, GEN, seed=0)[0]
    return ds, model, arch, gens, (zu, zi)


def synth(models, seed=0, **overrides):
    ds, model, arch, gens, real_latents = models
    return stage3.synthesize(ds, model, arch, gens, real_latents, {**SYNTH, **overrides}, seed)


def test_output_keeps_every_invariant(models, tmp_path):
    ds = models[0]
    syn, report = synth(models)
    n_users, n_items = synthetic.target_size(ds.n_users, ds.n_items, 1.5, 2.0)
    assert (syn.n_users, syn.n_items) == (n_users, n_items) == (120, 120)
    doc = synthetic.write(syn, tmp_path, ds, 1.5, 2.0, {"synthesis": report})  # checks the invariants
    assert set(np.unique(syn.interactions.rating)) <= set(VOCAB)
    assert doc["interactions"] == len(syn.interactions) > 0
    assert report["candidates_per_user"] == stage3.candidate_count(n_items, ds.density, SYNTH["gamma"])
    loaded = synthetic.load(tmp_path)
    assert loaded.latents["synthetic_users"].shape == (120, arch_dim(models))
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "interactions.parquet").column_names == ["synthetic_user", "synthetic_item", "rating"]


def arch_dim(models):
    return models[2].latent_dim


def test_invariant_checks_catch_broken_outputs(models):
    ds = models[0]
    syn, _ = synth(models)
    x = syn.interactions
    dup = synthetic.Synthetic(Interactions(np.r_[x.user, x.user[:1]], np.r_[x.item, x.item[:1]],
                                           np.r_[x.rating, x.rating[:1]]), syn.n_users, syn.n_items)
    with pytest.raises(synthetic.InvariantError, match="1 duplicate"):
        synthetic.check_invariants(dup, syn.n_users, syn.n_items, ds.vocab)
    off_vocab = synthetic.Synthetic(Interactions(x.user, x.item, x.rating + 0.25), syn.n_users, syn.n_items)
    with pytest.raises(synthetic.InvariantError, match="outside the vocabulary"):
        synthetic.check_invariants(off_vocab, syn.n_users, syn.n_items, ds.vocab)
    with pytest.raises(synthetic.InvariantError, match="entity counts"):
        synthetic.check_invariants(syn, syn.n_users + 1, syn.n_items, ds.vocab)


def test_same_key_same_bytes(models, tmp_path):
    ds = models[0]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        synthetic.write(synth(models, seed=4)[0], tmp_path / name, ds, 1.5, 2.0)
    assert (tmp_path / "a" / "interactions.parquet").read_bytes() == (tmp_path / "b" / "interactions.parquet").read_bytes()
    (tmp_path / "c").mkdir()
    synthetic.write(synth(models, seed=5)[0], tmp_path / "c", ds, 1.5, 2.0)
    assert (tmp_path / "a" / "interactions.parquet").read_bytes() != (tmp_path / "c" / "interactions.parquet").read_bytes()


def test_gating_off_keeps_every_candidate(models):
    syn, report = synth(models, gating=False)
    c = report["candidates_per_user"]
    assert len(syn.interactions) == syn.n_users * c
    assert np.all(np.bincount(syn.interactions.user, minlength=syn.n_users) == c)


def test_correction_restores_the_models_degrees(models):
    """Corrected candidate probabilities give every user the activity head's expected degree I'·σ(a(z_u))
    (exactly) and every item its full-gate expected degree (as far as the candidate sets allow)."""
    ds, model, arch, gens, _ = models
    import jax

    zu, zi = stage3.sample_latents(gens, 120, 120, jax.random.key(0))
    scorer = stage3.Scorer(model, arch, zu, zi)
    full = 1 / (1 + np.exp(-scorer.gate_logits(np.arange(120), np.arange(120))))
    cand = candidates.top_c(zu, zi, 90)  # the planted data is dense (ρ ≈ 0.5): room for every target
    users, items, logits = scorer.dense_pass(cand)
    assert np.allclose(users, full.sum(1), rtol=1e-4) and np.allclose(items, full.sum(0), rtol=1e-4)
    assert np.allclose(logits, scorer.gate_logits(np.arange(120), cand), atol=1e-4)
    activity = np.asarray(stage1.activity_logits(model, jax.numpy.asarray(zu)))
    assert np.allclose(scorer.user_rates(), 1 / (1 + np.exp(-activity)), rtol=1e-5)
    p, figures = stage3.corrected_probabilities(scorer, cand, 120)
    assert figures["candidate_mass_fraction"] < 0.95  # the candidates alone miss mass...
    row = np.minimum(120 * scorer.user_rates(), 0.98 * 90)
    assert np.allclose(p.sum(1), row, rtol=1e-3)  # ...which the correction puts back, per user
    item_sums = np.bincount(cand.ravel(), p.ravel(), 120)
    assert np.corrcoef(item_sums, full.sum(0))[0, 1] > 0.9
    assert item_sums.sum() == pytest.approx(row.sum(), rel=1e-3)


def test_activity_shift_calibrates_the_real_users_mean_rate(models):
    """δ makes the real users' mean rate exactly the target; a target already met needs no shift; the
    shifted rates keep the users' order; an impossible density is refused."""
    ds, model, arch, gens, (zu, zi) = models
    rates = stage3.Scorer(model, arch, zu, zi).user_rates
    for target in (0.5 * ds.density, ds.density, min(0.95, 1.5 * ds.density)):
        delta = stage3.activity_shift(model, zu, target)
        assert rates(delta).mean() == pytest.approx(target, abs=1e-9)
        assert np.array_equal(np.argsort(rates(delta), kind="stable"), np.argsort(rates(), kind="stable"))
    assert stage3.activity_shift(model, zu, float(rates().mean())) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="density"):
        stage3.activity_shift(model, zu, 0.0)


def test_continuous_decoder_ratings_are_snapped_to_the_vocabulary():
    ds, group, likes = planted(seed=3)
    model, arch, *_ = stage1.train(ds, {**STAGE1_CFG, "epochs": 20, "continuous_decoder": True}, seed=0)
    zu, zi = (np.asarray(z) for z in model.encode())
    gens = stage2.train_all({"users": zu, "items": zi}, GEN, seed=0)[0]
    syn, _ = stage3.synthesize(ds, model, arch, gens, (zu, zi), SYNTH, seed=0)
    x = syn.interactions
    assert set(np.unique(x.rating)) <= set(VOCAB)
    # Each rating is the vocabulary value nearest to the regression output for its own pair.
    lat = syn.latents
    out = np.asarray(stage1.rating_outputs(model, lat["synthetic_users"], lat["synthetic_items"], x.user, x.item))
    assert np.array_equal(x.rating, VOCAB[np.argmin(np.abs(out[:, :1] - VOCAB[None, :]), axis=1)])


def test_approximate_candidates_recall_against_exact():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((50, 16))
    items = (centers[rng.integers(0, 50, 20_000)] + 0.3 * rng.standard_normal((20_000, 16))).astype(np.float32)
    users = (centers[rng.integers(0, 50, 300)] + 0.3 * rng.standard_normal((300, 16))).astype(np.float32)
    exact = candidates.top_c(users, items, 500, exact=True)
    approx = candidates.top_c(users, items, 500, exact=False)
    assert candidates.recall(approx, exact) >= 0.95
    assert candidates.recall(exact, exact) == 1.0
    with pytest.raises(ValueError, match="between 1 and the number of items"):
        candidates.top_c(users, items[:10], 11)


def test_loading_stage3_leaves_scikit_learn_pot_and_scipy_stats_unimported():
    # Every Stage III job pays its imports; these three cost seconds and Stage III never calls them.
    code = "import sys, spade_core.stage3; print(sorted({'sklearn', 'ot', 'scipy.stats'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
