"""The baseline generators on small data: invariants, determinism, and that each mechanism works."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from spade_core import config, scale_data, synthetic
from spade_core.baselines import ganrs, marginal, noise_mf, random, target_interactions, vae
from spade_core.data import Interactions, Prepared
from spade_core.distributions import degree_report, rating_tv

VOCAB = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
ALPHA, BETA = 1.5, 2.0
FAST = {  # few epochs: these tests check mechanics, not quality
    "random": {},
    "marginal": {},
    "noise_mf": {"noise_scale": 0.5, "dim": 8, "epochs": 3},
    "ganrs": {"latent_dim": 3, "deepmf_epochs": 2, "gan_epochs": 3, "variability": 1.0},
    "vae": {"latent_dim": 3, "epochs": 3},
}
MODULES = {"random": random, "marginal": marginal, "noise_mf": noise_mf, "ganrs": ganrs, "vae": vae}


def skewed(seed=0, n_users=150, n_items=100, n=4500) -> Prepared:
    """Long-tailed degrees with latent structure (scale_data's generator at a small size), split 80/20."""
    df = scale_data.generate(n_users, n_items, n, seed=seed, chunk=64)
    data = Interactions(df.user.to_numpy() - 1, df.item.to_numpy() - 1, df.rating.to_numpy().astype(float))
    test = np.random.default_rng(seed).random(len(data)) < 0.2
    train, rest = data.take(np.flatnonzero(~test)), data.take(np.flatnonzero(test))
    return Prepared(train, rest, rest, n_users, n_items, VOCAB, {})


@pytest.fixture(scope="module")
def real():
    return skewed()


@pytest.fixture(scope="module")
def outputs(real):
    n_users, n_items = synthetic.target_size(real.n_users, real.n_items, ALPHA, BETA)
    return {name: MODULES[name].generate(real, n_users, n_items, FAST[name], seed=0) for name in MODULES}


@pytest.mark.parametrize("name", list(MODULES))
def test_every_baseline_keeps_the_invariants(name, real, outputs, tmp_path):
    syn = outputs[name]
    doc = synthetic.write(syn, tmp_path, real, ALPHA, BETA)  # raises InvariantError on any breach
    assert (doc["users"], doc["items"]) == (225, 200)
    assert set(np.unique(syn.interactions.rating)) <= set(VOCAB)
    assert (syn.latents is not None) == (name in ("noise_mf", "ganrs", "vae"))
    # Sized to the real training density at U' x I': exactly for the non-neural ones, and for K-Means
    # recovery unless new pairs ran out (which the summary's density would show).
    assert abs(doc["density"] / real.density - 1) < 0.01


@pytest.mark.parametrize("name", list(MODULES))
def test_same_seed_same_output_other_seed_differs(name, real, outputs):
    n_users, n_items = synthetic.target_size(real.n_users, real.n_items, ALPHA, BETA)
    again = MODULES[name].generate(real, n_users, n_items, FAST[name], seed=0)
    other = MODULES[name].generate(real, n_users, n_items, FAST[name], seed=1)
    first = synthetic.sort_pairs(outputs[name].interactions)
    for a, b in zip((first.user, first.item, first.rating), (lambda x: (x.user, x.item, x.rating))(
            synthetic.sort_pairs(again.interactions))):
        assert np.array_equal(a, b)
    o = synthetic.sort_pairs(other.interactions)
    assert len(o) != len(first) or not np.array_equal(o.item, first.item)


def test_random_is_uniform(real, outputs):
    x = outputs["random"].interactions
    assert len(x) == target_interactions(real, 225, 200)
    assert np.bincount(x.rating.astype(int), minlength=6)[1:].min() > 0.8 * len(x) / 5
    # No degree structure: user degrees are binomial, far less spread than the real long tail.
    real_deg = np.bincount(real.train.user, minlength=real.n_users)
    syn_deg = np.bincount(x.user, minlength=225)
    assert syn_deg.std() / syn_deg.mean() < 0.5 * real_deg.std() / real_deg.mean()


def test_random_distinct_cells_bad_input():
    with pytest.raises(ValueError, match="cannot draw 11 distinct cells from 10"):
        random.distinct_cells(np.random.default_rng(0), 10, 11)


def test_marginal_reproduces_degree_shapes_and_ratings(real, outputs):
    syn, t = outputs["marginal"], real.train
    x = syn.interactions
    report = degree_report(t.user, t.item, real.n_users, real.n_items, x.user, x.item, syn.n_users, syn.n_items)
    # KS between a 150-entity sample and a bootstrap of it, after rescaling integer degrees: small,
    # not zero (ml-100k figures are in the README).
    assert report["ks_user"] < 0.2 and report["ks_item"] < 0.2
    assert rating_tv(t.rating, x.rating, VOCAB) < 0.05
    rnd = outputs["random"].interactions
    random_report = degree_report(t.user, t.item, real.n_users, real.n_items, rnd.user, rnd.item, 225, 200)
    assert random_report["ks_user"] > 2 * report["ks_user"] and random_report["ks_item"] > 2 * report["ks_item"]


def test_marginal_fitness_model_hits_its_targets():
    rng = np.random.default_rng(0)
    degree = rng.integers(1, 30, 200)
    target = marginal.capped_shares(rng.pareto(1.5, 150) + 1, degree.sum(), 200)
    log_y = marginal.fit_fitness(degree, target)
    # Expected degrees of p_ui = σ(log x_u + log y_i), with x_u solved for each user's exact degree.
    y = np.exp(log_y)
    x = np.ones(200)
    for _ in range(500):
        x = degree / (y[None, :] / (1 + x[:, None] * y[None, :])).sum(1)
    p = x[:, None] * y[None, :] / (1 + x[:, None] * y[None, :])
    assert np.allclose(p.sum(1), degree, rtol=1e-4) and np.allclose(p.sum(0), target, rtol=1e-3)


def test_integer_shares_sum_exactly_and_respect_the_cap():
    shares = marginal.integer_shares(np.array([100.0, 1.0, 1.0, 1.0]), 50, 20)
    assert shares.sum() == 50 and shares.max() <= 20 and shares[0] == 20
    with pytest.raises(ValueError, match="do not fit"):
        marginal.capped_shares(np.ones(3), 10, 3)


def test_noise_mf_top_pairs_match_brute_force_with_ties():
    rng = np.random.default_rng(0)
    users, items = rng.integers(-2, 3, (37, 3)).astype(np.float32), rng.integers(-2, 3, (23, 3)).astype(np.float32)
    bias = rng.integers(0, 2, 23).astype(np.float32)
    scores = (users @ items.T + bias).ravel()
    expected = np.sort(np.lexsort((np.arange(len(scores)), -scores))[:200])  # ties by lower cell
    for cells in (1 << 22, 50):  # one block, and many blocks
        noise_mf.SCORE_CELLS, saved = cells, noise_mf.SCORE_CELLS
        try:
            u, i = noise_mf.top_pairs(users, items, bias, 200)
        finally:
            noise_mf.SCORE_CELLS = saved
        assert np.array_equal(u * 23 + i, expected)
    with pytest.raises(ValueError, match="cannot choose"):
        noise_mf.top_pairs(users, items, bias, 37 * 23 + 1)


def test_noise_mf_quantile_ratings_keep_order_and_histogram():
    rng = np.random.default_rng(0)
    real_ratings = rng.choice(VOCAB, 1000, p=[0.05, 0.1, 0.3, 0.35, 0.2])
    prediction = rng.standard_normal(777)
    out = noise_mf.quantile_ratings(prediction, real_ratings, VOCAB)
    assert np.all(np.diff(out[np.argsort(prediction)]) >= 0)  # monotone in the prediction
    share = np.array([np.mean(real_ratings == v) for v in VOCAB])
    counts = np.array([np.sum(out == v) for v in VOCAB])
    assert counts.sum() == 777 and np.all(np.abs(counts - share * 777) < 1)


def test_noise_mf_without_noise_copies_real_preferences(real):
    """With noise 0 every synthetic entity is an exact copy of a real one, so its chosen pairs are the
    MF's highest-scored real pairs: far more often real training pairs than chance (ρ ≈ 0.24 here,
    so at most 4.2 times chance is possible) would give."""
    cfg = {**FAST["noise_mf"], "noise_scale": 0.0, "epochs": 20}
    syn = noise_mf.generate(real, 225, 200, cfg, seed=0)
    lat = syn.latents

    def source(synth, real_rows):
        match = (synth[:, None, :] == real_rows[None, :, :]).all(-1)
        assert match.any(1).all()
        return match.argmax(1)

    su, si = source(lat["synthetic_users"], lat["real_users"]), source(lat["synthetic_items"], lat["real_items"])
    x = syn.interactions
    train = set(zip(real.train.user.tolist(), real.train.item.tolist()))
    hits = np.mean([(a, b) in train for a, b in zip(su[x.user], si[x.item])])
    assert hits > 1.5 * real.density


def test_kmeans_recovers_planted_clusters():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((12, 5)) * 10
    labels = rng.integers(0, 12, 3000)
    points = centres[labels] + 0.1 * rng.standard_normal((3000, 5))
    found, found_centres, fit = ganrs.recover(points.astype(np.float32), 12, seed=0)
    assert adjusted_rand_score(labels, found) == 1.0
    assert np.array_equal(fit.predict(centres.astype(np.float32)), found[[np.flatnonzero(labels == c)[0] for c in range(12)]])
    with pytest.raises(ValueError, match="cannot form 13 clusters"):
        ganrs.recover(points[:12].astype(np.float32), 13, seed=0)


def test_ganrs_first_unique_and_rating_mapping():
    assert ganrs.first_unique(np.array([5, 3, 5, 1, 3, 7])).tolist() == [0, 1, 3, 5]
    norm = ganrs.normalise(VOCAB, VOCAB)
    assert np.allclose(norm, [0, 0.25, 0.5, 0.75, 1])
    assert ganrs.to_vocab(np.array([-0.3, 0.1, 0.13, 0.62, 1.4]), VOCAB).tolist() == [1, 1, 2, 3, 5]


def test_deepmf_and_vae_training_lower_their_losses(real):
    _, _, mse = ganrs.train_deepmf(real, 3, 5, seed=0)
    assert mse[-1] < mse[0]
    tuples = np.random.default_rng(0).standard_normal((2000, 7)).astype(np.float32) * [1, 2, 3, 1, 1, 1, 1]
    _, curve = vae.train_vae(tuples, 3, 8, seed=0)
    assert curve[-1]["loss"] < curve[0]["loss"]


def test_schema_defaults_cover_every_baseline():
    defaults = config.load({})["baselines"]
    assert set(defaults) == set(MODULES)
    assert defaults["noise_mf"] == {"noise_scale": 0.5, "dim": 32, "epochs": 30}
