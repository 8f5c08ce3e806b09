"""Preprocessing layers, Keras 3's replacement for ImageDataGenerator: put them at the start
of a model and the model resizes, normalises and augments its own input.

The random ones (RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomContrast,
RandomBrightness) change their input only when called with ``training=True``, and draw one
set of parameters per image from a Generator: their own when given a ``seed``, otherwise
juanji's shared one (so ``juanji.set_seed`` repeats a run). The geometric ones warp the
whole batch in one :func:`juanji.ops.grid_sample` call over a coordinate map per image.
Images are ``(N, H, W, C)`` floats (channels_last).
"""

import math
import numbers

import numpy as np

from juanji import backend, ops, registry
from juanji.autograd import Tensor, as_tensor
from juanji.layers.base import Layer
from juanji.ops.spatial import INTERPOLATIONS

FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def _check_images(layer, shape):
    if len(shape) != 4:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expects images (N, H, W, C). "
            f"Received: x.shape={tuple(shape)}"
        )


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Expected a positive int `{name}`. Received: {name}={value!r}")
    return int(value)


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"Expected `{name}` in {choices}. Received: {name}={value!r}")
    return value


def _factor_range(factor, name, minimum=None):
    """``(lower, upper)`` from a float ``f`` (``(-f, f)``) or a pair, as Keras reads them."""
    pair = (-factor, factor) if isinstance(factor, numbers.Real) else factor
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in pair)
        or pair[0] > pair[1]
        or (minimum is not None and pair[0] < minimum)
    ):
        bound = "" if minimum is None else f" no lower than {minimum}"
        raise ValueError(
            f"Expected `{name}` as a float or a pair (lower, upper){bound}, lower <= upper. "
            f"Received: {name}={factor!r}"
        )
    return float(pair[0]), float(pair[1])


def _crop_box(size, target):
    """The centred ``(top, left, height, width)`` window of ``size`` with the aspect ratio
    of ``target``, as Keras rounds it (down)."""
    (H, W), (h, w) = size, target
    crop_h = max(min(H, int(W * h / w)), 1)
    crop_w = max(min(W, int(H * w / h)), 1)
    return (H - crop_h) // 2, (W - crop_w) // 2, crop_h, crop_w


def _crop(x, top, left, height, width):
    H, W = x.shape[1:3]
    return ops.crop_spatial(x, ((top, H - top - height), (left, W - left - width)))


