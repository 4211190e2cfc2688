"""Stage III: synthesis of a discrete synthetic dataset."""


def run(spec: dict, inputs: dict, outdir, **options) -> None:
    raise NotImplementedError("stage3 is not implemented yet (issue #5); the workflow stops here")
