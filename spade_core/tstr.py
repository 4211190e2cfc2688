"""TS-TR: recommenders trained and scored inside one universe."""


def run(spec: dict, inputs: dict, outdir, **options) -> None:
    raise NotImplementedError("tstr_real is not implemented yet (issue #6); the workflow stops here")
