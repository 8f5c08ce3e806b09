"""Output activation and loss pairs that train badly, caught when a model is compiled.

The text's lesson: the loss must suit the output unit. Mean squared error on a sigmoid or
softmax output multiplies the error by ``σ'(z) = σ(z)(1 − σ(z))``, which vanishes when the unit
saturates, so a confidently wrong unit barely learns; cross-entropy cancels that factor and
leaves ``∂L/∂z = p − y``. A softmax output under a loss with ``from_logits=True`` applies the
softmax twice; cross-entropy on a tanh, ReLU or linear output takes the log of values that
are not probabilities. :func:`check_pairing` warns once per model about each such pair, naming
the fix; :func:`silence` turns the check off for one model.

(Targets that do not suit the loss, integer labels under ``categorical_crossentropy`` or
one-hot rows under ``sparse_categorical_crossentropy``, are errors when ``fit`` first sees
them: see :func:`juanji.losses.validate_targets`.)
"""

import warnings

from juanji import losses

_PROBABILITY_OUTPUTS = ("sigmoid", "softmax")
_CROSS_ENTROPIES = (
    losses.BinaryCrossentropy,
    losses.CategoricalCrossentropy,
    losses.SparseCategoricalCrossentropy,
)
_SILENCE = "(to silence this for the model: juanji.pairing.silence(model))"


class PairingWarning(UserWarning):
    """A model's output activation and its loss make a pair that trains badly."""


def silence(model):
    """Turn the pairing check off for ``model`` (its later ``compile`` calls warn no more)."""
    model._pairing_silenced = True
    return model


def output_activation(model):
    """The name of the activation on a ``Sequential`` model's output, or None if unknown.

    Trailing layers that do not change values (Dropout, Flatten, Reshape) are looked through;
    a layer with no activation gives ``"linear"``.
    """
    # NOTE: only a chain of layers has a known output layer; subclassed models are skipped.
    if not any(cls.__name__ == "Sequential" for cls in type(model).__mro__):
        return None
    for layer in reversed(model.layers):
        kind = type(layer).__name__
        if kind in ("Dropout", "Flatten", "Reshape", "Input", "InputLayer"):
            continue
        if kind in ("Softmax", "ReLU", "ELU", "LeakyReLU", "PReLU"):
            return kind.lower().replace("leakyrelu", "leaky_relu")
        if hasattr(layer, "activation"):
            fn = layer.activation
            return "linear" if fn is None else getattr(fn, "__name__", None)
        return None
    return None


def pairing_problems(activation, loss):
    """What is wrong with ``loss`` on an output with ``activation``, each with its fix.

    Args:
        activation: the output activation's name (``"softmax"``, ``"sigmoid"``, ``"tanh"``,
            ``"relu"``, ``"linear"``...), or None when unknown.
        loss: a :class:`juanji.losses.Loss`.

    Returns:
        A list of ``(key, message)`` pairs; empty for a good pair.
    """
    if activation is None or not isinstance(loss, losses.Loss):
        return []
    name = loss.name
    if isinstance(loss, losses.MeanSquaredError) and activation in _PROBABILITY_OUTPUTS:
        fix = "binary_crossentropy" if activation == "sigmoid" else "categorical_crossentropy"
        return [
            (
                "mse_on_probabilities",
                f"loss `{name}` on a {activation} output: its gradient carries σ'(z) = "
                "σ(z)(1 − σ(z)), which vanishes when a unit saturates, so confidently wrong "
                f"outputs learn slowly. Fix: use loss='{fix}', whose gradient is p − y.",
            )
        ]
    if not isinstance(loss, _CROSS_ENTROPIES):
        return []
    if loss.from_logits and activation in _PROBABILITY_OUTPUTS:
        return [
            (
                "activation_applied_twice",
                f"loss `{name}` with from_logits=True on a {activation} output applies the "
                f"{activation} a second time. Fix: use from_logits=False, or remove the "
                f"{activation} from the last layer.",
            )
        ]
    if not loss.from_logits and activation not in _PROBABILITY_OUTPUTS:
        wanted = "sigmoid" if isinstance(loss, losses.BinaryCrossentropy) else "softmax"
        return [
            (
                "not_probabilities",
                f"loss `{name}` on a {activation} output: cross-entropy takes the log of "
                f"probabilities, which a {activation} unit does not give. Fix: end with "
                f"activation='{wanted}', or keep a linear output and pass from_logits=True.",
            )
        ]
    return []


def check_pairing(model, loss):
    """Warn (a :class:`PairingWarning`, once per model and problem) about a bad pairing of
    ``model``'s output activation with ``loss``, unless :func:`silence` was called on it.

    Args:
        model: the model being compiled.
        loss: its compiled loss.
    """
    if getattr(model, "_pairing_silenced", False):
        return
    warned = model.__dict__.setdefault("_pairing_warned", set())
    for key, message in pairing_problems(output_activation(model), loss):
        if key not in warned:
            warned.add(key)
            warnings.warn(f"Model '{model.name}': {message} {_SILENCE}", PairingWarning, 3)


__all__ = ["PairingWarning", "check_pairing", "output_activation", "pairing_problems", "silence"]
