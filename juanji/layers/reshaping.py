"""Reshaping layers: Permute, RepeatVector, and the 2-D and 3-D upsampling, zero-padding and
cropping layers (one N-d op each, in :mod:`juanji.ops.spatial`)."""

from juanji import ops, registry
from juanji.layers.base import Layer, check_data_format, from_channels_last, to_channels_last


@registry.register("layer")
class Permute(Layer):
    """Permutes the axes of each sample; ``dims`` numbers them from 1 (the batch axis stays).

    Args:
        dims: a permutation of ``1 .. rank - 1``, e.g. ``(2, 1)`` swaps the two sample axes.

    Shape:
        (N, d1, d2, ...) -> (N, d_dims[0], d_dims[1], ...).

    Example:
        >>> Permute((2, 1))(np.zeros((4, 3, 5), np.float32)).shape
        (4, 5, 3)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                f"Expected `dims` to be a permutation of 1..{len(dims)}. Received: dims={dims}"
            )
        self.dims = dims

    def build(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(
                f"Permute '{self.name}' with dims={self.dims} expects inputs of rank "
                f"{len(self.dims) + 1}. Received: x.shape={tuple(input_shape)}"
            )

    def compute_output_shape(self, input_shape):
        """``(N, ...)`` with the axes after the batch axis in ``dims`` order."""
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def call(self, x, training=False):
        return ops.transpose(x, axes=(0, *self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


@registry.register("layer")
class RepeatVector(Layer):
    """Repeats each input vector ``n`` times.

    Shape:
        (N, F) -> (N, n, F).

    Example:
        >>> RepeatVector(3)(np.zeros((2, 5), np.float32)).shape
        (2, 3, 5)
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"Expected a positive int `n`. Received: n={n!r}")
        self.n = n

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"RepeatVector '{self.name}' expects 2-D input (N, F). "
                f"Received: x.shape={tuple(input_shape)}"
            )

    def compute_output_shape(self, input_shape):
        """``(N, F) -> (N, n, F)``."""
        return (input_shape[0], self.n, input_shape[1])

    def call(self, x, training=False):
        return ops.upsample(ops.reshape(x, shape=(x.shape[0], 1, x.shape[1])), size=(self.n,))

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class _Spatial(Layer):
    """A layer acting on the ``rank`` spatial axes of ``(N, *S, C)`` (or ``(N, C, *S)``)
    data: the data format, the rank check, and the transposes at its boundary."""

    rank = 2

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects {self.rank + 2}-D input. "
                f"Received: x.shape={tuple(input_shape)}"
            )

    def call(self, x, training=False):
        y = self.spatial_call(to_channels_last(x, self.data_format))
        return from_channels_last(y, self.data_format)

    def compute_output_shape(self, input_shape):
        first = self.data_format == "channels_first"
        spatial = input_shape[2:] if first else input_shape[1:-1]
        channels = input_shape[1] if first else input_shape[-1]
        sizes = tuple(None if n is None else self.spatial_size(k, n) for k, n in enumerate(spatial))
        batch = input_shape[0]
        return (batch, channels, *sizes) if first else (batch, *sizes, channels)

    def spatial_call(self, x):
        """The op on channels_last ``x``."""
        raise NotImplementedError

    def spatial_size(self, axis, n):
        """The output length of spatial ``axis`` for input length ``n``."""
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class _UpSampling(_Spatial):
    def __init__(self, size=2, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        pairs = ops.spatial_pairs(size, self.rank, "size", minimum=1)
        if any(a != b for a, b in pairs):
            raise ValueError(f"Expected one int factor per axis. Received: size={size!r}")
        if interpolation not in ops.spatial.INTERPOLATIONS:
            raise ValueError(
                f"Expected `interpolation` in {ops.spatial.INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        self.size = tuple(a for a, _ in pairs)
        self.interpolation = interpolation

    def spatial_call(self, x):
        return ops.upsample(x, size=self.size, interpolation=self.interpolation)

    def spatial_size(self, axis, n):
        return n * self.size[axis]

    def get_config(self):
        config = {**super().get_config(), "size": list(self.size)}
        if self.rank == 2:
            config["interpolation"] = self.interpolation
        return config


@registry.register("layer")
class UpSampling2D(_UpSampling):
    """Repeats rows and columns ``size`` times (``"nearest"``) or interpolates them
    (``"bilinear"``, half-pixel centres).

    Args:
        size: an int or ``(rows, cols)`` factors.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        interpolation: ``"nearest"`` or ``"bilinear"``.

    Shape:
        (N, H, W, C) -> (N, H * rows, W * cols, C).

    Example:
        >>> UpSampling2D((2, 3))(np.zeros((1, 4, 4, 2), np.float32)).shape
        (1, 8, 12, 2)
    """


@registry.register("layer")
class UpSampling3D(_UpSampling):
    """Repeats the three spatial axes ``size`` times.

    Args:
        size: an int or three factors ``(d, h, w)``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Shape:
        (N, D, H, W, C) -> (N, D * d, H * h, W * w, C).

    Example:
        >>> UpSampling3D(2)(np.zeros((1, 2, 3, 4, 1), np.float32)).shape
        (1, 4, 6, 8, 1)
    """

    rank = 3

    def __init__(self, size=2, data_format=None, **kwargs):
        super().__init__(size=size, data_format=data_format, **kwargs)


class _ZeroPadding(_Spatial):
    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.padding = ops.spatial_pairs(padding, self.rank, "padding")

    def spatial_call(self, x):
        return ops.pad_spatial(x, self.padding)

    def spatial_size(self, axis, n):
        return n + sum(self.padding[axis])

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


@registry.register("layer")
class ZeroPadding2D(_ZeroPadding):
    """Adds rows and columns of zeros around each image.

    Args:
        padding: an int (all sides), ``(rows, cols)`` (both sides of each) or
            ``((top, bottom), (left, right))``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Shape:
        (N, H, W, C) -> (N, H + top + bottom, W + left + right, C).

    Example:
        >>> ZeroPadding2D(((1, 0), (2, 2)))(np.zeros((1, 4, 4, 2), np.float32)).shape
        (1, 5, 8, 2)
    """


@registry.register("layer")
class ZeroPadding3D(_ZeroPadding):
    """Adds zeros around each volume.

    Args:
        padding: an int, three ints, or three ``(before, after)`` pairs.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Shape:
        (N, D, H, W, C) -> (N, D + pd, H + ph, W + pw, C).

    Example:
        >>> ZeroPadding3D(1)(np.zeros((1, 2, 3, 4, 1), np.float32)).shape
        (1, 4, 5, 6, 1)
    """

    rank = 3


class _Cropping(_Spatial):
    def __init__(self, cropping=0, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.cropping = ops.spatial_pairs(cropping, self.rank, "cropping")

    def spatial_call(self, x):
        return ops.crop_spatial(x, self.cropping)

    def spatial_size(self, axis, n):
        return n - sum(self.cropping[axis])

    def get_config(self):
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping]}


@registry.register("layer")
class Cropping2D(_Cropping):
    """Cuts rows and columns off the borders of each image.

    Args:
        cropping: an int, ``(rows, cols)`` or ``((top, bottom), (left, right))``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Shape:
        (N, H, W, C) -> (N, H - top - bottom, W - left - right, C).

    Example:
        >>> Cropping2D(((1, 0), (2, 2)))(np.zeros((1, 4, 6, 2), np.float32)).shape
        (1, 3, 2, 2)
    """


@registry.register("layer")
class Cropping3D(_Cropping):
    """Cuts values off the borders of each volume.

    Args:
        cropping: an int, three ints, or three ``(before, after)`` pairs.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Example:
        >>> Cropping3D(1)(np.zeros((1, 4, 4, 4, 1), np.float32)).shape
        (1, 2, 2, 2, 1)
    """

    rank = 3
