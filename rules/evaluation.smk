rule reference:
    input:
        unpack(parents("reference")),
    output:
        artifact("reference"),
    log:
        "logs/reference/{key}.log",
    benchmark:
        "benchmarks/reference/{key}.tsv"
    conda:
        "../envs/spade.yaml"
    resources:
        gpu=1,
    params:
        spec=spec("reference"),
    script:
        "../workflow_scripts/artifact.py"


rule tstr_real:
    input:
        unpack(parents("tstr_real")),
    output:
        artifact("tstr_real"),
    log:
        "logs/tstr_real/{key}.log",
    benchmark:
        "benchmarks/tstr_real/{key}.tsv"
    conda:
        "../envs/spade.yaml"
    resources:
        gpu=1,
    params:
        spec=spec("tstr_real"),
    script:
        "../workflow_scripts/artifact.py"


rule evaluate:
    input:
        unpack(parents("evaluate")),
    output:
        artifact("evaluate"),
    log:
        "logs/evaluate/{key}.log",
    benchmark:
        "benchmarks/evaluate/{key}.tsv"
    conda:
        "../envs/spade.yaml"
    resources:
        gpu=1,
    params:
        spec=spec("evaluate"),
    script:
        "../workflow_scripts/artifact.py"
