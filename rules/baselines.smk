# One rule per baseline (baseline_random, baseline_marginal, ...), so each is its own parallel branch.
for name in BASELINES:

    rule:
        name:
            f"baseline_{name}"
        input:
            unpack(parents(f"baseline_{name}")),
        output:
            artifact(f"baseline_{name}"),
        log:
            f"logs/baseline_{name}/{{key}}.log",
        benchmark:
            f"benchmarks/baseline_{name}/{{key}}.tsv"
        conda:
            "../envs/spade.yaml"
        resources:
            gpu=1 if name in TRAINABLE_BASELINES else 0,
        params:
            spec=spec(f"baseline_{name}"),
        script:
            "../workflow_scripts/artifact.py"
