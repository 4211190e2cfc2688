"""Adapter from an artifact rule to spade_core.artifacts.build (one per stage run)."""

from spade_core.artifacts import build

build(
    snakemake.params.spec,
    snakemake.output[0],
    inputs=dict(snakemake.input.items()),
    options=snakemake.params.get("options"),
    log_file=snakemake.log[0],
    threads=snakemake.threads,
)
