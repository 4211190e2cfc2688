"""Stage III speed and memory at ml-100k size and at ML-1M size (α = β = 2).

    ./spade python benchmarks/stage3_scale.py [--mirror ../shared/datasets] [--epochs 20]

For each case: prepare the data (ml-100k from the mirror; the ML-1M-sized case from
spade_core.scale_data), train Stage I briefly (so the gate has realistic probabilities), take Stage
II generators without training (each starts as the Gaussian fitted to the real latents, i.e. random
latents with the real mean and covariance), then time `stage3.synthesize` twice (the second run
reuses compiled functions) and report the process's peak resident memory. Only public tools:
time.perf_counter and resource.getrusage.
"""

from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from spade_core import config, parsing, prepare, scale_data, stage1, stage2, stage3
from spade_core.data import load_prepared


def prepared(df, folder: Path):
    folder.mkdir()
    prepare.write(prepare.prepare(df, config.load({})["data"], seed=0), folder)
    return load_prepared(folder)


def case(name: str, real, epochs: int) -> None:
    cfg = config.load({})
    t = time.perf_counter()
    model, arch, *_ = stage1.train(real, {**cfg["representation"], "n_neg": 5, "epochs": epochs}, seed=0, log_every=10**9)
    zu, zi = (np.asarray(z) for z in model.encode())
    train_s = time.perf_counter() - t
    gens = {k: stage2.WGANGP(z, cfg["generative"], jax.random.key(i), k).sampler()
            for i, (k, z) in enumerate((("users", zu), ("items", zi)))}
    for run in (1, 2):
        t = time.perf_counter()
        syn, report = stage3.synthesize(real, model, arch, gens, (zu, zi), cfg["synthesis"], seed=run)
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
        density = len(syn.interactions) / (syn.n_users * syn.n_items)
        steps = ", ".join(f"{k} {v:.2f}" for k, v in report["seconds"].items())
        print(f"{name} run {run}: {syn.n_users} x {syn.n_items}, C = {report['candidates_per_user']}, "
              f"{len(syn.interactions):,} interactions (density {density:.4f}, real {real.density:.4f}); "
              f"synthesize {wall:.2f} s [{steps}]; process peak RSS {peak:.2f} GiB; Stage I {train_s:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--skip-ml100k", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_ml100k:
            real = prepared(parsing.read_ml100k(args.mirror / "ml-100k" / "u.data"), Path(tmp) / "ml100k")
            case("ml-100k", real, args.epochs)
        real = prepared(scale_data.generate(seed=0), Path(tmp) / "ml1m")
        case("ML-1M-sized", real, max(1, args.epochs // 4))


if __name__ == "__main__":
    main()
