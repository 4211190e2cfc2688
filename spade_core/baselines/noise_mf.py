"""Baseline generator: noise_mf."""


def run(spec: dict, inputs: dict, outdir, **options) -> None:
    raise NotImplementedError("baseline_noise_mf is not implemented yet (issue #7); the workflow stops here")
