rule download:
    output:
        artifact("download"),
    log:
        "logs/download/{key}.log",
    benchmark:
        "benchmarks/download/{key}.tsv"
    conda:
        "../envs/spade.yaml"
    params:
        spec=spec("download"),
        options=options("download"),
    script:
        "../workflow_scripts/artifact.py"


rule prepare:
    input:
        unpack(parents("prepare")),
    output:
        artifact("prepare"),
    log:
        "logs/prepare/{key}.log",
    benchmark:
        "benchmarks/prepare/{key}.tsv"
    conda:
        "../envs/spade.yaml"
    params:
        spec=spec("prepare"),
        options=options("prepare"),
    script:
        "../workflow_scripts/artifact.py"
