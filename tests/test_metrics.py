"""Metrics: values against direct computations and scikit-learn, accumulation, names."""

import json

import numpy as np
import pytest

from juanji import losses, metrics, registry
from juanji.autograd import Tensor
from juanji.metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    resolve_metric,
)

rng = np.random.default_rng(0)
N, C = 40, 6
SCORES = rng.standard_normal((N, C))
LABELS = rng.integers(0, C, N)
ONE_HOT = np.eye(C)[LABELS]


def _in_batches(metric, y_true, y_pred, sizes=(7, 13, 20)):
    metric.reset_state()
    start = 0
    for size in sizes:
        metric.update_state(y_true[start : start + size], y_pred[start : start + size])
        start += size
    return metric.result()


def test_mean_weighted_and_empty():
    m = Mean(name="loss")
    assert m.result() == 0.0
    m.update_state(2.0, sample_weight=3)
    m.update_state(np.array([4.0, 6.0]))
    assert m.result() == pytest.approx((6 + 4 + 6) / 5) and m.name == "loss"
    m.reset_state()
    assert m.result() == 0.0


def test_accuracies_equal_direct_computation_over_batches():
    argmax_match = np.mean(np.argmax(SCORES, -1) == LABELS)
    assert _in_batches(CategoricalAccuracy(), ONE_HOT, SCORES) == pytest.approx(argmax_match)
    assert _in_batches(SparseCategoricalAccuracy(), LABELS, SCORES) == pytest.approx(argmax_match)
    assert _in_batches(SparseCategoricalAccuracy(), LABELS[:, None], SCORES) == pytest.approx(
        argmax_match
    )
    exact = np.mean(LABELS == LABELS[::-1])
    assert _in_batches(Accuracy(), LABELS, LABELS[::-1]) == pytest.approx(exact)


def test_binary_accuracy_threshold():
    probs = rng.uniform(size=(N, 1))
    targets = rng.integers(0, 2, N)  # (N,) against (N, 1): matched as Keras does
    for threshold in (0.5, 0.8):
        expected = np.mean((probs[:, 0] > threshold) == targets)
        value = _in_batches(BinaryAccuracy(threshold=threshold), targets, probs)
        assert value == pytest.approx(expected)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_matches_scikit_learn(k):
    from sklearn.metrics import top_k_accuracy_score

    expected = top_k_accuracy_score(LABELS, SCORES, k=k, labels=np.arange(C))
    assert _in_batches(TopKCategoricalAccuracy(k=k), ONE_HOT, SCORES) == pytest.approx(expected)
    assert _in_batches(SparseTopKCategoricalAccuracy(k=k), LABELS, SCORES) == pytest.approx(
        expected
    )


def test_top_k_counts_ties_with_the_kth_score_as_in():
    scores = np.array([[0.5, 0.2, 0.2, 0.1], [0.5, 0.2, 0.2, 0.1]])
    m = SparseTopKCategoricalAccuracy(k=2)
    m.update_state(np.array([2, 3]), scores)
    assert m.result() == 0.5


def test_regression_metrics_and_tensor_predictions():
    y, p = rng.standard_normal((N, 2)), rng.standard_normal((N, 2))
    assert _in_batches(MeanSquaredError(), y, p) == pytest.approx(np.mean((y - p) ** 2))
    m = MeanAbsoluteError()
    m.update_state(y, Tensor(p))
    assert m.result() == pytest.approx(np.mean(np.abs(y - p)))


def test_shape_errors_point_to_the_other_variant():
    with pytest.raises(ValueError, match="sparse variant"):
        CategoricalAccuracy().update_state(LABELS, SCORES)
    with pytest.raises(ValueError, match="categorical variant"):
        SparseCategoricalAccuracy().update_state(ONE_HOT, SCORES)


@pytest.mark.parametrize(
    "name,cls",
    [
        ("accuracy", Accuracy),
        ("acc", Accuracy),
        ("binary_accuracy", BinaryAccuracy),
        ("categorical_accuracy", CategoricalAccuracy),
        ("sparse_categorical_accuracy", SparseCategoricalAccuracy),
        ("top_k_categorical_accuracy", TopKCategoricalAccuracy),
        ("sparse_top_k_categorical_accuracy", SparseTopKCategoricalAccuracy),
        ("mse", MeanSquaredError),
        ("mae", MeanAbsoluteError),
        ("mean", Mean),
    ],
)
def test_registered_names(name, cls):
    metric = metrics.get(name)
    assert type(metric) is cls


def test_default_names_follow_keras():
    assert TopKCategoricalAccuracy().name == "top_k_categorical_accuracy"
    assert SparseTopKCategoricalAccuracy().name == "sparse_top_k_categorical_accuracy"
    assert BinaryAccuracy().name == "binary_accuracy"


@pytest.mark.parametrize(
    "metric", [BinaryAccuracy(threshold=0.7), TopKCategoricalAccuracy(k=2, name="top2"), Mean()]
)
def test_config_round_trip(metric):
    config = json.loads(json.dumps(registry.serialize(metric)))
    rebuilt = metrics.get(config)
    assert type(rebuilt) is type(metric) and rebuilt.get_config() == metric.get_config()


@pytest.mark.parametrize(
    "loss,expected",
    [
        ("binary_crossentropy", BinaryAccuracy),
        ("categorical_crossentropy", CategoricalAccuracy),
        ("sparse_categorical_crossentropy", SparseCategoricalAccuracy),
        ("categorical_hinge", CategoricalAccuracy),
    ],
)
@pytest.mark.parametrize("identifier", ["accuracy", "acc"])
def test_accuracy_resolves_by_loss(loss, expected, identifier):
    metric = resolve_metric(identifier, losses.get(loss))
    assert type(metric) is expected and metric.name == identifier


@pytest.mark.parametrize("loss", ["mse", "multiclass_hinge", lambda y_true, y_pred: 0.0])
def test_accuracy_for_other_losses_follows_the_shapes(loss):
    loss = losses.get(loss)
    argmax_match = np.mean(np.argmax(SCORES, -1) == LABELS)
    assert _in_batches(resolve_metric("accuracy", loss), LABELS, SCORES) == pytest.approx(
        argmax_match
    )
    assert _in_batches(resolve_metric("accuracy", loss), ONE_HOT, SCORES) == pytest.approx(
        argmax_match
    )
    probs, targets = rng.uniform(size=(N, 1)), rng.integers(0, 2, (N, 1))
    assert _in_batches(resolve_metric("acc", loss), targets, probs) == pytest.approx(
        np.mean((probs > 0.5) == targets)
    )


def test_resolve_passes_other_identifiers_through():
    metric = TopKCategoricalAccuracy(k=2)
    assert resolve_metric(metric, None) is metric
    assert type(resolve_metric("top_k_categorical_accuracy", None)) is TopKCategoricalAccuracy

    def exact_match(y_true, y_pred):
        return (y_true == y_pred).astype(float)

    wrapped = resolve_metric(exact_match, None)
    wrapped.update_state(np.array([1, 2]), np.array([1, 3]))
    assert wrapped.name == "exact_match" and wrapped.result() == 0.5
    with pytest.raises(ValueError, match="Unknown metric"):
        resolve_metric("f7_score", None)
    with pytest.raises(TypeError, match="metric"):
        resolve_metric(3, None)
    with pytest.raises(ValueError, match="k"):
        TopKCategoricalAccuracy(k=0)