@registry.register("layer")
class Rescaling(Layer):
    """``x * scale + offset``, e.g. ``Rescaling(1 / 255)`` maps 0..255 to 0..1.

    Example:
        >>> Rescaling(1 / 127.5, offset=-1)(np.full((1, 2), 255.0, np.float32)).numpy()
        array([[1., 1.]], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.offset = float(offset)

    def call(self, x):
        y = ops.multiply(x, self.scale)
        return ops.add(y, self.offset) if self.offset else y

    def _check_input(self, x):
        """Any shape."""

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


@registry.register("layer")
class Resizing(Layer):
    """Resizes images to ``(height, width)``.

    Args:
        height, width: the output size.
        interpolation: ``"bilinear"`` (half-pixel centres, no antialiasing, as Keras's
            default) or ``"nearest"``.
        crop_to_aspect_ratio: first crop the largest centred window of the output's aspect
            ratio, so that nothing is stretched.

    Shape:
        (N, H, W, C) -> (N, height, width, C).

    Example:
        >>> Resizing(4, 6)(np.zeros((2, 8, 8, 3), np.float32)).shape
        (2, 4, 6, 3)
    """

    def __init__(
        self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.height = _check_size("height", height)
        self.width = _check_size("width", width)
        self.interpolation = _check_choice("interpolation", interpolation, INTERPOLATIONS)
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)

    def build(self, input_shape):
        _check_images(self, input_shape)

    def call(self, x):
        target = (self.height, self.width)
        if self.crop_to_aspect_ratio:
            x = _crop(x, *_crop_box(x.shape[1:3], target))
        return ops.resize(x, size=target, interpolation=self.interpolation)

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
        }


@registry.register("layer")
class CenterCrop(Layer):
    """The central ``(height, width)`` window of each image; an image smaller than that is
    cropped to the window's aspect ratio and resized up (bilinear), as Keras does.

    Example:
        >>> CenterCrop(4, 4)(np.zeros((2, 8, 6, 3), np.float32)).shape
        (2, 4, 4, 3)
    """

    def __init__(self, height, width, **kwargs):
        super().__init__(**kwargs)
        self.height = _check_size("height", height)
        self.width = _check_size("width", width)

    def build(self, input_shape):
        _check_images(self, input_shape)

    def call(self, x):
        (H, W), target = x.shape[1:3], (self.height, self.width)
        if H >= self.height and W >= self.width:
            return _crop(x, (H - self.height) // 2, (W - self.width) // 2, *target)
        return ops.resize(_crop(x, *_crop_box((H, W), target)), size=target)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


@registry.register("layer")
class Normalization(Layer):
    """``(x - mean) / sqrt(variance)`` per feature along ``axis``, from given statistics or
    from data with :meth:`adapt`; ``invert=True`` applies the inverse.

    The statistics are non-trainable weights ``mean`` and ``variance``, so a saved model
    keeps the adapted values.

    Args:
        axis: the axis (or axes) with one statistic per entry (default the last, channels);
            None for one scalar mean and variance.
        mean, variance: the statistics (broadcastable to the kept axes), or None to adapt.
        invert: map normalised values back (``x * sqrt(variance) + mean``).

    Example:
        >>> layer = Normalization()
        >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]], np.float32))
        >>> layer(np.array([[1.0, 20.0]], np.float32)).numpy()
        array([[0., 0.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if (mean is None) != (variance is None):
            raise ValueError(
                "Expected both `mean` and `variance` or neither. "
                f"Received: mean={mean!r}, variance={variance!r}"
            )
        self.axis = None if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        self.given = None if mean is None else (mean, variance)
        self.invert = bool(invert)

    def _kept_shape(self, input_shape):
        """The statistics' shape: the sizes along ``axis``, 1 elsewhere (no batch axis)."""
        rank = len(input_shape)
        kept = () if self.axis is None else {a % rank for a in self.axis}
        if 0 in kept:
            raise ValueError(
                f"Normalization '{self.name}' cannot keep the batch axis. "
                f"Received: axis={self.axis}"
            )
        return tuple(input_shape[a] if a in kept else 1 for a in range(1, rank))

    def build(self, input_shape):
        shape = self._kept_shape(input_shape)
        self.mean = self.add_weight(shape, initializer="zeros", trainable=False, name="mean")
        self.variance = self.add_weight(shape, initializer="ones", trainable=False, name="variance")
        if self.given is not None:
            for weight, value in zip((self.mean, self.variance), self.given):
                weight.data[...] = np.broadcast_to(np.asarray(value, weight.dtype), shape)

    def adapt(self, data, batch_size=256):
        """Set ``mean`` and ``variance`` from ``data``: an array, or an iterable of batches
        (arrays or ``(x, y)`` tuples, whose ``x`` is used), combined batch by batch.

        Raises:
            ValueError: for no data, or data whose shape does not fit the layer's.
        """
        count, mean, m2 = 0, None, None
        for batch in _batches(data, batch_size):
            x = np.asarray(batch, np.float64)
            if not self.built:
                self.build(x.shape)
                self.built, self._built_shape = True, x.shape
            shape = self._kept_shape(x.shape)
            if shape != self.mean.shape:
                raise ValueError(
                    f"Normalization '{self.name}' was built for statistics of shape "
                    f"{self.mean.shape}. Received: data of shape {x.shape}"
                )
            reduce = tuple(i for i, n in enumerate((len(x), *shape)) if n == 1 or i == 0)
            n = x.size // math.prod(shape)
            batch_mean = x.mean(axis=reduce, keepdims=True)[0]
            batch_m2 = ((x - batch_mean) ** 2).sum(axis=reduce, keepdims=True)[0]
            if mean is None:
                count, mean, m2 = n, batch_mean, batch_m2
                continue
            # NOTE: Chan et al.'s pairwise update keeps the variance exact over many batches.
            delta, total = batch_mean - mean, count + n
            mean = mean + delta * n / total
            m2 = m2 + batch_m2 + delta**2 * count * n / total
            count = total
        if mean is None:
            raise ValueError(f"Normalization '{self.name}'.adapt() received no data.")
        self.mean.data[...] = mean
        self.variance.data[...] = m2 / count

    def call(self, x):
        std = np.maximum(np.sqrt(self.variance.data), 1e-7)
        if self.invert:
            return ops.add(ops.multiply(x, std), self.mean.data)
        return ops.divide(ops.subtract(x, self.mean.data), std)

    def get_config(self):
        config = {**super().get_config(), "axis": None if self.axis is None else list(self.axis)}
        if self.given is not None:
            config["mean"], config["variance"] = (np.asarray(v).tolist() for v in self.given)
        return {**config, "invert": self.invert}


def _batches(data, batch_size):
    """``data`` as a sequence of array batches."""
    if isinstance(data, (np.ndarray, Tensor)):
        array = data.data if isinstance(data, Tensor) else data
        for start in range(0, len(array), batch_size):
            yield array[start : start + batch_size]
        return
    for batch in data:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


class _RandomLayer(Layer):
    """A random augmentation: the identity unless ``training``; its draws come from its own
    Generator when it has a ``seed``, else from juanji's shared one."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def rng(self):
        return backend.rng() if self._rng is None else self._rng

    def build(self, input_shape):
        _check_images(self, input_shape)

    def call(self, x, training=False):
        return self.augment(x) if training else x

    def augment(self, x):
        """The augmented batch."""
        raise NotImplementedError

    def uniform(self, bounds, n):
        """``n`` draws, uniform in ``bounds`` ``(lower, upper)``, as ``(n,)`` float64."""
        return self.rng().uniform(bounds[0], bounds[1], n)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@registry.register("layer")
class RandomFlip(_RandomLayer):
    """Flips each image left-right and/or upside down, each with probability 1/2.

    Args:
        mode: ``"horizontal"``, ``"vertical"`` or ``"horizontal_and_vertical"``.
        seed: an int for a layer-own Generator.

    Example:
        >>> x = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)
        >>> RandomFlip("horizontal")(x, training=False).numpy().ravel()
        array([0., 1., 2., 3.], dtype=float32)
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.mode = _check_choice("mode", mode, self.MODES)

    def augment(self, x):
        n = x.shape[0]
        for axis, wanted in ((2, "horizontal"), (1, "vertical")):
            if wanted in self.mode:
                flip = (self.rng().random(n) < 0.5).reshape(n, 1, 1, 1)
                reversed_ = [slice(None)] * 4
                reversed_[axis] = slice(None, None, -1)
                x = ops.where(flip, ops.getitem(x, index=tuple(reversed_)), x)
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _RandomAffine(_RandomLayer):
    """A random affine warp per image, sampled in one ``grid_sample`` over the batch.

    ``fill_mode`` says what lies beyond the edges, as Keras: ``"reflect"`` (``d c b a | a b
    c d | d c b a``), ``"wrap"`` (``a b c d | a b c d``), ``"nearest"`` (``a a a a | a b c
    d``) or ``"constant"`` (``fill_value``)."""

    def __init__(
        self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, **kwargs
    ):
        super().__init__(seed=seed, **kwargs)
        self.fill_mode = _check_choice("fill_mode", fill_mode, FILL_MODES)
        self.interpolation = _check_choice("interpolation", interpolation, INTERPOLATIONS)
        self.fill_value = float(fill_value)

    def transforms(self, n, size):
        """``(A, shift)``: per image a ``(2, 2)`` matrix and a ``(2,)`` offset in pixels,
        ``(row, col)`` order, taking an output pixel (relative to the image centre) to the
        input point it reads (relative to the centre)."""
        raise NotImplementedError

    def augment(self, x):
        x = as_tensor(x)
        N, H, W, _ = x.shape
        A, shift = self.transforms(N, (H, W))
        centre = np.array([(H - 1) / 2, (W - 1) / 2])
        rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        out = np.stack([rows, cols], axis=-1) - centre  # (H, W, 2)
        source = np.einsum("nij,hwj->nhwi", A, out) + shift[:, None, None] + centre
        if self.fill_mode in ("reflect", "wrap"):
            x, source = _periodic_extension(x, source, self.fill_mode)
        H, W = x.shape[1:3]
        # (u, v) = (col, row) normalised with the image edges at -1 and 1
        grid = np.stack([(2 * source[..., 1] + 1) / W - 1, (2 * source[..., 0] + 1) / H - 1], -1)
        grid = grid.astype(x.dtype)
        if self.fill_mode != "constant":
            return ops.grid_sample(x, grid, mode=self.interpolation, padding_mode="border")
        # zeros beyond the edges, moved to fill_value: sample x - fill_value, add it back
        shifted = ops.subtract(x, self.fill_value) if self.fill_value else x
        y = ops.grid_sample(shifted, grid, mode=self.interpolation, padding_mode="zeros")
        return ops.add(y, self.fill_value) if self.fill_value else y

    def get_config(self):
        return {
            **super().get_config(),
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
        }


def _periodic_extension(x, source, fill_mode):
    """The images ``x`` and ``source`` (N, H, W, 2) pixel coordinates folded into them so
    that bilinear sampling with clamped borders reads what Keras reads from the infinite
    ``"reflect"`` (``d c b a | a b c d | d c b a``) or ``"wrap"`` (``a b c d | a b c d``)
    tiling, whose integer indices it folds.

    The reflect tiling is symmetric about every edge, so reading it at a point equals
    reading it at the point mirrored into the image, and within half a pixel of an edge it
    repeats the edge pixel as clamping does. The wrap tiling joins the last pixel to the
    first: the images get one wrapped pixel more on each side for the seam."""
    axes = []
    for axis, size in enumerate(x.shape[1:3]):
        p = source[..., axis] + 0.5  # in [0, size) inside the image
        if fill_mode == "reflect":
            u = np.mod(p, 2 * size)
            axes.append(np.where(u > size, 2 * size - u, u) - 0.5)
        else:
            axes.append(np.mod(p, size) + 0.5)  # one pixel in: pixel -1 comes first
    if fill_mode == "wrap":
        rows, cols = (np.mod(np.arange(-1, n + 1), n) for n in x.shape[1:3])
        x = ops.getitem(x, index=(slice(None), rows[:, None], cols[None, :]))
    return x, np.stack(axes, axis=-1)


@registry.register("layer")
class RandomRotation(_RandomAffine):
    """Rotates each image about its centre by a random angle.

    Args:
        factor: the angle as a fraction of a full turn (2 pi), as Keras: a float ``f`` for
            ``[-f, f]`` or ``(lower, upper)``; positive turns counter-clockwise.
        fill_mode, interpolation, fill_value: see the module; ``interpolation`` is
            ``"bilinear"`` or ``"nearest"``.
        seed: an int for a layer-own Generator.

    Example:
        >>> x = np.zeros((1, 3, 3, 1), np.float32); x[0, 0, 2] = 1  # top right
        >>> y = RandomRotation((0.25, 0.25), interpolation="nearest")(x, training=True)
        >>> y.numpy()[0, :, :, 0]  # a quarter turn counter-clockwise: now top left
        array([[1., 0., 0.],
               [0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
    """

    def __init__(
        self,
        factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.factor = _factor_range(factor, "factor")

    def transforms(self, n, size):
        angle = self.uniform(self.factor, n) * 2 * math.pi
        cos, sin = np.cos(angle), np.sin(angle)
        # counter-clockwise on screen (rows grow downwards): the output pixel at
        # (row, col) reads the input at (cos row + sin col, -sin row + cos col)
        A = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], 1)
        return A, np.zeros((n, 2))

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


@registry.register("layer")
class RandomTranslation(_RandomAffine):
    """Shifts each image by a random fraction of its height and width.

    Args:
        height_factor, width_factor: a float ``f`` for ``[-f, f]`` or ``(lower, upper)``,
            fractions of the height / width; positive shifts down / right.
        fill_mode, interpolation, fill_value, seed: as ``RandomRotation``.

    Example:
        >>> x = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)
        >>> layer = RandomTranslation(0, (0.25, 0.25), fill_mode="constant")
        >>> layer(x, training=True).numpy().ravel()
        array([0., 0., 1., 2.], dtype=float32)
    """

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor = _factor_range(height_factor, "height_factor")
        self.width_factor = _factor_range(width_factor, "width_factor")

    def transforms(self, n, size):
        shift = np.stack(
            [
                -self.uniform(self.height_factor, n) * size[0],
                -self.uniform(self.width_factor, n) * size[1],
            ],
            axis=-1,
        )
        return np.broadcast_to(np.eye(2), (n, 2, 2)), shift

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": list(self.height_factor),
            "width_factor": list(self.width_factor),
        }


