"""SPADE: structure-preserving synthetic collaborative-filtering data, as a DAG of content-addressed
artifacts. `snakemake --cores N results/tables/main.tex` runs the experiment matrix of config.yaml;
`snakemake -n` lists it. See README.md."""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"


wildcard_constraints:
    key="[0-9a-f]{16}",


localrules:
    all,
    prepared,
    synthesized,
    download,
    aggregate,
    tables,
    clean_orphans,
    smoke,


rule all:
    input:
        "results/tables/main.tex",


# Stage-level targets, e.g. `snakemake --cores 2 prepared` stops after the data stage.
rule prepared:
    input:
        manifests("prepare"),


rule synthesized:
    input:
        manifests("stage3"),
        [manifests(f"baseline_{name}") for name in BASELINES],


include: "rules/data.smk"
include: "rules/spade.smk"
include: "rules/baselines.smk"
include: "rules/evaluation.smk"
include: "rules/report.smk"
