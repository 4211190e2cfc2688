"""Baseline generator: VAE — GANRS with its GAN replaced by a variational autoencoder.

The tuples are GANRS's: [E_u; E_i; r_norm] of every training interaction, from the same DeepMF
(`ganrs.train_deepmf`, at GANRS's default size and epochs, DEEPMF_DIM and DEEPMF_EPOCHS). They are
standardised per column, and a VAE (Kingma & Welling 2014) is fitted to them: encoder MLP → mean and
log-variance of a `latent_dim` Gaussian q(z | x), reparameterised sample z, decoder MLP → mean μ(z)
of a Gaussian p(x | z) = N(μ(z), diag σ²) whose per-column σ is learned with the networks (a fixed σ
would set the reconstruction-to-KL balance by hand; the maximum-likelihood σ makes the ELBO the
model's own). The loss is the negative ELBO, E_q[−log p(x | z)] + KL(q(z | x) ‖ N(0, I)), trained
for `epochs` passes of minibatch Adam.

Generation draws from the model: z ~ N(0, I), x = μ(z) + σ·ε, un-standardised; then GANRS's
`synthesize` recovers identities by K-Means (k = U', k = I'), keeps the first tuple of each
(user, item) pair and maps ratings to the vocabulary. Latents as GANRS's: K-Means centroids and the
DeepMF embeddings.
"""

from __future__ import annotations

import logging
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from spade_core.baselines import ganrs, runner
from spade_core.data import Prepared
from spade_core.nn import MLP, stage_key
from spade_core.synthetic import Synthetic

log = logging.getLogger(__name__)

DEEPMF_DIM, DEEPMF_EPOCHS = 5, 20  # GANRS's defaults (baselines.ganrs): the same DeepMF
HIDDEN = (64, 64)  # encoder and decoder hidden sizes (mirrored)
LR, BATCH = 1e-3, 256
HALF_LOG_2PI = 0.5 * float(np.log(2 * np.pi))


class VAE(nnx.Module):
    def __init__(self, dim: int, latent_dim: int, *, rngs: nnx.Rngs):
        self.latent_dim = latent_dim
        self.encoder = MLP([dim, *HIDDEN, 2 * latent_dim], rngs=rngs)
        self.decoder = MLP([latent_dim, *reversed(HIDDEN), dim], rngs=rngs)
        self.log_sigma = nnx.Param(jnp.zeros(dim, dtype=jnp.float32))  # strong dtype: no recompile

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Mean and log-variance of q(z | x)."""
        out = self.encoder(x)
        return out[:, : self.latent_dim], out[:, self.latent_dim :]

    def losses(self, x: jax.Array, eps: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Per-row Gaussian reconstruction NLL −log p(x | z) at z = mean + e^(logvar/2)·eps, and
        KL(q(z | x) ‖ N(0, I))."""
        mean, logvar = self.encode(x)
        z = mean + jnp.exp(0.5 * logvar) * eps
        log_sigma = self.log_sigma[...]
        nll = 0.5 * ((x - self.decoder(z)) * jnp.exp(-log_sigma)) ** 2 + log_sigma + HALF_LOG_2PI
        kl = 0.5 * (jnp.exp(logvar) + mean**2 - 1.0 - logvar)
        return nll.sum(-1), kl.sum(-1)

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """n draws of the generative model: z ~ N(0, I), x = μ(z) + σ·ε."""
        k_z, k_x = jax.random.split(key)
        mu = self.decoder(jax.random.normal(k_z, (n, self.latent_dim)))
        return mu + jnp.exp(self.log_sigma[...]) * jax.random.normal(k_x, mu.shape)


@partial(jax.jit, static_argnums=0)
def _epoch(graphdef, state, x, weight, key):
    tx = optax.adam(LR)

    def step(carry, batch):
        params, opt = carry
        xb, w, k = batch

        def loss(p):
            model = nnx.merge(graphdef, p)
            nll, kl = model.losses(xb, jax.random.normal(k, (xb.shape[0], model.latent_dim)))
            n = jnp.sum(w)
            return jnp.sum(w * (nll + kl)) / n, (jnp.sum(w * nll) / n, jnp.sum(w * kl) / n)

        (value, (nll, kl)), grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, opt = tx.update(grads, opt, params)
        return (optax.apply_updates(params, updates), opt), (value, nll, kl, jnp.sum(w))

    state, (value, nll, kl, n) = jax.lax.scan(step, state, (x, weight, jax.random.split(key, x.shape[0])))
    mean = lambda a: jnp.sum(a * n) / jnp.sum(n)  # noqa: E731 (weighted by real rows per batch)
    return state, {"loss": mean(value), "reconstruction": mean(nll), "kl": mean(kl)}


def train_vae(data: np.ndarray, latent_dim: int, epochs: int, seed: int) -> tuple[VAE, list[dict]]:
    """A VAE fitted to the rows of `data` (already standardised) for `epochs` epochs; returns it and
    the per-epoch means of the loss (negative ELBO), reconstruction NLL and KL."""
    key = stage_key(seed, "vae")
    model = VAE(data.shape[1], latent_dim, rngs=nnx.Rngs(jax.random.fold_in(key, 0)))
    graphdef, params = nnx.split(model)
    state = (params, optax.adam(LR).init(params))
    curve = []
    for epoch in range(1, epochs + 1):
        index, weight = ganrs.epoch_batches(len(data), BATCH, seed, epoch)
        state, row = _epoch(graphdef, state, data[index], weight, jax.random.fold_in(key, epoch))
        curve.append({"epoch": epoch, **{k: float(v) for k, v in row.items()}})
    return nnx.merge(graphdef, state[0]), curve


def generate(real: Prepared, n_users: int, n_items: int, cfg: dict, seed: int) -> Synthetic:
    """The VAE baseline at U' x I' (module doc)."""
    start = time.perf_counter()
    user_emb, item_emb, _ = ganrs.train_deepmf(real, DEEPMF_DIM, DEEPMF_EPOCHS, seed)
    tuples = ganrs.interaction_tuples(real, user_emb, item_emb)
    mean, std = tuples.mean(0), np.maximum(tuples.std(0), 1e-6)
    model, curve = train_vae((tuples - mean) / std, cfg["latent_dim"], cfg["epochs"], seed)
    log.info("VAE: %d epochs, -ELBO %.3f (reconstruction %.3f, KL %.3f), %.1f s", len(curve), curve[-1]["loss"],
             curve[-1]["reconstruction"], curve[-1]["kl"], time.perf_counter() - start)
    graphdef, params = nnx.split(model)
    sample_key = stage_key(seed, "vae-sample")

    def sample(n: int, round_: int) -> np.ndarray:
        chunks = [np.asarray(_sample(graphdef, params, jax.random.fold_in(jax.random.fold_in(sample_key, round_), i),
                                     min(ganrs.GENERATE_CHUNK, n - start)))
                  for i, start in enumerate(range(0, n, ganrs.GENERATE_CHUNK))]
        return (np.concatenate(chunks) * std + mean).astype(np.float32)

    return ganrs.synthesize(sample, real, n_users, n_items, user_emb, item_emb, seed)


@partial(jax.jit, static_argnums=(0, 3))
def _sample(graphdef, params, key, n):
    return nnx.merge(graphdef, params).sample(key, n)


run = runner(generate)