@registry.register("layer")
class RandomZoom(_RandomAffine):
    """Zooms each image about its centre by a random factor.

    Args:
        height_factor: a float ``f`` for ``[-f, f]`` or ``(lower, upper)``: the image is
            shown ``1 + factor`` times smaller, so positive zooms out and negative in
            (``lower >= -1``).
        width_factor: the same for the width; None keeps the aspect ratio (one factor).
        fill_mode, interpolation, fill_value, seed: as ``RandomRotation``.

    Example:
        >>> RandomZoom(0.2, seed=0)(np.ones((2, 6, 6, 3), np.float32), training=True).shape
        (2, 6, 6, 3)
    """

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor = _factor_range(height_factor, "height_factor", minimum=-1)
        self.width_factor = (
            None if width_factor is None else _factor_range(width_factor, "width_factor", -1)
        )

    def transforms(self, n, size):
        zoom_h = 1 + self.uniform(self.height_factor, n)
        zoom_w = zoom_h if self.width_factor is None else 1 + self.uniform(self.width_factor, n)
        A = np.zeros((n, 2, 2))
        A[:, 0, 0], A[:, 1, 1] = zoom_h, zoom_w
        return A, np.zeros((n, 2))

    def get_config(self):
        width = None if self.width_factor is None else list(self.width_factor)
        return {
            **super().get_config(),
            "height_factor": list(self.height_factor),
            "width_factor": width,
        }


