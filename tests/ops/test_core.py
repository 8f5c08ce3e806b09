"""juanji.ops.core: Keras's names for shapes, dtypes and conversions."""

import numpy as np

from juanji import ops
from juanji.autograd import Tensor
from tests.helpers import check_grad


def test_reshaping_names_differentiate_as_reshapes():
    x = np.random.default_rng(0).standard_normal((2, 3))
    check_grad(lambda t: ops.expand_dims(t, 1) * 2.0, [x])
    check_grad(lambda t: ops.squeeze(ops.expand_dims(t, 0)) * 3.0, [x])
    check_grad(lambda a, b: ops.concatenate([a, b], axis=0), [x, x + 1])
    assert ops.shape(ops.expand_dims(Tensor(x), -1)) == (2, 3, 1)
    assert ops.squeeze(Tensor(np.ones((1, 3, 1))), axis=0).shape == (3, 1)


def test_cast_passes_gradients_back_in_the_inputs_dtype():
    x = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    y = ops.cast(x, "float64")
    assert y.dtype == np.float64
    (y * 3.0).sum().backward()
    assert x.grad.dtype == np.float32 and np.all(x.grad == 3.0)


def test_ones_zeros_and_assign():
    t = ops.zeros((2, 3))
    assert t.dtype == np.float32 and not t.numpy().any()
    t.assign(ops.ones((2, 3)) * 2.0)
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), 2.0))
    assert ops.ones((1,), dtype="float64").dtype == np.float64


def test_conversions_and_argmax():
    t = ops.convert_to_tensor([[1.0, 5.0], [7.0, 2.0]], dtype="float64")
    assert isinstance(t, Tensor) and t.dtype == np.float64
    assert isinstance(ops.convert_to_numpy(t), np.ndarray)
    assert ops.argmax(t).numpy().tolist() == [1, 0]
    assert ops.argmax(t, axis=0).numpy().tolist() == [1, 0]
