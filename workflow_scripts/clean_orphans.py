"""Adapter from the clean_orphans rule to spade_core.artifacts.remove_orphans."""

from spade_core.artifacts import remove_orphans

remove_orphans(set(snakemake.params.keep), log_file=snakemake.log[0])
