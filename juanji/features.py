"""A trained CNN as a feature extractor, and a scikit-learn SVM as its classifier head.

The network minus its classifier layer maps each image to a feature vector (by default the
input of the final ``Dense``); a support-vector machine trained on those vectors replaces the
softmax head. :func:`compare_heads` reports both heads' test accuracy side by side.
"""

import numbers

import numpy as np

from juanji import backend, registry
from juanji.autograd import no_grad
from juanji.layers import Dense
from juanji.models import Sequential

KERNELS = ("linear", "rbf")


def _check_sequential(model):
    if not isinstance(model, Sequential):
        raise TypeError(
            "Expected a Sequential model (a chain of layers whose outputs can be read in order). "
            f"Received: model={type(model).__name__}"
        )


def _check_batch_size(batch_size):
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"Expected a positive integer. Received: batch_size={batch_size!r}")


def feature_layer_index(model):
    """The index in ``model.layers`` of the layer feeding the final ``Dense`` (the classifier).

    Raises:
        ValueError: if the model has no ``Dense`` layer with a layer before it.
    """
    _check_sequential(model)
    dense = [i for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]
    if not dense or dense[-1] == 0:
        raise ValueError(
            "Expected a model whose classifier is a Dense layer after at least one other layer. "
            f"Received: layers={[type(layer).__name__ for layer in model.layers]}"
        )
    return dense[-1] - 1


def _resolve(model, layer):
    count = len(model.layers)
    if layer is None:
        return feature_layer_index(model)
    if not isinstance(layer, numbers.Integral) or not -count <= layer < count:
        raise ValueError(
            f"Expected a layer index in [{-count}, {count}) of model '{model.name}'. "
            f"Received: layer={layer!r}"
        )
    return int(layer) % count


