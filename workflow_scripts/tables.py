"""Adapter from the tables rule to spade_core.report.write_tables."""

from pathlib import Path

from spade_core.report import write_tables

write_tables(snakemake.input[0], snakemake.params.cells, Path(snakemake.output[0]).parent, log_file=snakemake.log[0])
