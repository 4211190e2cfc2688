"""Adapter from the aggregate rule to spade_core.report.aggregate."""

from spade_core.report import aggregate

aggregate(snakemake.params.cells, snakemake.output[0], snakemake.output[1], log_file=snakemake.log[0])
