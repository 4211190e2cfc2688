"""Baseline generators. Each is one module `spade_core.baselines.<name>` defining

    generate(real: Prepared, n_users: int, n_items: int, cfg: dict, seed: int) -> Synthetic

sized to the U', I' that α, β give and to the real training density ρ, and `run = runner(generate)`;
plus one entry in spade_core.matrix.BASELINES (and its settings under `baselines:` in the schema).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from spade_core import synthetic
from spade_core.data import Prepared, load_prepared

log = logging.getLogger(__name__)


def target_interactions(real: Prepared, n_users: int, n_items: int) -> int:
    """The number of interactions that reproduces the real training density at U' x I'."""
    return int(round(real.density * n_users * n_items))


def runner(generate: Callable) -> Callable:
    """The stage `run` of a baseline: load the split, generate at the target size, check and write."""

    def run(spec: dict, inputs: dict, outdir: Path) -> None:
        cfg = spec["config"]
        real = load_prepared(inputs["prepare"])
        n_users, n_items = synthetic.target_size(real.n_users, real.n_items, cfg["alpha"], cfg["beta"])
        syn = generate(real, n_users, n_items, cfg, cfg["seed"])
        doc = synthetic.write(syn, outdir, real, cfg["alpha"], cfg["beta"])
        log.info("%s: %d x %d, %d interactions, density %.4f (real %.4f)", spec["stage"], doc["users"],
                 doc["items"], doc["interactions"], doc["density"], real.density)

    return run
