"""Shared checks for op tests: finite-difference gradients and PyTorch parity."""

import numpy as np
import pytest

from juanji.autograd import Tensor


def _float_positions(inputs):
    return [i for i, a in enumerate(inputs) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]


def _loss(fn, inputs, gy, kwargs):
    """<fn(inputs), gy>: a scalar whose gradient is the vector-Jacobian product with gy."""
    y = fn(*[Tensor(a) if isinstance(a, np.ndarray) else a for a in inputs], **kwargs)
    return float(np.sum(y.data * gy))


def check_grad(
    fn, inputs, *, wrt=None, eps=1e-6, atol=1e-7, rtol=1e-5, directions=4, seed=0, **kwargs
):
    """Compare autograd's gradients of ``fn`` with float64 central differences.

    A random upstream gradient ``gy`` is used (never only ``.sum()``, which hides
    transposition bugs). Inputs of at most 60 elements are checked element by element;
    larger ones along ``directions`` random unit directions.

    Args:
        fn: an op taking Tensors (and keyword hyper-parameters).
        inputs: arrays (float64 ones are differentiated), numbers or None, passed positionally.
        wrt: positions of the inputs to check; default every float array.
    """
    rng = np.random.default_rng(seed)
    inputs = list(inputs)
    wrt = _float_positions(inputs) if wrt is None else wrt
    for i in wrt:
        assert inputs[i].dtype == np.float64, "gradient checks run in float64"
    tensors = [
        Tensor(a, requires_grad=i in wrt) if isinstance(a, np.ndarray) else a
        for i, a in enumerate(inputs)
    ]
    y = fn(*tensors, **kwargs)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    for i in wrt:
        analytic = tensors[i].grad
        assert analytic is not None, f"no gradient reached input {i}"
        assert analytic.shape == inputs[i].shape, f"input {i}: gradient shape {analytic.shape}"
        x = inputs[i]

        def loss_at(shift, i=i, x=x):
            shifted = list(inputs)
            shifted[i] = x + shift
            return _loss(fn, shifted, gy, kwargs)

        if x.size <= 60:
            numeric = np.zeros_like(x)
            for j in range(x.size):
                e = np.zeros(x.size)
                e[j] = eps
                e = e.reshape(x.shape)
                numeric.flat[j] = (loss_at(e) - loss_at(-e)) / (2 * eps)
            np.testing.assert_allclose(
                analytic, numeric, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}"
            )
        else:
            for _ in range(directions):
                d = rng.standard_normal(x.shape)
                d /= np.linalg.norm(d)
                numeric = (loss_at(eps * d) - loss_at(-eps * d)) / (2 * eps)
                np.testing.assert_allclose(
                    np.sum(analytic * d),
                    numeric,
                    atol=atol,
                    rtol=rtol,
                    err_msg=f"directional gradient of input {i}",
                )


def check_vs_torch(fn, torch_fn, inputs, *, rtol=None, atol=None, seed=0, **kwargs):
    """Compare forward values and gradients of ``fn`` with ``torch_fn`` on the same inputs.

    ``torch_fn`` receives torch tensors in the same positions (float arrays with
    requires_grad) and the same keyword arguments are *not* forwarded: close over them.
    Tolerances default to 1e-10 absolute in float64 and 1e-5 relative in float32.
    Skipped when torch is not installed.
    """
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    floats = _float_positions(inputs)
    dtype = inputs[floats[0]].dtype if floats else np.float64
    if rtol is None:
        rtol = 1e-5 if dtype == np.float32 else 1e-9
    if atol is None:
        atol = 1e-5 if dtype == np.float32 else 1e-10
    ours = [
        Tensor(a, requires_grad=i in floats) if isinstance(a, np.ndarray) else a
        for i, a in enumerate(inputs)
    ]
    theirs = [
        torch.from_numpy(a.copy()).requires_grad_(i in floats) if isinstance(a, np.ndarray) else a
        for i, a in enumerate(inputs)
    ]
    y = fn(*ours, **kwargs)
    ty = torch_fn(*theirs)
    np.testing.assert_allclose(
        y.data, ty.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward differs from torch"
    )
    if not floats:
        return
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    ty.backward(torch.from_numpy(gy))
    for i in floats:
        assert ours[i].grad is not None, f"no gradient reached input {i}"
        np.testing.assert_allclose(
            ours[i].grad,
            theirs[i].grad.numpy(),
            rtol=rtol,
            atol=atol,
            err_msg=f"gradient of input {i} differs from torch",
        )


def keras_on_torch():
    """Keras 3 on its PyTorch backend, as an oracle (the backend is chosen when Keras is
    first imported: torch unless ``KERAS_BACKEND`` names another); skipped without it.

    A module using it takes the fixture :func:`forget_keras` along, so that the real Keras
    does not stay imported for the tests after it (juanji's Keras 1 layer refuses to
    install beside it)."""
    import os
    import sys

    pytest.importorskip("torch")
    chosen = os.environ.get("KERAS_BACKEND")
    if "keras" not in sys.modules and chosen is None:
        os.environ["KERAS_BACKEND"] = "torch"  # for Keras's import only: others read it too
    try:
        keras = pytest.importorskip("keras")
    finally:
        if chosen is None:
            os.environ.pop("KERAS_BACKEND", None)
    if keras.backend.backend() != "torch":
        pytest.skip("compares with Keras on its torch backend (KERAS_BACKEND=torch)")
    return keras


@pytest.fixture(scope="module")
def forget_keras():
    """After the module's tests, the real Keras modules leave ``sys.modules`` again."""
    import sys

    before = {name for name in sys.modules if name == "keras" or name.startswith("keras.")}
    yield
    for name in [n for n in sys.modules if n == "keras" or n.startswith("keras.")]:
        if name not in before:
            del sys.modules[name]
