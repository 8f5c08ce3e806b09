"""The ``Legacy`` mixin: a Keras 1 class that translates its arguments and builds juanji's.

``class Dropout(Legacy, layers.Dropout)`` takes Keras 1's arguments, turns them into the
juanji class's (``translate``), prints the migration hint, and is then that juanji object.
"""

import inspect
import numbers

from juanji import initializers
from juanji.compat.keras1 import hints

# Keras 1 initializer names -> juanji identifiers with the same distribution. Keras 1 drew
# glorot_normal and he_normal from an untruncated normal; Keras 3's names truncate it.
_INITIALIZERS = {
    "normal": "random_normal",  # stddev 0.05
    "uniform": "random_uniform",  # in ±0.05
    "glorot_uniform": "glorot_uniform",
    "glorot_normal": initializers.VarianceScaling(1.0, "fan_avg", "untruncated_normal"),
    "he_normal": initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal"),
    "he_uniform": "he_uniform",
    "lecun_uniform": "lecun_uniform",
    "orthogonal": initializers.Orthogonal(gain=1.1),
    "zero": "zeros",
    "one": "ones",
}


def initializer(init, name="init"):
    """The juanji initializer for a Keras 1 ``init`` name.

    Example:
        >>> initializer("normal")
        'random_normal'

    Raises:
        ValueError: for a name Keras 1 did not have, or a custom init function.
    """
    if not isinstance(init, str) or init not in _INITIALIZERS:
        raise ValueError(
            f"Expected `{name}` as one of Keras 1's names "
            f"{', '.join(map(repr, _INITIALIZERS))}. Received: {name}={init!r}"
        )
    return _INITIALIZERS[init]


def activation_arg(name):
    """juanji's activation argument for Keras 1's (``None`` and ``'linear'`` are the identity)."""
    return None if name in (None, "linear") else name


class Legacy:
    """Mixin for a Keras 1 class built as the juanji class that follows it in its bases.

    A subclass writes ``translate`` with Keras 1's signature, returning the keyword arguments
    of the juanji class; lists in ``renamed`` the Keras 1 arguments that map one to one onto a
    juanji argument (a hint shows those even at their default value, as written); and in
    ``no_effect`` the Keras 1 arguments accepted only with values that change nothing here.
    """

    renamed = {}
    no_effect = {}

    def __init__(self, *args, **kwargs):
        name = type(self).__name__
        kwargs = hints.drop_no_effect(name, kwargs, self.no_effect)
        modern = self.translate(*args, **kwargs)
        base = self.modern_class()
        written = {self.renamed.get(k, k) for k in kwargs}
        hints.hint(
            name, hints.format_call(name, args, kwargs), modern_call(base, modern, keep=written)
        )
        super().__init__(**modern)

    @staticmethod
    def translate(*args, **kwargs):
        """Keras 1 arguments -> the juanji class's keyword arguments."""
        raise NotImplementedError

    @classmethod
    def modern_class(cls):
        """The juanji class this Keras 1 class builds."""
        mro = cls.__mro__
        return mro[mro.index(Legacy) + 1]

    @classmethod
    def from_config(cls, config):
        """A saved Keras 1 object comes back as its juanji equivalent."""
        return cls.modern_class().from_config(config)


def modern_call(cls, kwargs, keep=()):
    """Source text calling ``cls`` with ``kwargs``: its required arguments by position, then
    the keyword arguments that differ from its defaults or are named in ``keep``."""
    params = inspect.signature(cls.__init__).parameters
    args = [
        kwargs[p]
        for p, spec in params.items()
        if spec.default is inspect.Parameter.empty and p in kwargs
    ]
    shown = {
        k: v
        for k, v in kwargs.items()
        if k in params
        and params[k].default is not inspect.Parameter.empty
        and (k in keep or not _same(v, params[k].default))
    }
    shown.update({k: v for k, v in kwargs.items() if k not in params})  # Layer's own kwargs
    return hints.format_call(cls.__name__, args, shown)


def _same(value, default):
    if isinstance(value, (tuple, list)) and isinstance(default, (tuple, list)):
        return tuple(value) == tuple(default)
    if isinstance(value, (tuple, list)) and isinstance(default, int) and value:
        return all(_same(v, default) for v in value)  # (1, 1) is the default strides=1
    numbers_only = all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (value, default)
    )
    return value == default if numbers_only else (type(value) is type(default) and value == default)
