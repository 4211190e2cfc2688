rule aggregate:
    input:
        evaluations,
    output:
        "results/aggregate/metrics.parquet",
        "results/aggregate/summary.parquet",
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/aggregate.tsv"
    conda:
        "../envs/spade.yaml"
    params:
        cells=[vars(cell) for cell in GRAPH.cells],
    script:
        "../workflow_scripts/aggregate.py"


rule tables:
    input:
        "results/aggregate/summary.parquet",
    output:
        expand(
            "results/tables/{table}.{ext}",
            table=["main", "ablations", "tstr"],
            ext=["csv", "md", "tex"],
        ),
        "results/tables/index.csv",
    log:
        "logs/tables.log",
    benchmark:
        "benchmarks/tables.tsv"
    conda:
        "../envs/spade.yaml"
    params:
        cells=[vars(cell) for cell in GRAPH.cells],
    script:
        "../workflow_scripts/tables.py"


# Removes artifacts that the current matrix no longer references (superseded by config or code edits).
rule clean_orphans:
    log:
        "logs/clean_orphans.log",
    conda:
        "../envs/spade.yaml"
    params:
        keep=sorted(GRAPH.artifacts),
    script:
        "../workflow_scripts/clean_orphans.py"


# The smoke gate: `snakemake --cores 2 smoke --configfile resources/smoke.yaml` (small epochs, one seed).
rule smoke:
    input:
        evaluations,
    output:
        "results/smoke/report.txt",
    log:
        "logs/smoke.log",
    benchmark:
        "benchmarks/smoke.tsv"
    conda:
        "../envs/spade.yaml"
    params:
        cells=[vars(cell) for cell in GRAPH.cells],
    script:
        "../workflow_scripts/smoke.py"
