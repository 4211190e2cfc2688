"""Shared by all rules: the validated config and the artifact graph of the whole matrix.

Every artifact rule outputs `results/artifacts/<stage>/{key}/manifest.json`; its inputs, spec and
run-time options are looked up in GRAPH by key (spade_core.matrix builds it when the Snakefile is
parsed, so `snakemake -n` shows the whole matrix before anything runs).

Rules declare no `threads:` (one core each): SPADE's jobs are small and many, so `--cores N` runs N
of them side by side rather than a few that scale poorly across cores (README, "Performance", has the
per-rule times this way). For large datasets give a rule more, e.g. `--set-threads stage1=4`.
"""

import os

from spade_core import config as spade_config
from spade_core.matrix import BASELINES, TRAINABLE_BASELINES, build_graph

CONFIG = spade_config.load(config)
GRAPH = build_graph(CONFIG)

# Every job compiles its XLA programs afresh, and the matrix compiles the same programs (same shapes)
# for many seeds and settings: JAX's persistent cache keeps them on disk for all jobs and later runs.
# Jobs inherit these variables; set them yourself to move the cache (e.g. to node-local disk) or
# JAX_COMPILATION_CACHE_MAX_SIZE=0 to turn it off. A size limit makes JAX lock the cache (filelock),
# so concurrent jobs never read a half-written entry.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.abspath(".cache/jax"))
os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(2 << 30))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")


def artifact(stage):
    """A stage rule's output: the manifest of one of its artifacts."""
    return f"results/artifacts/{stage}/{{key}}/manifest.json"


def parents(stage):
    """Input function: the manifests of the artifact's parents, by role."""
    return lambda wildcards: GRAPH.inputs(stage, wildcards.key)


def spec(stage):
    """Params function: the document the artifact's key hashes."""
    return lambda wildcards: GRAPH.get(stage, wildcards.key).spec


def options(stage):
    """Params function: run-time options that do not change outputs (e.g. the data mirror)."""
    return lambda wildcards: GRAPH.get(stage, wildcards.key).options


def manifests(stage):
    """The manifests of every artifact of `stage` in the matrix (for stage-level targets)."""
    return [GRAPH.artifacts[key].manifest for key in GRAPH.keys(stage)]


def evaluations(wildcards):
    """Every evaluation artifact of the matrix, one per cell."""
    return [GRAPH.artifacts[cell.evaluate].manifest for cell in GRAPH.cells]
