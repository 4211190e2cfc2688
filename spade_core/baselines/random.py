"""Baseline generator: random."""


def run(spec: dict, inputs: dict, outdir, **options) -> None:
    raise NotImplementedError("baseline_random is not implemented yet (issue #7); the workflow stops here")
