"""Weight initializers with Keras 3's names, defaults and fan conventions.

``initializer(shape, dtype=None)`` returns a new array (default dtype ``backend.floatx()``).
Random initializers draw from the shared Generator of :mod:`juanji.backend`, so
``juanji.set_seed`` makes them repeatable; one built with ``seed=n`` draws from its own
Generator seeded with ``n`` at every call, and so returns the same values every time.
Names such as ``"glorot_uniform"`` resolve with ``registry.get("initializer", name)``.
"""

import math
import numbers

import numpy as np

from juanji import backend
from juanji.registry import register

__all__ = [
    "compute_fans",
    "Initializer",
    "Constant",
    "Zeros",
    "Ones",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
    "LecunUniform",
    "Orthogonal",
]

# The standard deviation of a unit normal truncated to [-2, 2].
_TRUNCATED_STDDEV = 0.87962566103423978


def _check_shape(shape):
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise TypeError(
            f"Expected `shape` as a tuple of non-negative integers. Received: shape={shape!r}"
        )
    return tuple(int(n) for n in shape)


def _check_dtype(dtype, *, numeric=False):
    """``dtype`` (default floatx): floating point, or any numeric one when ``numeric``."""
    dtype = backend.floatx() if dtype is None else np.dtype(dtype)
    if dtype.kind not in ("biuf" if numeric else "f"):
        expected = "a numeric" if numeric else "a floating-point"
        raise TypeError(f"Expected {expected} dtype. Received: dtype={dtype}")
    return dtype


def _check_number(name, value, *, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"Expected a finite number `{name}`. Received: {name}={value!r}")
    if positive and value <= 0:
        raise ValueError(f"Expected a positive `{name}`. Received: {name}={value!r}")
    return float(value)


