"""``keras.optimizers``: Keras 1's optimizers, their ``lr`` names and defaults, on juanji's.

Every one takes Keras 1's ``decay``: ``lr_t = lr / (1 + decay * iterations)``, the step count
taken before the update. SGD has it built in; the others get it as an
``InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)`` schedule, the same rule.
"""

from juanji import optimizers
from juanji.compat.keras1.legacy import Legacy


def _rate(lr, decay):
    """juanji's ``learning_rate`` for Keras 1's ``lr`` and ``decay``."""
    if not decay:
        return lr
    return optimizers.InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)


def _clipping(clipnorm=None, clipvalue=None):
    return {k: v for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue)) if v is not None}


_RENAMED = {"lr": "learning_rate"}


class SGD(Legacy, optimizers.SGD):
    """Keras 1's ``SGD(lr=0.01, momentum=0., decay=0., nesterov=False)``.

    Example:
        >>> sgd = SGD(lr=0.05, decay=1e-6, momentum=0.9, nesterov=True)
        >>> sgd.learning_rate, sgd.decay, sgd.nesterov
        (0.05, 1e-06, True)
    """

    renamed = _RENAMED

    @staticmethod
    def translate(lr=0.01, *, momentum=0.0, decay=0.0, nesterov=False, **clipping):
        """Keras 1 arguments -> ``juanji.optimizers.SGD`` arguments."""
        return {
            "learning_rate": lr,
            "momentum": momentum,
            "nesterov": nesterov,
            "decay": decay,
            **_clipping(**clipping),
        }


class Adagrad(Legacy, optimizers.Adagrad):
    """Keras 1's ``Adagrad(lr=0.01, epsilon=1e-8, decay=0.)``: the squared-gradient sums
    start at zero, as in Keras 1.

    # NOTE: Keras 1 divided by ``sqrt(a) + epsilon``, juanji by ``sqrt(a + epsilon)``; with
    # Keras 1's tiny epsilon the two agree to float32 precision once ``a`` is non-zero.
    """

    renamed = _RENAMED

    @staticmethod
    def translate(lr=0.01, *, epsilon=1e-8, decay=0.0, **clipping):
        """Keras 1 arguments -> ``juanji.optimizers.Adagrad`` arguments."""
        return {
            "learning_rate": _rate(lr, decay),
            "initial_accumulator_value": 0.0,
            "epsilon": epsilon,
            **_clipping(**clipping),
        }


class Adadelta(Legacy, optimizers.Adadelta):
    """Keras 1's ``Adadelta(lr=1.0, rho=0.95, epsilon=1e-8, decay=0.)``."""

    renamed = _RENAMED

    @staticmethod
    def translate(lr=1.0, *, rho=0.95, epsilon=1e-8, decay=0.0, **clipping):
        """Keras 1 arguments -> ``juanji.optimizers.Adadelta`` arguments."""
        return {
            "learning_rate": _rate(lr, decay),
            "rho": rho,
            "epsilon": epsilon,
            **_clipping(**clipping),
        }


class RMSprop(Legacy, optimizers.RMSprop):
    """Keras 1's ``RMSprop(lr=0.001, rho=0.9, epsilon=1e-8, decay=0.)``."""

    renamed = _RENAMED

    @staticmethod
    def translate(lr=0.001, *, rho=0.9, epsilon=1e-8, decay=0.0, **clipping):
        """Keras 1 arguments -> ``juanji.optimizers.RMSprop`` arguments."""
        return {
            "learning_rate": _rate(lr, decay),
            "rho": rho,
            "epsilon": epsilon,
            **_clipping(**clipping),
        }


class Adam(Legacy, optimizers.Adam):
    """Keras 1's ``Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, decay=0.)``."""

    renamed = _RENAMED

    @staticmethod
    def translate(lr=0.001, *, beta_1=0.9, beta_2=0.999, epsilon=1e-8, decay=0.0, **clipping):
        """Keras 1 arguments -> ``juanji.optimizers.Adam`` arguments."""
        return {
            "learning_rate": _rate(lr, decay),
            "beta_1": beta_1,
            "beta_2": beta_2,
            "epsilon": epsilon,
            **_clipping(**clipping),
        }


_BY_NAME = {"sgd": SGD, "adagrad": Adagrad, "adadelta": Adadelta, "rmsprop": RMSprop, "adam": Adam}


def get(identifier):
    """An optimizer from a Keras 1 name (with Keras 1's defaults) or an optimizer instance.

    Example:
        >>> get("adadelta").learning_rate
        1.0

    Raises:
        ValueError: for a name Keras 1 compatibility does not provide.
    """
    if isinstance(identifier, str):
        if identifier.lower() not in _BY_NAME:
            raise ValueError(
                f"Expected an optimizer name among {', '.join(_BY_NAME)}. "
                f"Received: optimizer={identifier!r}"
            )
        return _BY_NAME[identifier.lower()]()
    if not isinstance(identifier, optimizers.Optimizer):
        raise TypeError(
            f"Expected an optimizer name or instance. Received: optimizer={identifier!r}"
        )
    return identifier


__all__ = ["Adadelta", "Adagrad", "Adam", "RMSprop", "SGD", "get"]
