"""The experiment matrix as a graph of content-addressed artifacts.

`build_graph(cfg)` derives every artifact of the matrix (datasets × seeds × generators, plus SPADE's
ablations) from the validated config, each with its stage, hashed spec and parent keys. Every cell
builds its own chain from its own effective config; two cells that need the same artifact compute the
same key, so sharing (e.g. gating_off reusing base Stage I/II) falls out of hashing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spade_core.artifacts import ArtifactError, artifact_dir, key_of, make_spec
from spade_core.config import with_overlay
from spade_core.datasets import dataset_spec

BASELINES = ("random", "marginal", "noise_mf", "ganrs", "vae")
TRAINABLE_BASELINES = ("noise_mf", "ganrs", "vae")

# Stage name -> the spade_core module whose `run(spec, inputs, outdir, **options)` builds it.
STAGES = {
    "download": "spade_core.download",
    "prepare": "spade_core.prepare",
    "stage1": "spade_core.stage1",
    "stage2": "spade_core.stage2",
    "stage3": "spade_core.stage3",
    "reference": "spade_core.reference",
    "tstr_real": "spade_core.tstr",
    "evaluate": "spade_core.evaluate",
    **{f"baseline_{name}": f"spade_core.baselines.{name}" for name in BASELINES},
}


def stage_module(stage: str) -> str:
    try:
        return STAGES[stage]
    except KeyError:
        raise ArtifactError(f"unknown stage {stage!r} (known: {', '.join(STAGES)})") from None


@dataclass(frozen=True)
class Artifact:
    stage: str
    key: str
    spec: dict
    options: dict  # run-time options that do not affect outputs (mirror paths, file locations)

    @property
    def path(self) -> str:
        return artifact_dir(self.stage, self.key)

    @property
    def manifest(self) -> str:
        return f"{self.path}/manifest.json"


@dataclass(frozen=True)
class Cell:
    """One matrix cell: its coordinates and the keys of every artifact in its lineage."""

    dataset: str
    seed: int
    generator: str
    ablation: str
    lineage: dict  # role -> key, ending in "evaluate"

    @property
    def evaluate(self) -> str:
        return self.lineage["evaluate"]


@dataclass
class Graph:
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)

    def add(self, stage: str, config: dict, parents: dict[str, str], options: dict | None = None) -> str:
        spec = make_spec(stage, config, parents, stage_module(stage))
        key = key_of(spec)
        self.artifacts.setdefault(key, Artifact(stage, key, spec, options or {}))
        return key

    def get(self, stage: str, key: str) -> Artifact:
        art = self.artifacts.get(key)
        if art is None or art.stage != stage:
            raise ArtifactError(
                f"no {stage} artifact with key {key} in the current matrix; it may belong to an older "
                "config (see `snakemake clean_orphans`) or be mistyped"
            )
        return art

    def keys(self, stage: str) -> list[str]:
        return sorted(k for k, a in self.artifacts.items() if a.stage == stage)

    def inputs(self, stage: str, key: str) -> dict[str, str]:
        """Parent role -> the parent's manifest path (what a rule's input function returns)."""
        return {role: self.artifacts[k].manifest for role, k in self.get(stage, key).spec["parents"].items()}


def _cells(cfg: dict):
    for generator in cfg["matrix"]["generators"]:
        for ablation in cfg["matrix"]["ablations"] if generator == "spade" else ["base"]:
            yield generator, ablation


def build_graph(cfg: dict) -> Graph:
    """The artifact graph of the whole matrix of a validated config (see module docstring)."""
    graph = Graph()
    datasets = {name: dataset_spec(name, cfg) for name in cfg["matrix"]["datasets"]}
    for name, (ds, ds_options) in datasets.items():
        for seed in cfg["matrix"]["seeds"]:
            for generator, ablation in _cells(cfg):
                c = with_overlay(cfg, ablation) if ablation != "base" else cfg
                lineage = _lineage(graph, c, ds, ds_options, seed, generator)
                graph.cells.append(Cell(name, seed, generator, ablation, lineage))
    return graph


def _lineage(graph: Graph, c: dict, ds: dict, ds_options: dict, seed: int, generator: str) -> dict:
    add = graph.add
    lineage: dict[str, str] = {}
    parents = {}
    if ds["format"] != "custom":
        lineage["download"] = parents["download"] = add(
            "download", {"dataset": ds}, {}, {"mirror": c["data_mirror"]}
        )
    data = {k: v for k, v in c["data"].items() if k != "n_neg"}
    prep = lineage["prepare"] = add("prepare", {"dataset": ds, "seed": seed, "data": data}, parents, ds_options)
    for model in c["eval"]["reference_models"]:
        lineage[f"reference_{model}"] = add(
            "reference", {"seed": seed, "model": model, **c["eval"]["reference"]}, {"prepare": prep}
        )
    tstr = {k: c["eval"][k] for k in ("tstr_models", "topk", "reference")}
    lineage["tstr_real"] = add("tstr_real", {"seed": seed, **tstr}, {"prepare": prep})

    if generator == "spade":
        s1 = lineage["stage1"] = add(
            "stage1", {"seed": seed, "n_neg": c["data"]["n_neg"], **c["representation"]}, {"prepare": prep}
        )
        s2 = lineage["stage2"] = add("stage2", {"seed": seed, **c["generative"]}, {"prepare": prep, "stage1": s1})
        gen = lineage["stage3"] = add(
            "stage3", {"seed": seed, **c["synthesis"]}, {"prepare": prep, "stage1": s1, "stage2": s2}
        )
    else:
        sizing = {k: c["synthesis"][k] for k in ("alpha", "beta")}
        gen = lineage[f"baseline_{generator}"] = add(
            f"baseline_{generator}", {"seed": seed, **sizing, **c["baselines"][generator]}, {"prepare": prep}
        )
    refs = {role: k for role, k in lineage.items() if role.startswith("reference_")}
    lineage["evaluate"] = add(
        "evaluate",
        {"seed": seed, **c["eval"]},
        {"prepare": prep, "generator": gen, "tstr_real": lineage["tstr_real"], **refs},
    )
    return lineage
