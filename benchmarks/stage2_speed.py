"""Stage II wall time on ml-100k Stage I latents: both generators, default config (500 epochs), SPADE's
trainer beside a straightforward one.

    ./spade python benchmarks/stage2_speed.py [--mirror ../shared/datasets] [--stage1-epochs 20] [--rounds 2]

Latents come from a briefly trained Stage I (their distribution, not their quality, sets the cost).
"straightforward" is the same WGAN-GP written the obvious way: one jitted critic step and one jitted
generator step called from a Python loop (n_critic critic steps per generator step). SPADE's trainer
runs chunks of whole iterations inside one jitted `lax.scan`. Each trainer runs once untimed
(compilation), then the two alternate, round by round, each training both generators for the full
epochs. Only public tools: time.perf_counter.
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

from spade_core import config, parsing, prepare, stage1, stage2
from spade_core.data import load_prepared


def straightforward(trainer: stage2.WGANGP):
    """A function training `trainer`'s generator and critic for cfg['epochs'] epochs, step by step."""
    cfg, (g_def, c_def) = trainer.cfg, trainer.graphs
    gen, critic = nnx.merge(g_def, trainer.params[0]), nnx.merge(c_def, trainer.params[1])
    tx = optax.adam(cfg["lr"], b1=cfg["beta1"], b2=cfg["beta2"])
    g_opt, c_opt = nnx.Optimizer(gen, tx, wrt=nnx.Param), nnx.Optimizer(critic, tx, wrt=nnx.Param)
    data, batch = trainer.data, cfg["batch_size"]
    real_mean, real_cov = stage2._moments(data)

    @nnx.jit
    def critic_step(critic, c_opt, gen, key):
        k_idx, k_noise, k_eps = jax.random.split(key, 3)
        real = data[jax.random.randint(k_idx, (batch,), 0, data.shape[0])]
        noise = jax.random.normal(k_noise, (batch, cfg["noise_dim"]))
        eps = jax.random.uniform(k_eps, (batch, 1))
        grads = nnx.grad(lambda c: stage2._critic_loss(c, gen, real, noise, eps, cfg["gp_lambda"])[0])(critic)
        c_opt.update(critic, grads)

    @nnx.jit
    def generator_step(gen, g_opt, critic, key):
        noise = jax.random.normal(key, (batch, cfg["noise_dim"]))
        grads = nnx.grad(lambda g: stage2._generator_loss(g, critic, noise, real_mean, real_cov,
                                                         cfg["moment_lambda"])[0])(gen)
        g_opt.update(gen, grads)

    iterations = -(-cfg["epochs"] * -(-data.shape[0] // batch) // cfg["n_critic"])

    def train(key):
        for it in range(iterations):
            k = jax.random.fold_in(key, it)
            for j in range(cfg["n_critic"]):
                critic_step(critic, c_opt, gen, jax.random.fold_in(k, j))
            generator_step(gen, g_opt, critic, jax.random.fold_in(k, 99))
        jax.block_until_ready(nnx.state(gen))

    return train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--stage1-epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cfg = config.load({})
    with tempfile.TemporaryDirectory() as tmp:
        prepare.write(prepare.prepare(parsing.read_ml100k(args.mirror / "ml-100k" / "u.data"), cfg["data"], seed=0),
                      Path(tmp))
        real = load_prepared(tmp)
    rep = {**cfg["representation"], "n_neg": cfg["data"]["n_neg"], "epochs": args.stage1_epochs}
    model, *_ = stage1.train(real, rep, seed=0, log_every=10**9)
    latents = dict(zip(("users", "items"), (np.asarray(z) for z in model.encode())))
    gen_cfg = cfg["generative"]
    ours = {name: stage2.WGANGP(z, gen_cfg, jax.random.key(k), name) for k, (name, z) in enumerate(latents.items())}
    plain = {name: straightforward(stage2.WGANGP(z, gen_cfg, jax.random.key(k), name))
             for k, (name, z) in enumerate(latents.items())}
    runs = {"spade": lambda r: [t.train() for t in ours.values()],
            "straightforward": lambda r: [f(jax.random.key(r)) for f in plain.values()]}
    for run in runs.values():
        run(0)  # compilation (and a first full training, untimed)
    times = {name: [] for name in runs}
    for r in range(args.rounds):
        for name, run in runs.items():
            t = time.perf_counter()
            run(r + 1)
            times[name].append(time.perf_counter() - t)
    print(f"ml-100k Stage II: users {latents['users'].shape}, items {latents['items'].shape}, "
          f"{gen_cfg['epochs']} epochs, batch {gen_cfg['batch_size']}, n_critic {gen_cfg['n_critic']}; "
          f"{args.rounds} rounds, jax {jax.__version__} on {jax.devices()[0].platform}")
    for name, values in times.items():
        print(f"  {name:16s} both generators: median {statistics.median(values):.1f} s  "
              f"min {min(values):.1f}  max {max(values):.1f}")
    print(f"  ratio straightforward / spade (medians): "
          f"{statistics.median(times['straightforward']) / statistics.median(times['spade']):.2f}")


if __name__ == "__main__":
    main()
