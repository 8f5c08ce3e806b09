"""Random image augmentation and standardisation: Keras's ImageDataGenerator on NumPy/SciPy.

The geometric transforms of one image (rotation, shift, shear, zoom) compose into one 3x3
affine matrix in ``(row, col)`` pixel coordinates, centred on the image, that maps each
output pixel to the input point it samples; ``scipy.ndimage.affine_transform`` applies it
once per channel. Random parameters are drawn for a whole batch at once; flips, channel
shifts and standardisation are vectorised over the batch.
"""

import numbers

import numpy as np

from juanji import backend
from juanji.data.utils import as_rng
from juanji.registry import register

_FILL_MODES = ("constant", "nearest", "reflect", "wrap")
_GEOMETRY = ("theta", "tx", "ty", "shear", "zx", "zy")
_DEFAULTS = {
    "theta": 0.0,
    "tx": 0.0,
    "ty": 0.0,
    "shear": 0.0,
    "zx": 1.0,
    "zy": 1.0,
    "flip_horizontal": False,
    "flip_vertical": False,
    "channel_shift_intensity": None,
}


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_range(name, value, *, allow_list=False):
    ok = _is_number(value) and value >= 0
    if allow_list and isinstance(value, (list, tuple)):
        ok = len(value) > 0 and all(_is_number(v) and v >= 0 for v in value)
    if not ok:
        expected = "a non-negative number" + (" or a list of them" if allow_list else "")
        raise ValueError(f"Expected `{name}` to be {expected}. Received: {name}={value!r}")


def _as_json(value):
    return list(value) if isinstance(value, tuple) else value


def _signs(n, rng):
    return rng.choice(np.array([-1.0, 1.0]), n)


def _draw_shift(shift_range, size, n, rng):
    """Shifts in pixels as Keras draws them: a float range is uniform in (-r, r) and a
    fraction of ``size`` when below 1; an int r gives whole pixels in (-r, r); a list gives
    one of its values with a random sign (a fraction of ``size`` when all are below 1)."""
    if isinstance(shift_range, (list, tuple)):
        values = np.asarray(shift_range, dtype=np.float64)
        shift = rng.choice(values, n) * _signs(n, rng)
        return shift * size if values.max() < 1 else shift
    if not shift_range:
        return np.zeros(n)
    if isinstance(shift_range, numbers.Integral):
        return rng.integers(0, shift_range, n) * _signs(n, rng)
    shift = rng.uniform(-shift_range, shift_range, n)
    return shift * size if shift_range < 1 else shift


def _eye(n):
    return np.tile(np.eye(3), (n, 1, 1))


def affine_matrices(params, height, width):
    """One 3x3 matrix per image mapping output ``(row, col, 1)`` to input coordinates.

    The composition is Keras's, rotation @ shift @ shear @ zoom about the image centre:
    ``theta`` degrees counter-clockwise (90 gives ``np.rot90``), ``tx`` columns and ``ty``
    rows (a positive shift samples further right/down, so the content moves left/up),
    ``shear`` degrees, and zoom ``zx`` (columns) and ``zy`` (rows), where a zoom below 1
    enlarges the content.

    Args:
        params: arrays ``(N,)`` under the keys theta, tx, ty, shear, zx, zy.
        height, width: the image size.

    Returns:
        An array ``(N, 3, 3)``.
    """
    theta, shear = np.deg2rad(params["theta"]), np.deg2rad(params["shear"])
    n = len(theta)
    rotation = _eye(n)
    rotation[:, 0, 0] = rotation[:, 1, 1] = np.cos(theta)
    rotation[:, 0, 1] = np.sin(theta)
    rotation[:, 1, 0] = -np.sin(theta)
    shift = _eye(n)
    shift[:, 0, 2], shift[:, 1, 2] = params["ty"], params["tx"]
    shearing = _eye(n)
    shearing[:, 0, 0], shearing[:, 1, 0] = np.cos(shear), -np.sin(shear)
    zoom = _eye(n)
    zoom[:, 0, 0], zoom[:, 1, 1] = params["zy"], params["zx"]
    centre, uncentre = np.eye(3), np.eye(3)
    centre[:2, 2] = (height - 1) / 2, (width - 1) / 2
    uncentre[:2, 2] = -centre[:2, 2]
    return centre @ rotation @ shift @ shearing @ zoom @ uncentre


