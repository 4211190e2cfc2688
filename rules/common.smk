"""Shared by all rules: the validated config and the artifact graph of the whole matrix.

Every artifact rule outputs `results/artifacts/<stage>/{key}/manifest.json`; its inputs, spec and
run-time options are looked up in GRAPH by key (spade_core.matrix builds it when the Snakefile is
parsed, so `snakemake -n` shows the whole matrix before anything runs).

Rules declare no `threads:` (one core each): SPADE's jobs are small and many, so `--cores N` runs N
of them side by side rather than a few that scale poorly across cores (README, "Performance", has the
per-rule times this way). For large datasets give a rule more, e.g. `--set-threads stage1=4`.
"""

from spade_core import config as spade_config
from spade_core.matrix import BASELINES, TRAINABLE_BASELINES, build_graph

CONFIG = spade_config.load(config)
GRAPH = build_graph(CONFIG)


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
