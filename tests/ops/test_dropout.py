"""dropout: inverted scaling, the fraction dropped, its gradient, seeding and identity cases."""

import numpy as np
import pytest

import juanji
from juanji import ops
from juanji.autograd import Tensor
from tests.helpers import check_grad

CASES = [
    ((4, 5), 0.3, None),
    ((2, 3, 3, 4), 0.5, None),
    ((2, 3, 3, 4), 0.5, (None, 1, 1, None)),  # whole feature maps
]


@pytest.mark.parametrize("shape, rate, noise_shape", CASES)
def test_gradient_with_a_fixed_mask(shape, rate, noise_shape):
    x = np.random.default_rng(0).standard_normal(shape)
    check_grad(
        lambda t: ops.dropout(t, rate=rate, noise_shape=noise_shape, rng=np.random.default_rng(7)),
        [x],
    )


@pytest.mark.parametrize("shape, rate, noise_shape", CASES)
def test_gradient_is_the_forward_mask(shape, rate, noise_shape):
    x = Tensor(np.random.default_rng(1).uniform(1, 2, shape), requires_grad=True)
    y = ops.dropout(x, rate=rate, noise_shape=noise_shape, rng=np.random.default_rng(2))
    gy = np.random.default_rng(3).standard_normal(shape)
    y.backward(gy)
    mask = y.data / x.data  # 0 or 1 / (1 - rate)
    np.testing.assert_allclose(np.unique(mask.round(12)), [0, 1 / (1 - rate)])
    np.testing.assert_allclose(x.grad, gy * mask, rtol=1e-12)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_fraction_dropped_is_rate_and_mean_is_kept(rate):
    x = np.ones((400, 500), np.float32)
    y = ops.dropout(x, rate=rate, rng=np.random.default_rng(4)).data
    assert y.dtype == np.float32
    assert np.mean(y == 0) == pytest.approx(rate, abs=0.005)  # about 7 standard errors
    assert y.mean() == pytest.approx(1, abs=0.02)


def test_noise_shape_drops_whole_channels():
    y = ops.dropout(
        np.ones((8, 5, 5, 16)), rate=0.5, noise_shape=(8, 1, 1, 16), rng=np.random.default_rng(5)
    ).data
    dropped = y[:, :1, :1, :] == 0
    np.testing.assert_array_equal(y == 0, np.broadcast_to(dropped, y.shape))
    assert 0 < dropped.mean() < 1


def test_set_seed_repeats_the_masks():
    x = np.ones((50, 40))
    juanji.set_seed(11)
    first = [ops.dropout(x, rate=0.5).data for _ in range(2)]
    juanji.set_seed(11)
    again = [ops.dropout(x, rate=0.5).data for _ in range(2)]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(*first)


@pytest.mark.parametrize("kwargs", [{"rate": 0.5, "training": False}, {"rate": 0.0}])
def test_identity_when_not_training_or_rate_zero(kwargs):
    x = Tensor(np.random.default_rng(6).standard_normal((3, 4)), requires_grad=True)
    y = ops.dropout(x, **kwargs)
    np.testing.assert_array_equal(y.data, x.data)
    y.backward(np.full((3, 4), 2.0))
    np.testing.assert_array_equal(x.grad, 2.0)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.5", True])
def test_rate_outside_zero_one_is_refused(rate):
    with pytest.raises(ValueError, match=r"Expected `rate` in \[0, 1\). Received: rate="):
        ops.dropout(np.ones(3), rate=rate)


def test_bad_noise_shape_and_rng_are_refused():
    with pytest.raises(ValueError, match=r"broadcastable to x.shape=\(2, 3\)"):
        ops.dropout(np.ones((2, 3)), rate=0.5, noise_shape=(2, 2))
    with pytest.raises(TypeError, match=r"numpy.random.Generator. Received: rng=int"):
        ops.dropout(np.ones((2, 3)), rate=0.5, rng=3)