class _RandomIntensity(_RandomLayer):
    """A random change of the pixel values, clipped to ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        low, high = _factor_range(tuple(value_range), "value_range")
        self.value_range = (low, high)
        self.factor = factor

    def clip(self, x):
        return ops.clip(x, min_value=self.value_range[0], max_value=self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range)}


@registry.register("layer")
class RandomContrast(_RandomIntensity):
    """Scales each image's deviation from its per-channel mean by a random factor in
    ``[1 - lower, 1 + upper]``: ``(x - mean) * factor + mean``, clipped to ``value_range``.

    Args:
        factor: a float ``f`` in [0, 1] for ``[1 - f, 1 + f]``, or ``(lower, upper)``.
        value_range: the range of the pixel values, ``(0, 255)`` by default.
        seed: an int for a layer-own Generator.

    Example:
        >>> RandomContrast(0.5, seed=0)(np.ones((2, 3, 3, 1), np.float32), training=True).shape
        (2, 3, 3, 1)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        pair = (factor, factor) if isinstance(factor, numbers.Real) else tuple(factor)
        if len(pair) != 2 or pair[0] < 0 or pair[1] < 0 or pair[0] > 1:
            raise ValueError(
                "Expected `factor` as a float in [0, 1] or a pair (lower, upper) of "
                f"non-negative floats, lower <= 1. Received: factor={factor!r}"
            )
        super().__init__(
            (float(pair[0]), float(pair[1])), value_range=value_range, seed=seed, **kwargs
        )

    def augment(self, x):
        x = as_tensor(x)
        n = x.shape[0]
        lower, upper = self.factor
        factor = self.uniform((1 - lower, 1 + upper), n).astype(x.dtype).reshape(n, 1, 1, 1)
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        return self.clip(ops.add(ops.multiply(ops.subtract(x, mean), factor), mean))

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


@registry.register("layer")
class RandomBrightness(_RandomIntensity):
    """Adds to each image a random ``delta * (high - low)`` of its value range, clipped.

    Args:
        factor: a float ``f`` in [0, 1] for deltas in ``[-f, f]``, or ``(lower, upper)``
            within [-1, 1].
        value_range: ``(low, high)`` of the pixel values, ``(0, 255)`` by default.
        seed: an int for a layer-own Generator.

    Example:
        >>> layer = RandomBrightness((0.5, 0.5), value_range=(0, 1))
        >>> layer(np.full((1, 1, 2, 1), 0.25, np.float32), training=True).numpy().ravel()
        array([0.75, 0.75], dtype=float32)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        lower, upper = _factor_range(factor, "factor")
        if lower < -1 or upper > 1:
            raise ValueError(f"Expected `factor` within [-1, 1]. Received: factor={factor!r}")
        super().__init__((lower, upper), value_range=value_range, seed=seed, **kwargs)

    def augment(self, x):
        x = as_tensor(x)
        n = x.shape[0]
        span = self.value_range[1] - self.value_range[0]
        delta = (self.uniform(self.factor, n) * span).astype(x.dtype).reshape(n, 1, 1, 1)
        return self.clip(ops.add(x, delta))

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}
