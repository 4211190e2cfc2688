"""Stage I on a planted dataset: real JAX training for a few epochs, known answers."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from spade_core import config, stage1
from spade_core.data import Interactions, Prepared

VOCAB = np.array([0.5, 1.0, 4.0, 4.5])  # an unusual discrete set on purpose


def planted(seed=0, n_users=80, n_items=60):
    """Two user groups with opposite tastes: group 0 likes items 0..29, group 1 items 30..59.

    A user interacts with 85% of the liked items and 15% of the others (Bayes-optimal gate AUC ≈ 0.85)
    and rates liked items 4.5 or 4.0 and the others 0.5 or 1.0, by the item's parity, 90% of the time.
    """
    rng = np.random.default_rng(seed)
    group = np.arange(n_users) % 2
    item_group = (np.arange(n_items) >= n_items // 2).astype(int)
    likes = group[:, None] == item_group[None, :]
    mask = rng.random((n_users, n_items)) < np.where(likes, 0.85, 0.15)
    u, i = np.nonzero(mask)
    high = (i % 2 == 0) ^ (rng.random(len(u)) < 0.1)
    rating = np.where(likes[u, i], np.where(high, 4.5, 4.0), np.where(high, 1.0, 0.5))
    split = rng.random(len(u))
    parts = [Interactions(u[m], i[m], rating[m]) for m in (split < 0.8, (split >= 0.8) & (split < 0.9), split >= 0.9)]
    ds = Prepared(*parts, n_users=n_users, n_items=n_items, vocab=VOCAB, stats={})
    return ds, group, likes


CFG = {**config.load({})["representation"], "n_neg": 4, "latent_dim": 8, "embedding_dim": 16,
       "encoder_hidden": [16], "gate_hidden": [16], "decoder_hidden": [16], "batch_size": 256, "epochs": 60,
       "lr": 5e-3, "early_stop_patience": 60}


@pytest.fixture(scope="module")
def trained():
    ds, group, likes = planted()
    model, arch, curve, report = stage1.train(ds, CFG, seed=0)
    return ds, group, likes, model, arch, curve, report


def test_latents_separate_the_planted_groups(trained):
    ds, group, likes, model, *_ = trained
    zu, zi = (np.asarray(z) for z in model.encode())
    users = LogisticRegression().fit(zu[::2][:20].tolist() + zu[1::2][:20].tolist(), [0] * 20 + [1] * 20)
    assert users.score(zu[::2][20:].tolist() + zu[1::2][20:].tolist(), [0] * 20 + [1] * 20) >= 0.95
    item_group = (np.arange(ds.n_items) >= 30).astype(int)
    assert LogisticRegression().fit(zi, item_group).score(zi, item_group) >= 0.95


def test_gate_ranks_held_out_pairs_high(trained):
    ds, group, likes, model, arch, curve, report = trained
    zu, zi = model.encode()
    seen = set(zip(np.r_[ds.train.user, ds.val.user].tolist(), np.r_[ds.train.item, ds.val.item].tolist()))
    held = [(u, i) for u, i in zip(ds.test.user.tolist(), ds.test.item.tolist())]
    unobserved = [(u, i) for u in range(ds.n_users) for i in range(ds.n_items)
                  if (u, i) not in seen and (u, i) not in set(held)]
    pairs = np.array(held + unobserved)
    logits = np.asarray(stage1.gate_logits(model, zu, zi, pairs[:, 0], pairs[:, 1], arch.n_neg))
    labels = np.r_[np.ones(len(held)), np.zeros(len(unobserved))]
    assert roc_auc_score(labels, logits) >= 0.78
    assert report["val_auc"] >= 0.78


def test_gate_is_calibrated_to_the_real_density(trained):
    ds, group, likes, model, arch, *_ = trained
    zu, zi = model.encode()
    u, i = np.divmod(np.arange(ds.n_users * ds.n_items), ds.n_items)
    p = 1 / (1 + np.exp(-np.asarray(stage1.gate_logits(model, zu, zi, u, i, arch.n_neg))))
    expected_degree = p.reshape(ds.n_users, ds.n_items).sum(1)
    degree = np.bincount(ds.train.user, minlength=ds.n_users)
    assert abs(expected_degree.sum() / degree.sum() - 1) < 0.15  # without the prior-shift correction: ~+70%
    assert np.corrcoef(expected_degree, degree)[0, 1] > 0.5


def test_training_loss_decreases_and_ratings_beat_the_majority(trained):
    *_, curve, report = trained
    assert curve[-1]["loss"] < 0.8 * curve[0]["loss"]
    assert report["val_accuracy"] > report["majority_rate"] + 0.15


def test_rating_head_only_emits_vocabulary_values(trained):
    ds, group, likes, model, arch, *_ = trained
    import jax

    zu, zi = model.encode()
    u, i = np.divmod(np.arange(ds.n_users * ds.n_items), ds.n_items)
    drawn = stage1.draw_ratings(model, arch, zu, zi, u, i, jax.random.key(1))
    assert set(np.unique(drawn)) <= set(VOCAB) and len(np.unique(drawn)) > 1
    # The planted tastes come back out.
    t = ds.train
    on_train = stage1.draw_ratings(model, arch, zu, zi, t.user, t.item, jax.random.key(2))
    liked = likes[t.user, t.item]
    assert on_train[liked].mean() > on_train[~liked].mean() + 2


def test_same_seed_same_bytes_and_export_roundtrip(trained, tmp_path):
    ds, group, likes, model, arch, curve, report = trained
    again, *_ = stage1.train(ds, CFG, seed=0)
    assert np.array_equal(np.asarray(model.encode()[0]), np.asarray(again.encode()[0]))
    stage1.export(model, arch, curve, report, tmp_path)
    loaded, loaded_arch = stage1.load(tmp_path)
    assert loaded_arch == arch
    assert np.array_equal(np.load(tmp_path / "user_latents.npy"), np.asarray(loaded.encode()[0]))
    other, *_ = stage1.train(ds, CFG, seed=1)
    assert not np.array_equal(np.asarray(model.encode()[0]), np.asarray(other.encode()[0]))


def test_continuous_decoder_snaps_to_the_vocabulary():
    import jax

    ds, group, likes = planted(seed=2)
    model, arch, curve, report = stage1.train(ds, {**CFG, "continuous_decoder": True}, seed=0)
    assert arch.continuous_decoder and report["val_nll"] is None
    zu, zi = model.encode()
    u, i = np.divmod(np.arange(ds.n_users * ds.n_items), ds.n_items)
    drawn = stage1.draw_ratings(model, arch, zu, zi, u, i, jax.random.key(0))
    assert set(np.unique(drawn)) <= set(VOCAB)
    t = ds.train
    on_train = stage1.draw_ratings(model, arch, zu, zi, t.user, t.item, jax.random.key(0))
    assert on_train[likes[t.user, t.item]].mean() > on_train[~likes[t.user, t.item]].mean() + 2