def _as_inputs(model, x):
    """``x`` as a float array, checked against the model's input shape."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(backend.floatx())
    expected = model.build_input_shape
    if expected is not None and tuple(x.shape[1:]) != tuple(expected[1:]):
        raise ValueError(
            f"Model '{model.name}' expects input of shape {tuple(expected)}. "
            f"Received: x.shape={x.shape}"
        )
    return x


def layer_outputs(model, x, layers, *, batch_size=256):
    """The outputs of several layers of a ``Sequential`` model, in one inference pass.

    Args:
        model: a built ``Sequential`` model.
        x: inputs ``(N, ...)`` of the model's input shape.
        layers: indices into ``model.layers`` (negative ones count from the end); None
            stands for the feature layer (:func:`feature_layer_index`).
        batch_size: samples per forward pass.

    Returns:
        One array per index, ``(N, *layer.output_shape[1:])``, computed with ``training=False``.

    Raises:
        TypeError: for a model that is not ``Sequential``.
        ValueError: for an index out of range or a bad ``batch_size``.
    """
    _check_sequential(model)
    _check_batch_size(batch_size)
    indices = [_resolve(model, i) for i in layers]
    x = _as_inputs(model, x)
    stop = max(indices, default=-1) + 1
    outputs = {i: [] for i in indices}
    with no_grad():
        for start in range(0, len(x), batch_size):
            h = x[start : start + batch_size]
            for i, layer in enumerate(model.layers[:stop]):
                h = layer(h, training=False)
                if i in outputs:
                    outputs[i].append(h.data)
    return [np.concatenate(outputs[i]) for i in indices]


def extract(model, x, layer=None, *, batch_size=256):
    """Features of ``x``: the output of one layer, flattened, computed in inference mode.

    Args:
        model: a built ``Sequential`` model.
        x: inputs ``(N, ...)`` of the model's input shape.
        layer: an index into ``model.layers``; None (the default) takes the layer feeding the
            final ``Dense``, i.e. the network minus its classifier (``-2`` for the seed CNN).
        batch_size: samples per forward pass.

    Returns:
        An array ``(N, D)``, D the number of values the layer outputs per sample.

    Example:
        >>> from juanji import zoo
        >>> extract(zoo.seed_cnn(), np.zeros((3, 28, 28, 1), np.float32)).shape
        (3, 128)
    """
    (features,) = layer_outputs(model, x, [layer], batch_size=batch_size)
    return features.reshape(len(features), -1)


def _labels(y):
    """Integer labels from labels ``(N,)`` or one-hot rows ``(N, K)``."""
    y = np.asarray(y)
    return y.argmax(axis=1) if y.ndim == 2 else y


@registry.register("head")
class SVMHead:
    """A multiclass support-vector machine on (standardised) features, via scikit-learn.

    ``kernel="linear"`` fits ``LinearSVC`` (one-vs-rest, squared hinge); ``"rbf"`` fits ``SVC``
    with a Gaussian kernel (one-vs-one, as scikit-learn does for multiclass ``SVC``).

    Args:
        kernel: ``"linear"`` or ``"rbf"``.
        C: the inverse regularisation strength, > 0.
        standardize: scale each feature to zero mean and unit variance (statistics of the
            training features) before the SVM.

    Example:
        >>> features = np.array([[0.0], [1.0], [4.0], [5.0]])
        >>> head = SVMHead("linear", C=1.0).fit(features, [0, 0, 1, 1])
        >>> head.predict(np.array([[0.5], [4.5]])).tolist()
        [0, 1]
    """

    def __init__(self, kernel="linear", *, C=1.0, standardize=True):
        if kernel not in KERNELS:
            raise ValueError(f"Expected kernel in {KERNELS}. Received: kernel={kernel!r}")
        if not isinstance(C, numbers.Real) or isinstance(C, bool) or not C > 0:
            raise ValueError(f"Expected a positive number for C. Received: C={C!r}")
        self.kernel = kernel
        self.C = float(C)
        self.standardize = bool(standardize)
        self._pipeline = None

    def _make_pipeline(self):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC, LinearSVC

        svm = (
            LinearSVC(C=self.C, max_iter=10_000, random_state=0)
            if self.kernel == "linear"
            else SVC(C=self.C, kernel="rbf", gamma="scale")
        )
        return make_pipeline(StandardScaler(), svm) if self.standardize else make_pipeline(svm)

    def fit(self, features, y):
        """Train on ``features`` ``(N, D)`` and labels ``y`` (``(N,)`` ints or one-hot);
        returns self."""
        features = np.asarray(features)
        if features.ndim != 2:
            raise ValueError(f"Expected features (N, D). Received: features.shape={features.shape}")
        y = _labels(y)
        if len(y) != len(features):
            raise ValueError(
                f"Expected one label per feature row ({len(features)}). Received: len(y)={len(y)}"
            )
        self._pipeline = self._make_pipeline().fit(features, y)
        return self

    def predict(self, features):
        """Class labels ``(N,)`` for ``features`` ``(N, D)``."""
        if self._pipeline is None:
            raise RuntimeError("Call fit() before predict() or score().")
        return self._pipeline.predict(np.asarray(features))

    def score(self, features, y):
        """The accuracy on ``features`` ``(N, D)`` with labels ``y`` (ints or one-hot)."""
        return float(np.mean(self.predict(features) == _labels(y)))

    def get_config(self):
        """The constructor's arguments: ``SVMHead(**head.get_config())`` is an unfitted copy."""
        return {"kernel": self.kernel, "C": self.C, "standardize": self.standardize}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def compare_heads(
    model, x_train, y_train, x_test, y_test, *, kernel="linear", C=1.0, layer=None, batch_size=256
):
    """Test accuracy of the network's own softmax head and of an SVM on its features.

    The SVM (:class:`SVMHead`, standardised) is trained on the features of ``x_train``.

    Args:
        model: a trained ``Sequential`` classifier.
        x_train, x_test: inputs ``(N, ...)``.
        y_train, y_test: labels ``(N,)`` or one-hot ``(N, K)``.
        kernel, C: the SVM's (see :class:`SVMHead`).
        layer: the feature layer (see :func:`extract`).
        batch_size: samples per forward pass.

    Returns:
        ``{"softmax": accuracy, "svm": accuracy, "feature_dim": D}``.
    """
    index = _resolve(model, layer)
    train_features = extract(model, x_train, index, batch_size=batch_size)
    test_features, probabilities = layer_outputs(model, x_test, [index, -1], batch_size=batch_size)
    head = SVMHead(kernel, C=C).fit(train_features, y_train)
    softmax = float(np.mean(probabilities.argmax(axis=1) == _labels(y_test)))
    return {
        "softmax": softmax,
        "svm": head.score(test_features.reshape(len(test_features), -1), y_test),
        "feature_dim": int(train_features.shape[1]),
    }


__all__ = ["SVMHead", "compare_heads", "extract", "feature_layer_index", "layer_outputs"]
