"""Baseline generator: marginal."""


def run(spec: dict, inputs: dict, outdir, **options) -> None:
    raise NotImplementedError("baseline_marginal is not implemented yet (issue #7); the workflow stops here")
