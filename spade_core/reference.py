"""Reference models (MF, NCF) that fix the shared evaluation space."""


def run(spec: dict, inputs: dict, outdir, **options) -> None:
    raise NotImplementedError("reference is not implemented yet (issue #6); the workflow stops here")