@register("preprocessing")
class ImageDataGenerator:
    """Augment and standardise images on the fly, with Keras's options and defaults.

    Per image, in order: a random affine transform (``rotation_range`` degrees,
    ``width_shift_range``/``height_shift_range`` as fractions of the size when below 1 or
    pixels, ``shear_range`` degrees, ``zoom_range`` as ``[1 - z, 1 + z]`` or ``[lo, hi]``)
    filled by ``fill_mode``/``cval``, a channel shift, flips; then standardisation:
    ``rescale``, sample-wise centring/scaling, feature-wise (per channel) centring/scaling
    and ZCA whitening, whose statistics :meth:`fit` computes.

    As in Keras, ``zca_whitening`` implies ``featurewise_center`` and turns off
    ``featurewise_std_normalization``, and each ``*_std_normalization`` implies its centring.

    Example:
        >>> gen = ImageDataGenerator(horizontal_flip=True)
        >>> it = gen.flow(np.zeros((10, 8, 8, 1)), np.arange(10), batch_size=4, seed=0)
        >>> len(it), [next(it)[0].shape for _ in range(3)]
        (3, [(4, 8, 8, 1), (4, 8, 8, 1), (2, 8, 8, 1)])
    """

    def __init__(
        self,
        *,
        featurewise_center=False,
        samplewise_center=False,
        featurewise_std_normalization=False,
        samplewise_std_normalization=False,
        zca_whitening=False,
        zca_epsilon=1e-6,
        rotation_range=0,
        width_shift_range=0.0,
        height_shift_range=0.0,
        shear_range=0.0,
        zoom_range=0.0,
        channel_shift_range=0.0,
        fill_mode="nearest",
        cval=0.0,
        horizontal_flip=False,
        vertical_flip=False,
        rescale=None,
        data_format="channels_last",
        interpolation_order=1,
        dtype=None,
    ):
        for name, value in (
            ("rotation_range", rotation_range),
            ("shear_range", shear_range),
            ("channel_shift_range", channel_shift_range),
            ("zca_epsilon", zca_epsilon),
        ):
            _check_range(name, value)
        _check_range("width_shift_range", width_shift_range, allow_list=True)
        _check_range("height_shift_range", height_shift_range, allow_list=True)
        if _is_number(zoom_range) and zoom_range >= 0:
            zoom_range = [1 - zoom_range, 1 + zoom_range]
        if not (
            isinstance(zoom_range, (list, tuple))
            and len(zoom_range) == 2
            and all(_is_number(z) and z > 0 for z in zoom_range)
            and zoom_range[0] <= zoom_range[1]
        ):
            raise ValueError(
                "Expected `zoom_range` as a number in [0, 1) or [lower, upper] with "
                f"0 < lower <= upper. Received: zoom_range={zoom_range!r}"
            )
        if fill_mode not in _FILL_MODES:
            raise ValueError(
                f"Expected `fill_mode` in {_FILL_MODES}. Received: fill_mode={fill_mode!r}"
            )
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                "Expected `data_format` 'channels_last' or 'channels_first'. "
                f"Received: data_format={data_format!r}"
            )
        if rescale is not None and not _is_number(rescale):
            raise ValueError(
                f"Expected `rescale` as a number or None. Received: rescale={rescale!r}"
            )
        if interpolation_order not in range(6):
            raise ValueError(
                "Expected `interpolation_order` in 0..5. "
                f"Received: interpolation_order={interpolation_order!r}"
            )
        self.featurewise_center = bool(
            featurewise_center or featurewise_std_normalization or zca_whitening
        )
        self.featurewise_std_normalization = bool(
            featurewise_std_normalization and not zca_whitening
        )
        self.samplewise_center = bool(samplewise_center or samplewise_std_normalization)
        self.samplewise_std_normalization = bool(samplewise_std_normalization)
        self.zca_whitening = bool(zca_whitening)
        self.zca_epsilon = zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range = _as_json(width_shift_range)
        self.height_shift_range = _as_json(height_shift_range)
        self.shear_range = shear_range
        self.zoom_range = [float(z) for z in zoom_range]
        self.channel_shift_range = channel_shift_range
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = bool(horizontal_flip)
        self.vertical_flip = bool(vertical_flip)
        self.rescale = rescale
        self.data_format = data_format
        self.interpolation_order = interpolation_order
        self.dtype = np.dtype(dtype or backend.floatx()).name
        # Axes of a batch (N, ...), as Keras.
        self.channel_axis, self.row_axis, self.col_axis = (
            (3, 1, 2) if data_format == "channels_last" else (1, 2, 3)
        )
        self.mean = None
        self.std = None
        self.zca_whitening_matrix = None

    def get_config(self):
        """The constructor arguments, JSON values only."""
        return {
            "featurewise_center": self.featurewise_center,
            "samplewise_center": self.samplewise_center,
            "featurewise_std_normalization": self.featurewise_std_normalization,
            "samplewise_std_normalization": self.samplewise_std_normalization,
            "zca_whitening": self.zca_whitening,
            "zca_epsilon": self.zca_epsilon,
            "rotation_range": self.rotation_range,
            "width_shift_range": self.width_shift_range,
            "height_shift_range": self.height_shift_range,
            "shear_range": self.shear_range,
            "zoom_range": self.zoom_range,
            "channel_shift_range": self.channel_shift_range,
            "fill_mode": self.fill_mode,
            "cval": self.cval,
            "horizontal_flip": self.horizontal_flip,
            "vertical_flip": self.vertical_flip,
            "rescale": self.rescale,
            "data_format": self.data_format,
            "interpolation_order": self.interpolation_order,
            "dtype": self.dtype,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- random parameters and transforms -------------------------------------------------

    @property
    def _augments(self):
        return bool(
            self.rotation_range
            or self.width_shift_range
            or self.height_shift_range
            or self.shear_range
            or self.zoom_range != [1.0, 1.0]
            or self.channel_shift_range
            or self.horizontal_flip
            or self.vertical_flip
        )

    def _image_size(self, shape):
        """(height, width) of an image or batch shaped in this generator's data format."""
        return (shape[-3], shape[-2]) if self.data_format == "channels_last" else shape[-2:]

    def _draw_params(self, n, height, width, rng):
        """Random parameters of ``n`` transforms, as arrays ``(N,)`` (see get_random_transform)."""

        def uniform(r):
            return rng.uniform(-r, r, n) if r else np.zeros(n)

        def coin(enabled):
            return rng.random(n) < 0.5 if enabled else np.zeros(n, dtype=bool)

        zoomed = self.zoom_range != [1.0, 1.0]
        zx, zy = rng.uniform(*self.zoom_range, (2, n)) if zoomed else np.ones((2, n))
        return {
            "theta": uniform(self.rotation_range),
            "tx": _draw_shift(self.width_shift_range, width, n, rng),
            "ty": _draw_shift(self.height_shift_range, height, n, rng),
            "shear": uniform(self.shear_range),
            "zx": zx,
            "zy": zy,
            "flip_horizontal": coin(self.horizontal_flip),
            "flip_vertical": coin(self.vertical_flip),
            "channel_shift_intensity": (
                uniform(self.channel_shift_range) if self.channel_shift_range else None
            ),
        }

    def _transform_batch(self, x, params):
        """Apply ``params`` (arrays ``(N,)``) to the float batch ``x`` in place; returns x."""
        hwc = x if self.data_format == "channels_last" else x.transpose(0, 2, 3, 1)
        height, width = hwc.shape[1:3]
        moved = np.flatnonzero(
            np.any([np.asarray(params[k]) != _DEFAULTS[k] for k in _GEOMETRY], axis=0)
        )
        if len(moved):
            from scipy import ndimage  # here: importing it costs ~0.1 s

            matrices = affine_matrices(
                {k: np.asarray(params[k])[moved] for k in _GEOMETRY}, height, width
            )
            warped = np.empty(hwc.shape[1:], dtype=x.dtype)
            for i, m in zip(moved, matrices, strict=True):
                for c in range(hwc.shape[3]):
                    ndimage.affine_transform(
                        hwc[i, :, :, c],
                        m[:2, :2],
                        offset=m[:2, 2],
                        output=warped[:, :, c],
                        order=self.interpolation_order,
                        mode=self.fill_mode,
                        cval=self.cval,
                    )
                hwc[i] = warped
        if params["channel_shift_intensity"] is not None:
            # Keras clips each shifted image to the value range it had before the shift.
            lo = hwc.min(axis=(1, 2, 3), keepdims=True)
            hi = hwc.max(axis=(1, 2, 3), keepdims=True)
            hwc += np.asarray(params["channel_shift_intensity"], dtype=x.dtype)[:, None, None, None]
            np.clip(hwc, lo, hi, out=hwc)
        flip = np.asarray(params["flip_horizontal"], dtype=bool)
        hwc[flip] = hwc[flip, :, ::-1]
        flip = np.asarray(params["flip_vertical"], dtype=bool)
        hwc[flip] = hwc[flip, ::-1]
        return x

    def get_random_transform(self, img_shape, seed=None):
        """Draw the parameters of one random transform.

        Args:
            img_shape: the shape of one image, ``(H, W, C)`` (or ``(C, H, W)``).
            seed: an int or Generator; default juanji's shared Generator.

        Returns:
            A dict with theta, tx, ty, shear, zx, zy (floats), flip_horizontal,
            flip_vertical (bools) and channel_shift_intensity (float or None).
        """
        height, width = self._image_size(img_shape)
        params = self._draw_params(1, height, width, as_rng(seed))
        return {
            k: None if v is None else bool(v[0]) if v.dtype == bool else float(v[0])
            for k, v in params.items()
        }

    def apply_transform(self, x, transform_parameters):
        """Apply a transform to one image.

        Args:
            x: an image ``(H, W, C)`` (or ``(C, H, W)``).
            transform_parameters: a dict as :meth:`get_random_transform` returns; missing
                keys mean no change (see :func:`affine_matrices` for the geometry).

        Returns:
            A new float image of the same shape.
        """
        x = self._as_images(x, ndim=3, name="x")
        params = {**_DEFAULTS, **transform_parameters}
        batch_params = {k: None if v is None else np.asarray([v]) for k, v in params.items()}
        return self._transform_batch(x[None], batch_params)[0]

    def random_transform(self, x, seed=None):
        """Apply a random transform to one image ``(H, W, C)``; returns a new float image."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed))

    # --- standardisation --------------------------------------------------------------------

    def _as_images(self, x, *, ndim, name):
        """A float copy of ``x``, checked to be an image (ndim 3) or a batch (ndim 4)."""
        x = np.array(x, dtype=self.dtype)
        if x.ndim != ndim:
            kind = "an image (H, W, C)" if ndim == 3 else "a batch of images (N, H, W, C)"
            raise ValueError(f"Expected {kind}. Received: {name}.shape={x.shape}")
        return x

    def _standardize_inplace(self, x):
        if self.rescale:
            x *= self.rescale
        axes = (-3, -2, -1)  # NOTE: sample-wise statistics are per image, also in a batch.
        if self.samplewise_center:
            x -= x.mean(axis=axes, keepdims=True)
        if self.samplewise_std_normalization:
            x /= x.std(axis=axes, keepdims=True) + 1e-6
        for flag, stat in (
            ("featurewise_center", self.mean),
            ("featurewise_std_normalization", self.std),
            ("zca_whitening", self.zca_whitening_matrix),
        ):
            if getattr(self, flag) and stat is None:
                raise ValueError(
                    f"Expected `fit(x)` to be called before standardising with {flag}=True. "
                    "Received: a generator that was not fitted"
                )
        if self.featurewise_center:
            x -= self.mean
        if self.featurewise_std_normalization:
            x /= self.std + 1e-6
        if self.zca_whitening:
            flat = x.reshape(-1, int(np.prod(x.shape[-3:])))
            x = (flat @ self.zca_whitening_matrix).reshape(x.shape)
        return x

    def standardize(self, x):
        """Apply rescale, sample-wise and feature-wise normalisation and ZCA whitening.

        Args:
            x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)`` (channels first if so set).

        Returns:
            A new float array of the same shape (unlike Keras, ``x`` is not modified).

        Raises:
            ValueError: if a feature-wise option is set and :meth:`fit` was not called.
        """
        x = np.array(x, dtype=self.dtype)
        if x.ndim not in (3, 4):
            raise ValueError(f"Expected an image or a batch of images. Received: x.shape={x.shape}")
        return self._standardize_inplace(x)

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Compute the feature-wise statistics that standardisation uses.

        Per channel: ``mean`` and ``std`` over samples and pixels (after ``rescale``); for
        ZCA, the whitening matrix ``U diag(1 / sqrt(S + zca_epsilon)) U^T`` from the SVD
        ``U S U^T`` of the covariance of the centred, flattened images.

        Args:
            x: a batch ``(N, H, W, C)`` (or ``(N, C, H, W)``).
            augment: fit on ``rounds`` randomly augmented copies of ``x`` instead.
            rounds: the number of augmented copies.
            seed: an int or Generator for the augmentation.
        """
        x = self._as_images(x, ndim=4, name="x")
        if self.rescale:
            x *= self.rescale
        if augment:
            rng = as_rng(seed)
            x = np.concatenate([self._augment(x.copy(), rng) for _ in range(rounds)])
        axes = (0, self.row_axis, self.col_axis)
        if self.featurewise_center:
            self.mean = x.mean(axis=axes, keepdims=True, dtype=np.float64)[0].astype(self.dtype)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = x.std(axis=axes, keepdims=True, dtype=np.float64)[0].astype(self.dtype)
            x /= self.std + 1e-6
        if self.zca_whitening:
            flat = x.reshape(len(x), -1)
            u, s, _ = np.linalg.svd((flat.T @ flat / len(x)).astype(np.float64))
            self.zca_whitening_matrix = ((u / np.sqrt(s + self.zca_epsilon)) @ u.T).astype(
                self.dtype
            )

    def _augment(self, x, rng):
        """Randomly transform the float batch ``x`` in place; returns it."""
        height, width = self._image_size(x.shape)
        return self._transform_batch(x, self._draw_params(len(x), height, width, rng))

    def _process(self, x, rng):
        """A fresh float batch from ``x``: augmented, then standardised."""
        x = np.asarray(x, dtype=self.dtype)
        if self._augments:
            x = self._augment(x, rng)
        return self._standardize_inplace(x)

    def flow(self, x, y=None, *, batch_size=32, shuffle=True, sample_weight=None, seed=None):
        """An endless iterator of augmented batches of ``x`` (and ``y``).

        Args:
            x: images ``(N, H, W, C)`` (or ``(N, C, H, W)``), any numeric dtype.
            y: N labels or targets, or None.
            batch_size: images per batch; the last batch of an epoch may be smaller.
            shuffle: a new random order every epoch.
            sample_weight: N weights, or None.
            seed: an int or Generator for the order and the transforms; default juanji's
                shared Generator.

        Returns:
            A :class:`NumpyArrayIterator`; ``len()`` of it is the number of batches per
            epoch (pass it as ``steps_per_epoch``).
        """
        return NumpyArrayIterator(
            x,
            y,
            self,
            batch_size=batch_size,
            shuffle=shuffle,
            sample_weight=sample_weight,
            seed=seed,
        )


