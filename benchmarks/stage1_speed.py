"""Stage I seconds per epoch on ml-100k (default config), SPADE's trainer beside a straightforward one.

    ./spade python benchmarks/stage1_speed.py [--mirror ../shared/datasets] [--epochs 5] [--rounds 3]

"straightforward" is the same model and loss written the obvious way: one jitted step per minibatch
from a Python loop, the encoders run on each batch's gathered embeddings, the gate and decoder MLPs
run on the concatenated [z_u; z_i] of every pair, negatives sampled per batch. SPADE's trainer runs a
whole epoch as one jitted `lax.scan` and applies the first layer of the pair MLPs once per entity
(spade_core.nn.PairMLP). The two alternate, round by round, in one process, so machine noise hits
both; the first epoch of each (compilation) is not counted. Only public tools: time.perf_counter.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from spade_core import config, parsing, prepare, stage1
from spade_core.data import load_prepared
from spade_core.nn import MLP
from spade_core.sampling import NegativeSampler, epoch_rng


class Plain(nnx.Module):
    """Stage I's model without the per-entity tables: every pair goes through the full MLPs."""

    def __init__(self, arch: stage1.Architecture, *, rngs: nnx.Rngs):
        e, d = arch.embedding_dim, arch.latent_dim
        self.user_embed, self.item_embed = nnx.Embed(arch.n_users, e, rngs=rngs), nnx.Embed(arch.n_items, e, rngs=rngs)
        self.user_encoder = MLP([e, *arch.encoder_hidden, d], rngs=rngs)
        self.item_encoder = MLP([e, *arch.encoder_hidden, d], rngs=rngs)
        self.gate = MLP([2 * d, *arch.gate_hidden, 1], rngs=rngs)
        self.cosine_scale = nnx.Param(jnp.asarray(5.0))
        self.decoder = MLP([2 * d, *arch.decoder_hidden, len(arch.vocab)], rngs=rngs)
        self.activity = MLP([d, *arch.gate_hidden, 1], rngs=rngs)

    def gate_logit(self, zu, zi):
        cos = jnp.sum(stage1.unit(zu) * stage1.unit(zi), -1)
        return self.gate(jnp.concatenate([zu, zi], -1))[..., 0] + self.cosine_scale[...] * cos


def plain_loss(model: Plain, b: dict, rate: jax.Array, l2: float):
    zu = model.user_encoder(model.user_embed(b["user"]))
    zi = model.item_encoder(model.item_embed(b["item"]))
    zn = model.item_encoder(model.item_embed(b["neg"]))
    s_pos = model.gate_logit(zu, zi)
    s_neg = model.gate_logit(jnp.broadcast_to(zu[:, None], zn.shape), zn)
    gate = jnp.mean(jax.nn.softplus(-s_pos) + jax.nn.softplus(s_neg).sum(-1))
    out = model.decoder(jnp.concatenate([zu, zi], -1))
    rating = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, b["rating_index"]))
    reg = l2 * jnp.mean(jnp.sum(zu**2, -1) + jnp.sum(zi**2, -1))
    activity = jnp.mean(optax.sigmoid_binary_cross_entropy(model.activity(zu)[:, 0], rate[b["user"]]))
    return gate + rating + reg + activity


def straightforward(real, cfg: dict, seed: int):
    """A function running one epoch of the straightforward trainer."""
    arch = stage1.Architecture.from_config(cfg, real.n_users, real.n_items, real.vocab)
    model = Plain(arch, rngs=nnx.Rngs(seed))
    optimizer = nnx.Optimizer(model, optax.adam(cfg["lr"]), wrt=nnx.Param)
    rate = jnp.asarray(np.bincount(real.train.user, minlength=real.n_users) / real.n_items, jnp.float32)
    sampler = NegativeSampler(real.train.user, real.train.item, real.n_users, real.n_items)
    rating_index = stage1.rating_indices(real.train.rating, real.vocab)

    @nnx.jit
    def step(model, optimizer, batch):
        loss, grads = nnx.value_and_grad(plain_loss)(model, batch, rate, cfg["l2_lambda"])
        optimizer.update(model, grads)
        return loss

    def epoch(e: int) -> None:
        rng = epoch_rng(seed, e)
        order = rng.permutation(len(real.train))
        for s in range(0, len(order), cfg["batch_size"]):
            idx = order[s : s + cfg["batch_size"]]
            users = real.train.user[idx]
            batch = {"user": users, "item": real.train.item[idx], "rating_index": rating_index[idx],
                     "neg": sampler.sample(users, cfg["n_neg"], rng)}
            loss = step(model, optimizer, batch)
        loss.block_until_ready()

    return epoch


def spade(real, cfg: dict, seed: int):
    """A function running one epoch of SPADE's Stage I trainer."""
    arch = stage1.Architecture.from_config(cfg, real.n_users, real.n_items, real.vocab)
    model = stage1.Representation(arch, rngs=nnx.Rngs(seed))
    trainer = stage1.Trainer(model, arch, cfg, np.bincount(real.train.user, minlength=real.n_users) / real.n_items)
    sampler = NegativeSampler(real.train.user, real.train.item, real.n_users, real.n_items)
    rating_index = stage1.rating_indices(real.train.rating, real.vocab)

    def epoch(e: int) -> None:
        trainer.epoch(stage1._batches(real.train, rating_index, sampler, cfg["n_neg"], cfg["batch_size"], seed, e))

    return epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per round and trainer")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cfg = config.load({})
    with tempfile.TemporaryDirectory() as tmp:
        prepare.write(prepare.prepare(parsing.read_ml100k(args.mirror / "ml-100k" / "u.data"), cfg["data"], seed=0), Path(tmp))
        real = load_prepared(tmp)
    rep = {**cfg["representation"], "n_neg": cfg["data"]["n_neg"]}
    trainers = {"spade": spade(real, rep, 0), "straightforward": straightforward(real, rep, 0)}
    for run in trainers.values():
        run(0)  # compilation
    times = {name: [] for name in trainers}
    for r in range(args.rounds):
        for name, run in trainers.items():
            for e in range(args.epochs):
                t = time.perf_counter()
                run(1 + r * args.epochs + e)
                times[name].append(time.perf_counter() - t)
    print(f"ml-100k Stage I, {len(real.train):,} training pairs, batch {rep['batch_size']}, n_neg {rep['n_neg']}, "
          f"{args.rounds} rounds x {args.epochs} epochs, jax {jax.__version__} on {jax.devices()[0].platform}")
    for name, values in times.items():
        print(f"  {name:16s} s/epoch: median {statistics.median(values):.3f}  min {min(values):.3f}  max {max(values):.3f}")
    print(f"  ratio straightforward / spade (medians): "
          f"{statistics.median(times['straightforward']) / statistics.median(times['spade']):.2f}")


if __name__ == "__main__":
    main()
