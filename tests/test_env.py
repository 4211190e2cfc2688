"""Hardware/environment checks (`pytest -m env`): the numeric stack imports and computes known results."""

import numpy as np
import pytest

pytestmark = pytest.mark.env


def _gpus():
    import jax

    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


@pytest.fixture(params=["cpu", "gpu"])
def device(request):
    import jax

    if request.param == "cpu":
        return jax.devices("cpu")[0]
    gpus = _gpus()
    if not gpus:
        pytest.skip("no GPU visible to JAX (install the cuda12 extra on a CUDA node to run this check)")
    return gpus[0]


def test_jax_matmul_and_grad(device):
    import jax
    import jax.numpy as jnp

    x = jax.device_put(jnp.arange(6.0).reshape(2, 3), device)
    assert np.allclose(x @ x.T, [[5.0, 14.0], [14.0, 50.0]])
    assert float(jax.grad(lambda v: jnp.sum(v**2))(x)[1, 2]) == 10.0
    assert x.devices() == {device}


def test_flax_nnx_linear_known_output(device):
    import jax
    import jax.numpy as jnp
    from flax import nnx

    layer = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    layer.kernel.value = jnp.array([[2.0], [-1.0]])
    layer.bias.value = jnp.array([0.5])
    out = jax.jit(lambda m, v: m(v))(layer, jax.device_put(jnp.array([[3.0, 4.0]]), device))
    assert np.allclose(out, [[2.5]])


def test_optax_adam_minimises_a_quadratic(device):
    import jax
    import jax.numpy as jnp
    import optax

    opt = optax.adam(0.1)
    x = jax.device_put(jnp.array(0.0), device)
    state = opt.init(x)
    step = jax.jit(lambda x, s: opt.update(jax.grad(lambda v: (v - 3.0) ** 2)(x), s))
    for _ in range(300):
        updates, state = step(x, state)
        x = optax.apply_updates(x, updates)
    assert abs(float(x) - 3.0) < 1e-2


def test_faiss_exact_inner_product_search():
    import faiss

    base = np.eye(4, dtype=np.float32)
    index = faiss.IndexFlatIP(4)
    index.add(base)
    scores, ids = index.search(np.array([[0.1, 0.9, 0.2, 0.0]], dtype=np.float32), 2)
    assert ids.tolist() == [[1, 2]] and np.allclose(scores, [[0.9, 0.2]])


def test_faiss_gpu_if_available():
    import faiss

    if not hasattr(faiss, "get_num_gpus") or faiss.get_num_gpus() == 0:
        pytest.skip("faiss-cpu build or no GPU: candidate search runs on the CPU (as the pipeline does)")
    assert faiss.get_num_gpus() > 0
