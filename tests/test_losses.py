"""Loss objects: values and gradients against PyTorch, names, configs and target checks."""

import json

import numpy as np
import pytest

from juanji import losses, registry
from juanji.autograd import Tensor
from juanji.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    MeanAbsoluteError,
    MeanSquaredError,
    MulticlassHinge,
    SparseCategoricalCrossentropy,
    validate_targets,
)

rng = np.random.default_rng(0)
N, C = 6, 4
LOGITS = rng.standard_normal((N, C))
LABELS = rng.integers(0, C, N)
ONE_HOT = np.eye(C)[LABELS]
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
BINARY = rng.integers(0, 2, (N, 1)).astype(np.float64)
SIGMOID = 1 / (1 + np.exp(-LOGITS[:, :1]))


def _torch_cases(torch):
    # NOTE: Keras's probability cross-entropy renormalises each row of p before the log; the
    # value is unchanged for rows summing to 1, but the gradient gains the projection term.
    F = torch.nn.functional
    labels = torch.from_numpy(LABELS)
    return {
        "mse": (MeanSquaredError(), ONE_HOT, PROBS, lambda p: F.mse_loss(p, torch.tensor(ONE_HOT))),
        "mae": (MeanAbsoluteError(), ONE_HOT, PROBS, lambda p: F.l1_loss(p, torch.tensor(ONE_HOT))),
        "bce": (
            BinaryCrossentropy(),
            BINARY,
            SIGMOID,
            lambda p: F.binary_cross_entropy(p, torch.tensor(BINARY)),
        ),
        "bce_logits": (
            BinaryCrossentropy(from_logits=True),
            BINARY[:, 0],  # labels without the size-1 axis are matched to (N, 1)
            LOGITS[:, :1],
            lambda z: F.binary_cross_entropy_with_logits(z, torch.tensor(BINARY)),
        ),
        "cce": (
            CategoricalCrossentropy(),
            ONE_HOT,
            PROBS,
            lambda p: F.nll_loss(torch.log(p / p.sum(-1, keepdim=True)), labels),
        ),
        "cce_logits": (
            CategoricalCrossentropy(from_logits=True),
            ONE_HOT,
            LOGITS,
            lambda z: F.cross_entropy(z, labels),
        ),
        "sparse_logits": (
            SparseCategoricalCrossentropy(from_logits=True),
            LABELS[:, None].astype(np.float32),  # (N, 1) integral floats, as Keras accepts
            LOGITS,
            lambda z: F.cross_entropy(z, labels),
        ),
        "sparse": (
            SparseCategoricalCrossentropy(),
            LABELS,
            PROBS,
            lambda p: F.nll_loss(torch.log(p / p.sum(-1, keepdim=True)), labels),
        ),
        "multiclass_hinge": (
            MulticlassHinge(),
            LABELS,
            LOGITS,
            # torch divides each sample's sum by C; ours (the usual SVM loss) does not
            lambda s: F.multi_margin_loss(s, labels) * C,
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "mse",
        "mae",
        "bce",
        "bce_logits",
        "cce",
        "cce_logits",
        "sparse_logits",
        "sparse",
        "multiclass_hinge",
    ],
)
def test_value_and_gradient_match_torch(case):
    torch = pytest.importorskip("torch")
    loss, y_true, y_pred, torch_fn = _torch_cases(torch)[case]
    ours = Tensor(y_pred.copy(), requires_grad=True)
    value = loss(y_true, ours)
    value.backward()
    theirs = torch.tensor(y_pred.copy(), requires_grad=True)
    expected = torch_fn(theirs)
    expected.backward()
    assert value.shape == ()
    np.testing.assert_allclose(value.data, expected.item(), rtol=1e-10)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_categorical_hinge_follows_keras():
    y_pred = np.array([[0.2, 0.9, 0.1], [0.6, 0.3, 0.5]])
    y_true = np.eye(3)[[1, 2]]
    # Keras: mean(max(0, 1 + max((1 - t) * p) - sum(t * p)))
    expected = np.mean([max(0, 1 + 0.2 - 0.9), max(0, 1 + 0.6 - 0.5)])
    assert CategoricalHinge()(y_true, Tensor(y_pred)).item() == pytest.approx(expected)


def test_float32_in_float32_out():
    value = CategoricalCrossentropy()(ONE_HOT, Tensor(PROBS.astype(np.float32)))
    assert value.dtype == np.float32


