"""Baseline generator: GANRS (Bobadilla, Gutiérrez, Yera & Martínez, "Creating synthetic datasets for
collaborative filtering recommender systems using generative adversarial networks", Knowledge-Based
Systems 2023; the authors' public `ganrs` repository, GANRS.ipynb), in JAX/NNX.

1. DeepMF. User and item embeddings of `latent_dim` dimensions, no biases, trained for
   `deepmf_epochs` on the observed training pairs to predict the rating by their dot product (MSE,
   Adam 1e-3, batch 32, Keras-style uniform(±0.05) initialisation). The original regresses raw ratings;
   here the rating is normalised to [0, 1] by the vocabulary's range, as the GAN's tuples are.
2. GAN over the training interactions' tuples t = [E_u; E_i; r_norm] (2·latent_dim + 1 values), with
   the original's sizes: generator 100-d noise → Dense 10 → LeakyReLU(0.2) → BatchNorm(momentum 0.8)
   → Dense 20 → LeakyReLU(0.2) → Dropout(0.2) → Dense (linear); discriminator Dense 4 → LeakyReLU(0.2)
   → Dense 1 (sigmoid); binary cross-entropy, non-saturating generator loss, Adam(2e-4, β1 = 0.5).
   Training noise is N(0, 1); one epoch is one pass over the shuffled real tuples (`gan_epochs`).
3. Generation. Noise N(0, variability²) (the original's STD_DEV, its knob for the generated samples'
   variability), generator in inference mode. As in the original, generated normalised ratings are
   rescaled so their mean equals the training mean. Identities are recovered by K-Means on the user
   parts (k = U') and on the item parts (k = I'): the cluster index is the synthetic id. Ratings are
   de-normalised and mapped to the nearest vocabulary value.
4. Duplicates. The original keeps repeated (user, item) pairs (it drops only identical rows and pairs
   rated 3+ times); here the first generated tuple of each pair is kept and later ones dropped. Tuples
   are generated until `target_interactions` distinct pairs exist: a first batch of
   ⌈OVERSAMPLE · target⌉ tuples fits the two K-Means, later batches (sized by the measured yield of
   new pairs) are assigned to the nearest centroids, and the first `target` distinct pairs in
   generation order are kept — exactly `target` unless new pairs run out (MAX_ROUNDS), which the
   density reports.

Latents: synthetic users/items are the K-Means centroids in the DeepMF space; real users/items are
the DeepMF embeddings. `synthesize` (steps 3–4) and `train_deepmf` are shared with the VAE baseline.

Clustering cost. sklearn's default K-Means (k-means++ seeding, up to 300 Lloyd iterations) with
k = 1886 and 2698 on ~320k points dominated a first implementation (13.7 minutes on ml-100k at
α = β = 2, 2 cores). Here K-Means is Lloyd's algorithm with one initialisation drawn at random from the
points themselves (k-means++'s greedy seeding is itself O(n·k·log k)) and KMEANS_MAX_ITER iterations,
in float32; see KMEANS_MAX_ITER for what that costs and loses.
"""

from __future__ import annotations

import logging
import math
import time
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from sklearn.cluster import KMeans, kmeans_plusplus

from spade_core.baselines import runner, target_interactions
from spade_core.data import Interactions, Prepared
from spade_core.nn import stage_key
from spade_core.sampling import epoch_rng
from spade_core.synthetic import Synthetic

log = logging.getLogger(__name__)

DEEPMF_LR, DEEPMF_BATCH = 1e-3, 32  # Keras defaults, as the original's model_deepMF.fit
NOISE_DIM = 100  # the original's generator input size
GAN_LR, GAN_BETA1 = 2e-4, 0.5  # the original's Adam(0.0002, 0.5)
GAN_BATCH = 128  # the original's 32, larger here so 100 epochs stay fast (see the report)
GENERATE_CHUNK = 1 << 16  # tuples generated per jitted call
MAX_TUPLES = 40  # generated tuples per target interaction before giving up on new pairs
KMEANS_SEED_POINTS = 20_000  # k-means++ seeding on this many random points (at least 4k)
KMEANS_MAX_ITER = 20  # Lloyd iterations on all points (measured: see the module doc)


