"""Adapter from the smoke rule to spade_core.smoke.run."""

from spade_core.smoke import run

run(snakemake.params.cells, snakemake.output[0], log_file=snakemake.log[0])
