"""Losses: a table of cases drives gradient checks and PyTorch parity; then Keras's values."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from juanji import ops
from juanji.autograd import Tensor
from juanji.ops import losses
from tests.helpers import check_grad, check_vs_torch

torch = pytest.importorskip("torch")
F = torch.nn.functional


# --- samplers: (rng, dtype) -> inputs, away from kinks and clip bounds ----------------------
def _labels(rng, shape, n_classes):
    return rng.integers(0, n_classes, size=shape[:-1])


def _one_hot(labels, n_classes, dtype):
    return np.eye(n_classes, dtype=dtype)[labels]


def regression(shape):
    return lambda rng, dtype: [
        rng.standard_normal(shape).astype(dtype),
        rng.standard_normal(shape).astype(dtype),
    ]


def away_from_target(shape):
    """Predictions at least 0.2 from the target: |p - t| has no kink in reach."""

    def sample(rng, dtype):
        t = rng.standard_normal(shape)
        gap = rng.choice([-1, 1], shape) * rng.uniform(0.2, 1, shape)
        return [(t + gap).astype(dtype), t.astype(dtype)]

    return sample


def binary(shape, *, logits):
    def sample(rng, dtype):
        p = 3 * rng.standard_normal(shape) if logits else rng.uniform(0.05, 0.95, shape)
        return [p.astype(dtype), rng.uniform(0, 1, shape).astype(dtype)]

    return sample


def classes(shape, *, logits, target):
    """Logits or unnormalised probabilities ``shape``, with one-hot, soft or integer targets."""

    def sample(rng, dtype):
        p = 2 * rng.standard_normal(shape) if logits else rng.uniform(0.1, 1, shape)
        if target == "labels":
            t = _labels(rng, shape, shape[-1])
        elif target == "one_hot":
            t = _one_hot(_labels(rng, shape, shape[-1]), shape[-1], dtype)
        else:
            t = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]).astype(dtype)
        return [p.astype(dtype), t]

    return sample


def weights(shape):
    """Weights at least 0.1 from 0, where |w| has its kink."""

    def sample(rng, dtype):
        w = rng.choice([-1, 1], shape) * rng.uniform(0.1, 1, shape)
        return [w.astype(dtype)]

    return sample


# --- torch oracles -------------------------------------------------------------------------
def torch_cce(p, t):
    """Keras's categorical cross-entropy: renormalise, log, average the rows' NLL."""
    log_q = torch.log(p / p.sum(-1, keepdim=True))
    if t.dtype == torch.int64:
        return F.nll_loss(log_q.reshape(-1, p.shape[-1]), t.reshape(-1))
    return -(t * log_q).sum(-1).mean()


def torch_softmax_ce(z, t):
    if t.dtype == torch.int64:
        return F.cross_entropy(z.movedim(-1, 1), t)
    return F.cross_entropy(z.movedim(-1, 1), t.movedim(-1, 1))


def torch_multi_margin(margin):
    # NOTE: torch divides each sample's sum by the number of classes; juanji does not.
    return lambda s, t: F.multi_margin_loss(s, t, margin=margin) * s.shape[-1]


def torch_categorical_hinge(p, t):
    if t.dtype == torch.int64:
        t = F.one_hot(t, p.shape[-1]).to(p.dtype)
    pos = (t * p).sum(-1)
    neg = ((1 - t) * p).max(-1).values
    return torch.relu(1 + neg - pos).mean()


def with_one_hot(op, n_classes):
    """``op`` fed the one-hot rows of integer labels (so the sampled labels stay constant)."""
    return lambda s, t, **kw: op(s, _one_hot(t.data, n_classes, s.dtype), **kw)


@dataclass(frozen=True)
class Case:
    name: str
    op: Callable  # the juanji op, on Tensors
    torch_op: Callable  # the same loss on torch tensors
    sample: Callable  # (rng, dtype) -> inputs


def logits(op, **kwargs):
    return lambda z, t, **kw: op(z, t, from_logits=True, **kwargs, **kw)


cce, sce, hinge = ops.categorical_cross_entropy, ops.softmax_cross_entropy, ops.multiclass_hinge

# fmt: off
CASES = [
    Case("mse", ops.mean_squared_error, F.mse_loss, regression((4, 3))),
    Case("mse_nhwc", ops.mean_squared_error, F.mse_loss, regression((2, 3, 3, 2))),
    Case("mae", ops.mean_absolute_error, F.l1_loss, away_from_target((5, 4))),
    Case("bce", ops.binary_cross_entropy, F.binary_cross_entropy, binary((4, 3), logits=False)),
    Case("bce_from_logits", logits(ops.binary_cross_entropy),
         F.binary_cross_entropy_with_logits, binary((4, 3), logits=True)),
    Case("bce_with_logits", ops.binary_cross_entropy_with_logits,
         F.binary_cross_entropy_with_logits, binary((6,), logits=True)),
    Case("cce_one_hot", cce, torch_cce, classes((4, 5), logits=False, target="one_hot")),
    Case("cce_soft", cce, torch_cce, classes((4, 5), logits=False, target="soft")),
    Case("cce_labels", cce, torch_cce, classes((4, 5), logits=False, target="labels")),
    Case("cce_labels_nhwc", cce, torch_cce, classes((2, 2, 3, 4), logits=False, target="labels")),
    Case("cce_from_logits", logits(cce), torch_softmax_ce,
         classes((4, 5), logits=True, target="one_hot")),
    Case("sce_soft", sce, torch_softmax_ce, classes((4, 5), logits=True, target="soft")),
    Case("sce_labels", sce, torch_softmax_ce, classes((6, 3), logits=True, target="labels")),
    Case("sce_labels_nhwc", sce, torch_softmax_ce,
         classes((2, 3, 2, 4), logits=True, target="labels")),
    Case("sce_soft_nhwc", sce, torch_softmax_ce, classes((2, 2, 2, 3), logits=True, target="soft")),
    Case("hinge", hinge, torch_multi_margin(1.0), classes((6, 4), logits=True, target="labels")),
    Case("hinge_margin", lambda s, t, **kw: hinge(s, t, margin=0.5, **kw), torch_multi_margin(0.5),
         classes((6, 4), logits=True, target="labels")),
    Case("hinge_one_hot", with_one_hot(hinge, 4), torch_multi_margin(1.0),
         classes((6, 4), logits=True, target="labels")),
    Case("categorical_hinge", ops.categorical_hinge, torch_categorical_hinge,
         classes((6, 4), logits=True, target="one_hot")),
    Case("categorical_hinge_labels", ops.categorical_hinge, torch_categorical_hinge,
         classes((6, 4), logits=True, target="labels")),
    Case("l1_penalty", lambda w: ops.l1_penalty(w, l1=0.3),
         lambda w: 0.3 * w.abs().sum(), weights((3, 4))),
    Case("l2_penalty", lambda w: ops.l2_penalty(w, l2=0.3),
         lambda w: 0.3 * (w * w).sum(), weights((2, 2, 3))),
    Case("l1_l2_penalty", lambda w: ops.l1_l2_penalty(w, l1=0.2, l2=0.7),
         lambda w: 0.2 * w.abs().sum() + 0.7 * (w * w).sum(), weights((5,))),
]
# fmt: on
IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients(case):
    check_grad(case.op, case.sample(np.random.default_rng(1), np.float64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch(case, dtype):
    inputs = case.sample(np.random.default_rng(2), dtype)
    check_vs_torch(case.op, case.torch_op, inputs)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_returns_a_scalar_of_the_input_dtype(case):
    y = case.op(*[Tensor(a) for a in case.sample(np.random.default_rng(3), np.float32)])
    assert y.shape == () and y.dtype == np.float32


@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 6), n_classes=st.integers(2, 7), seed=st.integers(0, 2**16))
def test_cross_entropies_match_torch_on_any_shape(batch, n_classes, seed):
    rng = np.random.default_rng(seed)
    shape = (batch, n_classes)
    check_vs_torch(
        ops.softmax_cross_entropy,
        torch_softmax_ce,
        classes(shape, logits=True, target="labels")(rng, np.float64),
    )
    check_vs_torch(
        ops.categorical_cross_entropy,
        torch_cce,
        classes(shape, logits=False, target="one_hot")(rng, np.float64),
    )


@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_mean_squared_error_matches_torch_on_any_shape(shape, seed):
    check_vs_torch(
        ops.mean_squared_error,
        F.mse_loss,
        regression(tuple(shape))(np.random.default_rng(seed), np.float64),
    )


# --- the worked example: a network barely better than chance on an image of class 4 ---------
Q = np.array([0.1058, 0.1043, 0.0988, 0.1066, 0.0875, 0.0881, 0.1027, 0.1046, 0.1057, 0.0958])


@pytest.mark.parametrize("target", [np.array([4]), np.eye(10)[[4]]], ids=["labels", "one_hot"])
def test_worked_example_cross_entropy_is_minus_log_q4(target):
    loss = ops.categorical_cross_entropy(Q[None], target).item()
    # Q sums to 0.9999, and Keras renormalises before the log.
    assert loss == pytest.approx(-np.log(0.0875 / Q.sum()), rel=1e-12)
    assert loss == pytest.approx(2.4361, abs=2e-4)


def test_softmax_then_cross_entropy_has_gradient_p_minus_y_over_n():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((5, 4))
    y = _one_hot(rng.integers(0, 4, 5), 4, np.float64)
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)

    logits = Tensor(z, requires_grad=True)
    ops.categorical_cross_entropy(ops.softmax(logits), y).backward()
    np.testing.assert_allclose(logits.grad, (p - y) / 5, atol=1e-12)

    fused = Tensor(z, requires_grad=True)
    ops.softmax_cross_entropy(fused, y.argmax(-1)).backward()
    np.testing.assert_allclose(fused.grad, (p - y) / 5, atol=1e-15)


def test_from_logits_is_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0, 0.0]])
    assert ops.softmax_cross_entropy(z, np.array([1])).item() == pytest.approx(2000.0)
    assert ops.binary_cross_entropy_with_logits(z, np.array([[0.0, 1.0, 1.0]])).item() == (
        pytest.approx((1000 + 1000 + np.log(2)) / 3)
    )


def test_probabilities_are_clipped_like_keras():
    p = Tensor(np.array([[0.0, 1.0]]), requires_grad=True)
    loss = ops.binary_cross_entropy(p, np.array([[1.0, 0.0]]))
    assert loss.item() == pytest.approx(-np.log(losses.EPSILON))
    loss.backward()
    np.testing.assert_array_equal(p.grad, 0)  # clipped entries pass no gradient
    assert ops.categorical_cross_entropy(
        np.array([[0.0, 1.0]]), np.array([0])
    ).item() == pytest.approx(-np.log(losses.EPSILON))


def test_hinge_losses_on_hand_computed_scores():
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    # (2.9 + 0 + 12.9) / 3, the Weston-Watkins loss of these three samples
    assert ops.multiclass_hinge(scores, np.array([0, 1, 2])).item() == pytest.approx(15.8 / 3)
    # Keras counts the true class as 0 among the others: max(0.6, 0, -0.2) and max(-0.5, 0, -1)
    p = np.array([[0.6, 0.4, -0.2], [-0.5, 2.0, -1.0]])
    assert ops.categorical_hinge(p, np.array([1, 1])).item() == pytest.approx((1.2 + 0) / 2)


def test_penalties_follow_keras_scaling():
    w = np.array([[1.0, -2.0], [0.5, 0.0]])
    assert ops.l1_penalty(w, l1=0.1).item() == pytest.approx(0.35)
    assert ops.l2_penalty(w, l2=0.1).item() == pytest.approx(0.525)


def test_float64_targets_do_not_promote_float32_predictions():
    p = np.full((2, 3), 0.5, np.float32)
    assert ops.mean_squared_error(p, np.zeros((2, 3))).dtype == np.float32
    assert ops.categorical_cross_entropy(p, np.eye(3)[[0, 1]]).dtype == np.float32


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: ops.mean_squared_error(np.zeros((2, 3)), np.zeros((3, 2))),
            ValueError,
            r"same shape as `y_pred` \(2, 3\). Received: y_true.shape=\(3, 2\)",
        ),
        (
            lambda: ops.categorical_cross_entropy(np.ones((2, 3)), np.ones((2, 4))),
            ValueError,
            r"one-hot of shape \(2, 3\) or integer labels of shape \(2,\)",
        ),
        (
            lambda: ops.categorical_cross_entropy(np.ones((2, 3)), np.array([0, 3])),
            ValueError,
            r"\[0, 3\) for C=3 classes. Received: y_true=3",
        ),
        (
            lambda: ops.softmax_cross_entropy(np.ones((2, 3)), np.array([-1, 0])),
            ValueError,
            r"Received: y_true=-1",
        ),
        (
            lambda: ops.multiclass_hinge(np.ones((2, 3)), np.array([0.0, 1.0])),
            TypeError,
            r"integer class labels.*Received: y_true.dtype=float64",
        ),
        (
            lambda: ops.mean_absolute_error(np.array([1, 2]), np.array([1.0, 2.0])),
            TypeError,
            r"floating-point array for `y_pred`. Received: y_pred.dtype=int64",
        ),
        (
            lambda: ops.categorical_hinge(np.ones(3), np.array(1.0)),
            TypeError,
            r"integer class labels",
        ),
        (
            lambda: ops.multiclass_hinge(np.ones((1, 3)), np.array([0]), margin="1"),
            TypeError,
            r"Received: margin='1'",
        ),
        (lambda: ops.l1_penalty(np.ones(3), l1=-0.1), ValueError, r"Received: l1=-0.1"),
    ],
)
def test_errors_say_what_was_expected(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- sample weights: each sample's terms times its weight, the divisor unchanged ------------
WEIGHTED = [c for c in CASES if "penalty" not in c.name]


def _sample_weight(rng, inputs):
    return rng.uniform(0.1, 2.0, len(inputs[0]))


def weighted_torch(torch_op, w):
    """``sum_i w_i * loss(sample i) / N``: the oracle built from per-sample torch losses."""
    return lambda p, t: (
        sum(float(w[i]) * torch_op(p[i : i + 1], t[i : i + 1]) for i in range(len(w))) / len(w)
    )


@pytest.mark.parametrize("case", WEIGHTED, ids=[c.name for c in WEIGHTED])
def test_weighted_gradients(case):
    rng = np.random.default_rng(3)
    inputs = case.sample(rng, np.float64)
    check_grad(case.op, inputs, sample_weight=_sample_weight(rng, inputs))


@pytest.mark.parametrize("case", WEIGHTED, ids=[c.name for c in WEIGHTED])
def test_weighted_losses_match_torch(case):
    rng = np.random.default_rng(4)
    inputs = case.sample(rng, np.float64)
    w = _sample_weight(rng, inputs)

    def op(p, t):
        return case.op(p, t, sample_weight=w)

    check_vs_torch(op, weighted_torch(case.torch_op, w), inputs)


def test_unit_weights_give_the_unweighted_loss():
    rng = np.random.default_rng(5)
    for case in WEIGHTED:
        inputs = case.sample(rng, np.float64)
        plain = case.op(*inputs).item()
        assert case.op(*inputs, sample_weight=np.ones(len(inputs[0]))).item() == pytest.approx(
            plain, rel=1e-12
        ), case.name