# --- shared pieces --------------------------------------------------------------------------


def normalise(ratings: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """Ratings scaled to [0, 1] by the vocabulary's range (float32)."""
    lo, hi = float(vocab.min()), float(vocab.max())
    return ((np.asarray(ratings, dtype=np.float64) - lo) / max(hi - lo, 1e-12)).astype(np.float32)


def to_vocab(normalised: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """The vocabulary value nearest to each de-normalised rating."""
    lo, hi = float(vocab.min()), float(vocab.max())
    value = np.asarray(normalised, dtype=np.float64) * (hi - lo) + lo
    return vocab[np.argmin(np.abs(value[:, None] - vocab[None, :]), axis=1)]


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, batch) row indices of one shuffled epoch, the last batch completed with the epoch's
    first rows, and weights (1 for real rows, 0 for the completion)."""
    order = epoch_rng(seed, epoch).permutation(n)
    steps = -(-n // batch_size)
    pad = steps * batch_size - n
    index = np.concatenate([order, order[:pad]]).reshape(steps, batch_size)
    weight = np.r_[np.ones(n), np.zeros(pad)].astype(np.float32).reshape(steps, batch_size)
    return index, weight


def _keras_uniform(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -0.05, 0.05)  # Keras' Embedding default


class DeepMF(nnx.Module):
    """rating ≈ ⟨E_u, E_i⟩: embeddings only, no biases, no hidden layers."""

    def __init__(self, n_users: int, n_items: int, dim: int, *, rngs: nnx.Rngs):
        self.users = nnx.Embed(n_users, dim, embedding_init=_keras_uniform, rngs=rngs)
        self.items = nnx.Embed(n_items, dim, embedding_init=_keras_uniform, rngs=rngs)

    def __call__(self, users: jax.Array, items: jax.Array) -> jax.Array:
        return jnp.sum(self.users(users) * self.items(items), axis=-1)


@partial(jax.jit, static_argnums=0)
def _deepmf_epoch(graphdef, state, batches):
    tx = optax.adam(DEEPMF_LR)

    def step(carry, batch):
        params, opt = carry

        def loss(p):
            pred = nnx.merge(graphdef, p)(batch["user"], batch["item"])
            return jnp.sum(batch["weight"] * (pred - batch["rating"]) ** 2) / jnp.sum(batch["weight"])

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt = tx.update(grads, opt, params)
        return (optax.apply_updates(params, updates), opt), value * jnp.sum(batch["weight"])

    (params, opt), losses = jax.lax.scan(step, state, batches)
    return (params, opt), jnp.sum(losses) / jnp.sum(batches["weight"])


def train_deepmf(real: Prepared, dim: int, epochs: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """(user embeddings U x dim, item embeddings I x dim, training MSE per epoch) of a DeepMF fitted to
    the normalised ratings of real.train."""
    model = DeepMF(real.n_users, real.n_items, dim, rngs=nnx.Rngs(stage_key(seed, "deepmf")))
    graphdef, params = nnx.split(model)
    state = (params, optax.adam(DEEPMF_LR).init(params))
    train, rating = real.train, normalise(real.train.rating, real.vocab)
    curve = []
    for epoch in range(1, epochs + 1):
        index, weight = epoch_batches(len(train), DEEPMF_BATCH, seed, epoch)
        batches = {"user": train.user[index], "item": train.item[index], "rating": rating[index], "weight": weight}
        state, loss = _deepmf_epoch(graphdef, state, batches)
        curve.append(float(loss))
    model = nnx.merge(graphdef, state[0])
    return np.asarray(model.users.embedding[...]), np.asarray(model.items.embedding[...]), curve


def interaction_tuples(real: Prepared, user_emb: np.ndarray, item_emb: np.ndarray) -> np.ndarray:
    """[E_u; E_i; r_norm] of every training interaction (float32, n x (2d + 1))."""
    train = real.train
    rating = normalise(train.rating, real.vocab)[:, None]
    return np.concatenate([user_emb[train.user], item_emb[train.item], rating], axis=1).astype(np.float32)


def kmeans(points: np.ndarray, k: int, seed: int) -> KMeans:
    """K-Means with k clusters: k-means++ seeding on a random subsample of the points, then
    KMEANS_MAX_ITER Lloyd iterations on all of them, in float32 (module doc: why not the defaults)."""
    points = np.ascontiguousarray(points, dtype=np.float32)
    if len(points) < k:
        raise ValueError(f"{len(points)} generated points cannot form {k} clusters")
    rng = np.random.default_rng(seed)
    subsample = points[np.sort(rng.choice(len(points), min(len(points), max(KMEANS_SEED_POINTS, 4 * k)), replace=False))]
    centres, _ = kmeans_plusplus(subsample, k, random_state=seed)
    return KMeans(k, init=centres, n_init=1, max_iter=KMEANS_MAX_ITER, random_state=seed).fit(points)


def recover(points: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, KMeans]:
    """Identities of generated entity vectors: (cluster index per point, k x d centroids, the fit,
    whose `predict` assigns further points to the nearest centroid)."""
    fit = kmeans(points, k, seed)
    return fit.labels_.astype(np.int32), fit.cluster_centers_.astype(np.float32), fit


def first_unique(keys: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each distinct key, in order of position."""
    return np.sort(np.unique(keys, return_index=True)[1])


def synthesize(sample: Callable[[int, int], np.ndarray], real: Prepared, n_users: int, n_items: int,
               user_emb: np.ndarray, item_emb: np.ndarray, seed: int) -> Synthetic:
    """Steps 3–4 of the module doc for a tuple generator `sample(n, round) -> n x (2d + 1)` normalised
    tuples (deterministic per round): K-Means identities, first-kept duplicates, vocabulary ratings."""
    d = user_emb.shape[1]
    target = target_interactions(real, n_users, n_items)
    start = time.perf_counter()
    tuples = sample(target, 0)
    user_ids, user_centres, user_fit = recover(tuples[:, :d], n_users, seed)
    item_ids, item_centres, item_fit = recover(tuples[:, d : 2 * d], n_items, seed + 1)
    log.info("K-Means on %d tuples: %.1f s", len(tuples), time.perf_counter() - start)
    ratings, drawn, batch, distinct, round_ = tuples[:, -1], len(tuples), len(tuples), 0, 0
    while True:
        keep = first_unique(user_ids.astype(np.int64) * n_items + item_ids)
        user_ids, item_ids, ratings = user_ids[keep], item_ids[keep], ratings[keep]
        gained, distinct = len(keep) - distinct, len(keep)
        if distinct >= target or drawn >= MAX_TUPLES * target:
            break
        round_ += 1  # size the next batch by the last one's yield of new pairs, which only falls
        batch = min(math.ceil(1.2 * (target - distinct) * batch / max(gained, 1)) + 1000, MAX_TUPLES * target - drawn)
        tuples = sample(batch, round_)
        drawn += batch
        user_ids = np.r_[user_ids, user_fit.predict(np.ascontiguousarray(tuples[:, :d])).astype(np.int32)]
        item_ids = np.r_[item_ids, item_fit.predict(np.ascontiguousarray(tuples[:, d : 2 * d])).astype(np.int32)]
        ratings = np.r_[ratings, tuples[:, -1]]
    n = min(distinct, target)
    log.info("%d distinct pairs (target %d) from %d generated tuples in %d rounds, %.1f s", n, target, drawn,
             round_ + 1, time.perf_counter() - start)
    if n < target:
        log.warning("the generator ran out of new (user, item) pairs: %d of %d", n, target)
    inter = Interactions(user_ids[:n], item_ids[:n], to_vocab(np.clip(ratings[:n], 0, 1), real.vocab))
    latents = {"synthetic_users": user_centres, "synthetic_items": item_centres,
               "real_users": user_emb.astype(np.float32), "real_items": item_emb.astype(np.float32)}
    return Synthetic(inter, n_users, n_items, latents)


# --- the GAN --------------------------------------------------------------------------------


def _leaky(x):
    return nnx.leaky_relu(x, negative_slope=0.2)


def _dense(a, b, rngs):
    return nnx.Linear(a, b, kernel_init=nnx.initializers.glorot_uniform(), rngs=rngs)  # Keras' default


class Generator(nnx.Module):
    """GANRS's generator; `key` (dropout randomness) given = training mode, None = inference mode
    (BatchNorm's running averages, no dropout)."""

    def __init__(self, out_dim: int, *, rngs: nnx.Rngs):
        self.first = _dense(NOISE_DIM, 10, rngs)
        self.norm = nnx.BatchNorm(10, momentum=0.8, epsilon=1e-3, rngs=rngs)  # Keras' momentum and epsilon
        self.second = _dense(10, 20, rngs)
        self.dropout = nnx.Dropout(0.2)
        self.out = _dense(20, out_dim, rngs)

    def __call__(self, noise: jax.Array, key: jax.Array | None = None) -> jax.Array:
        h = self.norm(_leaky(self.first(noise)), use_running_average=key is None)
        h = _leaky(self.second(h))
        if key is not None:
            h = self.dropout(h, deterministic=False, rngs=key)
        return self.out(h)


class Discriminator(nnx.Module):
    """GANRS's discriminator (logit output; the sigmoid is in the loss)."""

    def __init__(self, in_dim: int, *, rngs: nnx.Rngs):
        self.hidden = _dense(in_dim, 4, rngs)
        self.out = _dense(4, 1, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(_leaky(self.hidden(x)))[:, 0]


@partial(jax.jit, static_argnums=(0, 1))
def _gan_epoch(g_def, d_def, state, real, weight, key):
    """One epoch: per minibatch one discriminator step (real vs generated), then one generator step."""
    tx = optax.adam(GAN_LR, b1=GAN_BETA1)

    def step(carry, batch):
        g_params, g_stats, d_params, g_opt, d_opt = carry
        x, w, key = batch
        k_noise, k_drop, k_noise2, k_drop2 = jax.random.split(key, 4)
        fake = jax.lax.stop_gradient(nnx.merge(g_def, g_params, g_stats)(
            jax.random.normal(k_noise, (x.shape[0], NOISE_DIM)), k_drop))

        def d_loss(p):
            disc = nnx.merge(d_def, p)
            real_part = jnp.sum(w * jax.nn.softplus(-disc(x))) / jnp.sum(w)
            return 0.5 * (real_part + jnp.mean(jax.nn.softplus(disc(fake))))

        d_value, grads = jax.value_and_grad(d_loss)(d_params)
        updates, d_opt = tx.update(grads, d_opt, d_params)
        d_params = optax.apply_updates(d_params, updates)

        def g_loss(p, stats):
            gen = nnx.merge(g_def, p, stats, copy=True)
            out = gen(jax.random.normal(k_noise2, (x.shape[0], NOISE_DIM)), k_drop2)
            return jnp.mean(jax.nn.softplus(-nnx.merge(d_def, d_params)(out))), nnx.state(gen, nnx.BatchStat)

        (g_value, g_stats), grads = jax.value_and_grad(g_loss, has_aux=True)(g_params, g_stats)
        updates, g_opt = tx.update(grads, g_opt, g_params)
        g_params = optax.apply_updates(g_params, updates)
        return (g_params, g_stats, d_params, g_opt, d_opt), (d_value, g_value)

    keys = jax.random.split(key, real.shape[0])
    state, (d_losses, g_losses) = jax.lax.scan(step, state, (real, weight, keys))
    return state, d_losses.mean(), g_losses.mean()


class GAN:
    """GANRS's GAN over interaction tuples: train, then sample."""

    def __init__(self, dim: int, key: jax.Array):
        k_g, k_d = jax.random.split(key)
        self.g_def, g_params, g_stats = nnx.split(Generator(dim, rngs=nnx.Rngs(k_g)), nnx.Param, nnx.BatchStat)
        self.d_def, d_params = nnx.split(Discriminator(dim, rngs=nnx.Rngs(k_d)))
        tx = optax.adam(GAN_LR, b1=GAN_BETA1)
        self.state = (g_params, g_stats, d_params, tx.init(g_params), tx.init(d_params))

    def train(self, tuples: np.ndarray, epochs: int, seed: int, key: jax.Array) -> list[dict]:
        """`epochs` passes over the tuples; returns the mean losses of each epoch."""
        curve = []
        for epoch in range(1, epochs + 1):
            index, weight = epoch_batches(len(tuples), GAN_BATCH, seed, epoch)
            self.state, d_loss, g_loss = _gan_epoch(self.g_def, self.d_def, self.state, tuples[index], weight,
                                                    jax.random.fold_in(key, epoch))
            curve.append({"epoch": epoch, "d_loss": float(d_loss), "g_loss": float(g_loss)})
        return curve

    def sample(self, n: int, variability: float, key: jax.Array) -> np.ndarray:
        """n generated tuples (float32) from noise N(0, variability²), generator in inference mode."""
        g_params, g_stats = self.state[:2]
        return np.concatenate([
            np.asarray(_generate(self.g_def, g_params, g_stats, jax.random.fold_in(key, i),
                                 min(GENERATE_CHUNK, n - start), variability))
            for i, start in enumerate(range(0, n, GENERATE_CHUNK))
        ])


@partial(jax.jit, static_argnums=(0, 4))
def _generate(g_def, g_params, g_stats, key, n, variability):
    return nnx.merge(g_def, g_params, g_stats)(variability * jax.random.normal(key, (n, NOISE_DIM)))


def generate(real: Prepared, n_users: int, n_items: int, cfg: dict, seed: int) -> Synthetic:
    """GANRS at U' x I' (module doc)."""
    dim = cfg["latent_dim"]
    start = time.perf_counter()
    user_emb, item_emb, mf_curve = train_deepmf(real, dim, cfg["deepmf_epochs"], seed)
    log.info("DeepMF: %d epochs, training MSE %.4f, %.1f s", len(mf_curve), mf_curve[-1], time.perf_counter() - start)
    tuples = interaction_tuples(real, user_emb, item_emb)
    key = stage_key(seed, "ganrs")
    gan = GAN(tuples.shape[1], jax.random.fold_in(key, 0))
    start = time.perf_counter()
    curve = gan.train(tuples, cfg["gan_epochs"], seed, jax.random.fold_in(key, 1))
    log.info("GAN: %d epochs, D loss %.4f, G loss %.4f, %.1f s", len(curve), curve[-1]["d_loss"],
             curve[-1]["g_loss"], time.perf_counter() - start)
    variability = float(cfg["variability"])
    sample_key = jax.random.fold_in(key, 2)
    # The original rescales generated ratings so their mean is the training mean (once, here).
    calibration = gan.sample(GENERATE_CHUNK, variability, jax.random.fold_in(key, 3))[:, -1]
    scale = float(tuples[:, -1].mean() / max(calibration.mean(), 1e-6))

    def sample(n: int, round_: int) -> np.ndarray:
        out = gan.sample(n, variability, jax.random.fold_in(sample_key, round_))
        out[:, -1] *= scale
        return out

    return synthesize(sample, real, n_users, n_items, user_emb, item_emb, seed)


run = runner(generate)
