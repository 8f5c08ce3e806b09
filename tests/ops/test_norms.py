"""layer_norm and group_norm: a table of cases drives gradient checks and PyTorch parity."""

import typing

import numpy as np
import pytest

from juanji import ops
from tests.helpers import check_grad, check_vs_torch

EPSILON = 1e-3


class Case(typing.NamedTuple):
    name: str
    op: str  # "layer" or "group"
    shape: tuple  # (N, ..., C)
    option: object  # layer: axis; group: groups
    affine: bool = True

    def sample(self, rng, dtype):
        x = rng.standard_normal(self.shape) * 2 + rng.standard_normal(self.shape[-1])
        param_shape = self.param_shape()
        params = [rng.uniform(0.5, 1.5, param_shape), rng.standard_normal(param_shape)]
        return [a.astype(dtype) for a in [x, *params]] if self.affine else [x.astype(dtype)]

    def param_shape(self):
        if self.op == "group":
            return (self.shape[-1],)
        axes = (self.option,) if isinstance(self.option, int) else self.option
        return tuple(self.shape[a] for a in axes)

    def ours(self):
        def run(x, gamma=None, beta=None):
            if self.op == "layer":
                return ops.layer_norm(x, gamma, beta, axis=self.option, epsilon=EPSILON)
            return ops.group_norm(x, gamma, beta, groups=self.option, epsilon=EPSILON)

        return run

    def theirs(self):
        F = pytest.importorskip("torch").nn.functional

        def run(x, gamma=None, beta=None):
            if self.op == "layer":  # torch normalises trailing axes only
                return F.layer_norm(x, self.param_shape(), gamma, beta, eps=EPSILON)
            y = F.group_norm(x.movedim(-1, 1), self.option, gamma, beta, eps=EPSILON)
            return y.movedim(1, -1)

        return run


TABLE = [
    Case("layer_dense", "layer", (4, 5), -1),
    Case("layer_nhwc_channels", "layer", (2, 3, 4, 3), -1),
    Case("layer_nhwc_all", "layer", (2, 3, 2, 3), (1, 2, 3)),
    Case("layer_sequence_two_axes", "layer", (3, 2, 4, 3), (-2, -1)),
    Case("layer_no_affine", "layer", (3, 6), -1, False),
    Case("group_2d", "group", (2, 3, 3, 4), 2),
    Case("group_dense", "group", (3, 6), 3),
    Case("group_one", "group", (2, 2, 3, 4), 1),
    Case("group_instance", "group", (2, 3, 2, 3), 3),
    Case("group_volume", "group", (2, 2, 2, 3, 4), 2),
    Case("group_no_affine", "group", (2, 4, 4), 2, False),
]
CASES = [pytest.param(c, id=c.name) for c in TABLE]


@pytest.mark.parametrize("case", CASES)
def test_gradients(case):
    check_grad(case.ours(), case.sample(np.random.default_rng(0), np.float64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case, dtype):
    check_vs_torch(case.ours(), case.theirs(), case.sample(np.random.default_rng(1), dtype))


def test_layer_norm_over_a_middle_axis_standardises_it():
    x = np.random.default_rng(2).standard_normal((3, 5, 4)) * 7 + 3
    y = ops.layer_norm(x, None, None, axis=1, epsilon=1e-12).data
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=1), 1, rtol=1e-9)


def test_group_norm_standardises_each_group_of_each_sample():
    x = np.random.default_rng(3).standard_normal((2, 4, 4, 6)) * [1, 2, 3, 4, 5, 6]
    y = ops.group_norm(x, None, None, groups=3, epsilon=1e-12).data.reshape(2, 16, 3, 2)
    np.testing.assert_allclose(y.mean(axis=(1, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(1, 3)), 1, rtol=1e-9)


def test_float32_stays_float32():
    x = np.ones((2, 3, 4), np.float32)
    assert ops.layer_norm(x, np.ones(4, np.float32), None).dtype == np.float32
    assert ops.group_norm(x, None, np.zeros(4, np.float32), groups=2).dtype == np.float32


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: ops.group_norm(x, None, None, groups=4), r"divide the 6 channels.*groups=4"),
        (lambda x: ops.group_norm(x, None, None, groups=0), r"Received: groups=0"),
        (lambda x: ops.layer_norm(x, None, None, axis=0), r"batch axis.*axis=0"),
        (lambda x: ops.layer_norm(x, None, None, axis=3), r"Received: axis=3"),
        (lambda x: ops.layer_norm(x, np.ones(5), None), r"`gamma` of shape \(6,\).*\(5,\)"),
        (lambda x: ops.layer_norm(x, None, None, epsilon=-1), r"Received: epsilon=-1"),
    ],
)
def test_errors_name_the_argument_and_the_value(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.ones((2, 3, 6)))
