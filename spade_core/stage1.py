"""Stage I: representation learning (encoders, interaction gate, rating decoder)."""


def run(spec: dict, inputs: dict, outdir, **options) -> None:
    raise NotImplementedError("stage1 is not implemented yet (issue #3); the workflow stops here")