def compute_fans(shape):
    """``(fan_in, fan_out)`` of a weight shape, as Keras computes them.

    Dense kernels ``(in, out)`` give ``(in, out)``; conv kernels ``(*kernel_size, in, out)``
    (HWIO) multiply both by the receptive field ``prod(kernel_size)``; a vector ``(n,)``
    gives ``(n, n)`` and a scalar ``(1, 1)``.
    """
    shape = _check_shape(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: ``__call__(shape, dtype=None)`` returns a new array; configs are JSON."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        """The constructor's arguments as JSON values: ``type(self)(**get_config())`` is a copy."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register("initializer", "constant")
class Constant(Initializer):
    """Every entry equal to ``value``."""

    def __init__(self, value=0.0):
        self.value = _check_number("value", value)

    def __call__(self, shape, dtype=None):
        return np.full(_check_shape(shape), self.value, dtype=_check_dtype(dtype, numeric=True))

    def get_config(self):
        return {"value": self.value}


@register("initializer", "zeros")
class Zeros(Constant):
    """All zeros."""

    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


@register("initializer", "ones")
class Ones(Constant):
    """All ones."""

    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class _RandomInitializer(Initializer):
    """Draws ``_sample(rng, shape)`` in float64 and casts it to the requested dtype."""

    def __init__(self, seed=None):
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(
                f"Expected `seed` as None or a non-negative integer. Received: seed={seed!r}"
            )
        self.seed = None if seed is None else int(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _check_shape(shape), _check_dtype(dtype)
        rng = backend.rng() if self.seed is None else np.random.default_rng(self.seed)
        return self._sample(rng, shape).astype(dtype, copy=False)

    def _sample(self, rng, shape):
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}


def _truncated_normal(rng, shape):
    """Unit normal draws, those outside [-2, 2] drawn again until none is."""
    x = rng.standard_normal(shape)
    outside = np.flatnonzero(np.abs(x) > 2)
    while outside.size:
        x.flat[outside] = rng.standard_normal(outside.size)
        outside = outside[np.abs(x.flat[outside]) > 2]
    return x


@register("initializer", "random_normal", "normal")
class RandomNormal(_RandomInitializer):
    """Normal draws with ``mean`` and ``stddev``."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _check_number("mean", mean)
        self.stddev = _check_number("stddev", stddev, positive=True)

    def _sample(self, rng, shape):
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


@register("initializer", "truncated_normal")
class TruncatedNormal(RandomNormal):
    """Normal draws with ``mean`` and ``stddev``, redrawn beyond two ``stddev`` of the mean."""

    def _sample(self, rng, shape):
        return self.mean + self.stddev * _truncated_normal(rng, shape)


@register("initializer", "random_uniform", "uniform")
class RandomUniform(_RandomInitializer):
    """Uniform draws in ``[minval, maxval)``."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = _check_number("minval", minval)
        self.maxval = _check_number("maxval", maxval)
        if self.maxval <= self.minval:
            raise ValueError(
                f"Expected `minval` < `maxval`. Received: minval={minval!r}, maxval={maxval!r}"
            )

    def _sample(self, rng, shape):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


@register("initializer", "variance_scaling")
class VarianceScaling(_RandomInitializer):
    """Draws with variance ``scale / n``, ``n`` the fan given by ``mode``.

    Args:
        scale: a positive factor.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"`` (their mean), see
            :func:`compute_fans`.
        distribution: ``"truncated_normal"`` (alias ``"normal"``; truncated at two standard
            deviations, the standard deviation raised so the variance stays ``scale / n``),
            ``"untruncated_normal"`` or ``"uniform"`` (in ``±sqrt(3 * scale / n)``).
        seed: None to draw from the shared Generator, or an integer.
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        self.scale = _check_number("scale", scale, positive=True)
        if mode not in self._MODES:
            raise ValueError(f"Expected `mode` in {self._MODES}. Received: mode={mode!r}")
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"Expected `distribution` in {self._DISTRIBUTIONS}. "
                f"Received: distribution={distribution!r}"
            )
        self.mode, self.distribution = mode, distribution

    def _sample(self, rng, shape):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}
        variance = self.scale / max(1.0, fan[self.mode])
        if self.distribution == "uniform":
            limit = math.sqrt(3 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return math.sqrt(variance) * rng.standard_normal(shape)
        return math.sqrt(variance) / _TRUNCATED_STDDEV * _truncated_normal(rng, shape)

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **super().get_config(),
        }


class _VarianceScalingPreset(VarianceScaling):
    """A VarianceScaling with fixed ``_settings`` (scale, mode, distribution): only a seed."""

    _settings = ()

    def __init__(self, seed=None):
        super().__init__(*self._settings, seed=seed)

    def get_config(self):
        return {"seed": self.seed}


@register("initializer", "glorot_uniform")
class GlorotUniform(_VarianceScalingPreset):
    """Xavier uniform: in ``±sqrt(6 / (fan_in + fan_out))``."""

    _settings = (1.0, "fan_avg", "uniform")


@register("initializer", "glorot_normal")
class GlorotNormal(_VarianceScalingPreset):
    """Xavier normal: truncated normal with variance ``2 / (fan_in + fan_out)``."""

    _settings = (1.0, "fan_avg", "truncated_normal")


@register("initializer", "he_normal")
class HeNormal(_VarianceScalingPreset):
    """He normal: truncated normal with variance ``2 / fan_in`` (for ReLU layers)."""

    _settings = (2.0, "fan_in", "truncated_normal")


@register("initializer", "he_uniform")
class HeUniform(_VarianceScalingPreset):
    """He uniform: in ``±sqrt(6 / fan_in)`` (for ReLU layers)."""

    _settings = (2.0, "fan_in", "uniform")


@register("initializer", "lecun_normal")
class LecunNormal(_VarianceScalingPreset):
    """LeCun normal: truncated normal with variance ``1 / fan_in`` (for SELU layers)."""

    _settings = (1.0, "fan_in", "truncated_normal")


@register("initializer", "lecun_uniform")
class LecunUniform(_VarianceScalingPreset):
    """LeCun uniform: in ``±sqrt(3 / fan_in)``."""

    _settings = (1.0, "fan_in", "uniform")


@register("initializer", "orthogonal")
class Orthogonal(_RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of normal draws.

    A shape ``(*dims, out)`` is drawn as a ``(prod(dims), out)`` matrix with orthonormal
    columns (or rows, when it is wide) and reshaped.
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = _check_number("gain", gain)

    def _sample(self, rng, shape):
        if len(shape) < 2:
            raise ValueError(
                f"Expected a shape of at least two dimensions. Received: shape={shape}"
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        q *= np.sign(np.diag(r))  # makes the decomposition unique: uniform over orthogonals
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}