@pytest.mark.parametrize(
    "name,cls",
    [
        ("mse", MeanSquaredError),
        ("mean_squared_error", MeanSquaredError),
        ("mae", MeanAbsoluteError),
        ("mean_absolute_error", MeanAbsoluteError),
        ("binary_crossentropy", BinaryCrossentropy),
        ("categorical_crossentropy", CategoricalCrossentropy),
        ("sparse_categorical_crossentropy", SparseCategoricalCrossentropy),
        ("categorical_hinge", CategoricalHinge),
        ("multiclass_hinge", MulticlassHinge),
    ],
)
def test_names(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls
    assert loss.name == cls().name


def test_keras_names_and_unknown_names():
    assert SparseCategoricalCrossentropy().name == "sparse_categorical_crossentropy"
    with pytest.raises(ValueError, match="Unknown loss 'hinge'"):
        losses.get("hinge")


@pytest.mark.parametrize(
    "loss",
    [
        BinaryCrossentropy(from_logits=True),
        SparseCategoricalCrossentropy(name="x"),
        MeanSquaredError(),
    ],
)
def test_config_round_trip(loss):
    config = json.loads(json.dumps(registry.serialize(loss)))
    rebuilt = registry.get("loss", config)
    assert type(rebuilt) is type(loss) and rebuilt.get_config() == loss.get_config()


# --------------------------------------------------------------------------- target checks


@pytest.mark.parametrize(
    "loss,y,match",
    [
        ("categorical_crossentropy", LABELS, "sparse_categorical_crossentropy.*to_categorical"),
        ("categorical_crossentropy", np.eye(C + 1)[LABELS], "5 classes .* outputs 4"),
        ("sparse_categorical_crossentropy", ONE_HOT, "loss='categorical_crossentropy'.*argmax"),
        ("sparse_categorical_crossentropy", LABELS + 0.5, "integer class labels"),
        ("mse", LABELS, "to_categorical"),
        ("binary_crossentropy", LABELS, "sparse_categorical_crossentropy"),
        ("categorical_hinge", LABELS, "multiclass_hinge"),
        ("multiclass_hinge", np.zeros((N, 2, 2)), "one-hot .* or integer class labels"),
    ],
)
def test_wrong_targets_are_explained(loss, y, match):
    with pytest.raises(ValueError, match=match):
        losses.get(loss)(y, Tensor(PROBS))
    with pytest.raises(ValueError, match=match):
        validate_targets(losses.get(loss), y, (None, C))


@pytest.mark.parametrize(
    "loss,y,output_shape,match",
    [
        ("sparse_categorical_crossentropy", np.array([0, 1, 7]), (None, 4), "need 8 units"),
        ("sparse_categorical_crossentropy", np.array([-1, 1, 2]), (None, 4), "from -1 to 2"),
        ("multiclass_hinge", np.array([0, 1, 4]), (None, 4), r"\[0, 4\)"),
        ("binary_crossentropy", np.array([0, 1, 2]), (None, 1), "one unit per class"),
        ("categorical_crossentropy", np.ones((3, 1)), (None, 1), "one output unit per class"),
        ("sparse_categorical_crossentropy", np.array([0, 1, 1]), (None, 1), "binary_crossentropy"),
    ],
)
def test_validate_targets_checks_values_once(loss, y, output_shape, match):
    with pytest.raises(ValueError, match=match):
        validate_targets(losses.get(loss), y, output_shape)


@pytest.mark.parametrize(
    "loss,y,output_shape",
    [
        ("categorical_crossentropy", ONE_HOT, (None, C)),
        ("sparse_categorical_crossentropy", LABELS, (None, C)),
        ("sparse_categorical_crossentropy", LABELS[:, None], (None, C)),
        ("multiclass_hinge", ONE_HOT, (None, C)),
        ("binary_crossentropy", BINARY[:, 0], (None, 1)),
        ("mse", np.zeros((N, 2, 3)), (None, 2, 3)),
    ],
)
def test_validate_targets_accepts_fitting_targets(loss, y, output_shape):
    validate_targets(losses.get(loss), y, output_shape)


def test_validate_targets_skips_plain_functions_and_rejects_text():
    validate_targets(lambda y_true, y_pred: 0.0, np.array(["a"]), (None, 1))
    with pytest.raises(TypeError, match="numeric"):
        validate_targets(MeanSquaredError(), np.array(["a", "b"]), (None, 1))
