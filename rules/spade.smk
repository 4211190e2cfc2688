rule stage1:
    input:
        unpack(parents("stage1")),
    output:
        artifact("stage1"),
    log:
        "logs/stage1/{key}.log",
    benchmark:
        "benchmarks/stage1/{key}.tsv"
    conda:
        "../envs/spade.yaml"
    resources:
        gpu=1,
    params:
        spec=spec("stage1"),
    script:
        "../workflow_scripts/artifact.py"


rule stage2:
    input:
        unpack(parents("stage2")),
    output:
        artifact("stage2"),
    log:
        "logs/stage2/{key}.log",
    benchmark:
        "benchmarks/stage2/{key}.tsv"
    conda:
        "../envs/spade.yaml"
    resources:
        gpu=1,
    params:
        spec=spec("stage2"),
    script:
        "../workflow_scripts/artifact.py"


rule stage3:
    input:
        unpack(parents("stage3")),
    output:
        artifact("stage3"),
    log:
        "logs/stage3/{key}.log",
    benchmark:
        "benchmarks/stage3/{key}.tsv"
    conda:
        "../envs/spade.yaml"
    params:
        spec=spec("stage3"),
    script:
        "../workflow_scripts/artifact.py"
