"""Baseline generator: ganrs."""


def run(spec: dict, inputs: dict, outdir, **options) -> None:
    raise NotImplementedError("baseline_ganrs is not implemented yet (issue #7); the workflow stops here")
