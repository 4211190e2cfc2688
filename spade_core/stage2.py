"""Stage II: WGAN-GP latent generators."""


def run(spec: dict, inputs: dict, outdir, **options) -> None:
    raise NotImplementedError("stage2 is not implemented yet (issue #4); the workflow stops here")