class NumpyArrayIterator:
    """Endless batches ``x`` or ``(x, y)`` or ``(x, y, sample_weight)`` of an array, with
    Keras's semantics: epoch after epoch, each sample once per epoch, reshuffled per epoch.

    ``x`` batches are float (the generator's dtype), augmented and standardised; ``y`` and
    weights keep their dtype.
    """

    def __init__(
        self, x, y, generator, *, batch_size=32, shuffle=True, sample_weight=None, seed=None
    ):
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"Expected images of rank 4 (N, H, W, C). Received: x.shape={x.shape}")
        for name, a in (("y", y), ("sample_weight", sample_weight)):
            if a is not None and len(a) != len(x):
                raise ValueError(
                    f"Expected `{name}` with as many samples as x ({len(x)}). "
                    f"Received: len({name})={len(a)}"
                )
        if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"Expected a positive integer. Received: batch_size={batch_size!r}")
        self.x = x
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.n = len(x)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.image_data_generator = generator
        self._rng = as_rng(seed)
        self._order = None
        self._position = 0

    def __len__(self):
        return -(-self.n // self.batch_size)

    def __iter__(self):
        return self

    def reset(self):
        """Start a new epoch at the next batch."""
        self._order = None

    def __next__(self):
        if self._order is None or self._position >= self.n:
            self._order = self._rng.permutation(self.n) if self.shuffle else np.arange(self.n)
            self._position = 0
        index = self._order[self._position : self._position + self.batch_size]
        self._position += self.batch_size
        x = self.image_data_generator._process(self.x[index], self._rng)
        if self.y is None:
            return x
        if self.sample_weight is None:
            return x, self.y[index]
        return x, self.y[index], self.sample_weight[index]
