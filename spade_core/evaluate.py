"""The evaluation suite of one generator output."""


def run(spec: dict, inputs: dict, outdir, **options) -> None:
    raise NotImplementedError("evaluate is not implemented yet (issue #6); the workflow stops here")
