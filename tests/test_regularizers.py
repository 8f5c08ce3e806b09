"""Regularizers: Keras's penalties, their gradients, names and configs."""

import json

import numpy as np
import pytest

from juanji import registry
from juanji.autograd import Tensor
from juanji.regularizers import L1, L1L2, L2
from tests.helpers import check_grad

W = np.array([[0.5, -1.5, 2.0], [-0.25, 1.0, -3.0]])
CASES = [
    (L1(0.1), 0.1 * 8.25, 0.1 * np.sign(W)),
    (L2(0.1), 0.1 * 16.5625, 0.2 * W),
    (L1L2(l1=0.1, l2=0.2), 0.825 + 3.3125, 0.1 * np.sign(W) + 0.4 * W),
    (L1L2(), 0.0, 0 * W),
]
IDS = ["l1", "l2", "l1_l2", "l1_l2_zero"]


@pytest.mark.parametrize("regularizer, value, grad", CASES, ids=IDS)
def test_value_and_gradient(regularizer, value, grad):
    w = Tensor(W, requires_grad=True)
    penalty = regularizer(w)
    assert penalty.shape == () and penalty.item() == pytest.approx(value, rel=1e-12)
    penalty.backward()
    np.testing.assert_allclose(w.grad, grad, rtol=1e-12)


@pytest.mark.parametrize("regularizer", [c[0] for c in CASES], ids=IDS)
def test_gradient_matches_finite_differences(regularizer):
    check_grad(regularizer, [W])


def test_float32_weights_give_a_float32_penalty():
    assert L1L2(l1=0.1, l2=0.1)(W.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize(
    "name, cls, config",
    [
        ("l1", L1, {"l1": 0.01}),
        ("L2", L2, {"l2": 0.01}),
        ("l1_l2", L1L2, {"l1": 0.0, "l2": 0.0}),
    ],
)
def test_names_resolve_with_keras_defaults(name, cls, config):
    regularizer = registry.get("regularizer", name)
    assert type(regularizer) is cls and regularizer.get_config() == config


@pytest.mark.parametrize("regularizer", [c[0] for c in CASES], ids=IDS)
def test_config_round_trip(regularizer):
    config = json.loads(json.dumps(registry.serialize(regularizer)))
    again = registry.get("regularizer", config)
    assert type(again) is type(regularizer) and again.get_config() == regularizer.get_config()
    assert again(W).item() == regularizer(W).item()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L1(-0.1), r"non-negative float `l1`. Received: l1=-0.1"),
        (lambda: L2("0.1"), r"Received: l2='0.1'"),
        (lambda: L1L2(l2=float("inf")), r"finite `l2`. Received: l2=inf"),
        (lambda: L1L2(l1=float("nan")), r"Received: l1=nan"),
    ],
)
def test_bad_coefficients_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()
