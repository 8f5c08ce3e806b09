"""Image files with Pillow: load and convert; resize arrays of images (the one resize of
image folders, ``juanji train`` and ``juanji predict``, the Resizing layer's); folders of
classes as re-iterable batched datasets."""

import math
import os
import warnings

import numpy as np
from PIL import Image

from juanji import backend, ops
from juanji.data.utils import DataFileError, as_rng, check_size, open_regular, to_categorical

ALLOWED_FORMATS = (
    ".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"
)  # fmt: skip
# The only Pillow decoders an image file reaches. Every other one is refused: PostScript
# (EPS) starts Ghostscript, and the rarely used formats are the least tested decoders.
PIL_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")

_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
_CHANNEL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "area": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}
RESIZE_INTERPOLATIONS = ("bilinear", "nearest")
# What load_img raises on a file it cannot read (DataFileError is a ValueError).
_UNREADABLE = (OSError, ValueError)


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Expected `{name}` to be one of {', '.join(map(repr, choices))}. "
            f"Received: {name}={value!r}"
        )


def load_img(path, *, color_mode="rgb", target_size=None, interpolation="nearest"):
    """Load an image file as a Pillow image in the requested mode and size.

    Args:
        path: the image file: PNG, JPEG, BMP, GIF, TIFF, WebP or PPM/PGM/PBM, found by its
            content (not its name), any mode; 16-bit images are scaled to 0..255.
        color_mode: ``"grayscale"`` (1 channel), ``"rgb"`` (3) or ``"rgba"`` (4).
        target_size: ``(height, width)`` to resize to, or None to keep the size.
        interpolation: ``"nearest"``, ``"bilinear"``, ``"bicubic"``, ``"lanczos"``,
            ``"box"`` (``"area"``) or ``"hamming"``.

    Returns:
        A ``PIL.Image.Image`` of mode ``L``, ``RGB`` or ``RGBA``.

    Raises:
        ValueError: for an unknown option.
        FileNotFoundError: nothing at ``path``.
        juanji.data.DataFileError: (a ValueError) for a file that is not a regular file, not
            in an allowed format, corrupt, truncated, or too large (a decompression bomb).
    """
    _check_choice("color_mode", color_mode, tuple(_MODES))
    _check_choice("interpolation", interpolation, tuple(_INTERPOLATIONS))
    if target_size is not None:
        check_size("target_size", target_size)
    img = _decode(path)
    if img.mode.startswith("I;16"):
        # 16-bit samples: 65535 is white. Pillow's convert would clip them at 255.
        img = Image.fromarray(np.rint(np.asarray(img, np.float32) / 257).astype(np.uint8), "L")
    if img.mode == "P":
        # A palette may carry transparency; going through RGBA keeps it meaningful.
        img = img.convert("RGBA")
    img = img.convert(_MODES[color_mode])
    if target_size is not None and img.size != (target_size[1], target_size[0]):
        img = img.resize((target_size[1], target_size[0]), _INTERPOLATIONS[interpolation])
    return img


def _decode(path):
    """The decoded image of a regular file in one of :data:`PIL_FORMATS`."""
    with open_regular(path) as f:
        try:
            with Image.open(f, formats=PIL_FORMATS) as img:
                img.load()
                return img.copy()
        except Image.UnidentifiedImageError:
            raise DataFileError(
                f"{os.fspath(path)!r} is not an image juanji reads. Expected one of "
                f"{', '.join(PIL_FORMATS)}."
            ) from None
        except Exception as error:  # a hostile file can make a decoder fail in any way
            raise DataFileError(
                f"{os.fspath(path)!r} cannot be decoded: {type(error).__name__}: {error}"
            ) from error


def img_to_array(img, data_format="channels_last", dtype=None):
    """A Pillow image as a float array, ``(H, W, C)`` (or ``(C, H, W)``), values 0..255.

    Args:
        img: a Pillow image (or anything ``np.asarray`` takes); grayscale gets ``C = 1``.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        dtype: the output dtype; default ``juanji.floatx()``.
    """
    _check_choice("data_format", data_format, ("channels_last", "channels_first"))
    x = np.asarray(img, dtype=dtype or backend.floatx())
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"Expected a 2D image. Received: an array of shape {x.shape}")
    return np.ascontiguousarray(x.transpose(2, 0, 1)) if data_format == "channels_first" else x


def array_to_img(x, data_format="channels_last", scale=True):
    """An ``(H, W, C)`` array (C = 1, 3 or 4) as a Pillow image of mode L, RGB or RGBA.

    Args:
        x: the image; ``(C, H, W)`` when ``data_format="channels_first"``.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        scale: stretch the values to 0..255 by their min and max (as Keras); otherwise they
            are taken as 0..255.

    Raises:
        ValueError: for a rank other than 3 or an unsupported number of channels.
    """
    _check_choice("data_format", data_format, ("channels_last", "channels_first"))
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"Expected an image of rank 3. Received: x.shape={x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if x.shape[2] not in _CHANNEL_MODES:
        raise ValueError(f"Expected 1, 3 or 4 channels. Received: x.shape={x.shape}")
    if scale:
        x = x - x.min()
        x = x * (255 / x.max()) if x.max() > 0 else x
    # NOTE: values are clipped to 0..255 rather than wrapped around by the uint8 cast.
    pixels = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    return Image.fromarray(pixels, mode=_CHANNEL_MODES[x.shape[2]])


class ImageDataset:
    """The images of a folder, loaded, and iterable in batches afresh each time (what
    ``fit``, ``evaluate`` and ``predict`` take as a dataset).

    Iterating yields ``(x, y)`` batches (``x`` alone without labels), in a new seeded order
    each time when ``shuffle``; ``len()`` is the number of batches.

    Attributes:
        x: float32 images ``(N, H, W, C)`` with values 0..255, as Keras, in file order.
        y: labels: int64 ``(N,)`` for ``label_mode="int"``, one-hot float32 ``(N, K)`` for
            ``"categorical"``, float32 ``(N, 1)`` for ``"binary"``; None without labels.
        class_names: the class of each label index (the subfolder names, sorted), or None.
        file_paths: the file each image came from, in order.
        batch_size: images per batch, or None for single images.
    """

    def __init__(self, x, y, class_names, file_paths, batch_size=32, shuffle=False, seed=None):
        self.x, self.y = x, y
        self.class_names, self.file_paths = class_names, file_paths
        self.batch_size, self.shuffle = batch_size, shuffle
        self._rng = as_rng(seed) if shuffle else None

    def __len__(self):
        return len(self.x) if self.batch_size is None else math.ceil(len(self.x) / self.batch_size)

    def __iter__(self):
        n = len(self.x)
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        step = self.batch_size or 1
        for start in range(0, n, step):
            index = order[start : start + step] if self.batch_size else order[start]
            yield self.x[index] if self.y is None else (self.x[index], self.y[index])

    def __repr__(self):
        return (
            f"<ImageDataset {len(self.x)} images {self.x.shape[1:]}, "
            f"{len(self.class_names or [])} classes, batch_size={self.batch_size}>"
        )


def resize_images(images, size, interpolation="bilinear"):
    """Images resized to ``size``, as Keras's ``image_dataset_from_directory`` and
    ``Resizing`` layer do: half-pixel centres, no antialiasing (``juanji.ops.resize``).

    Args:
        images: ``(N, H, W, C)`` or ``(H, W, C)``, any numeric dtype.
        size: ``(height, width)``.
        interpolation: ``"bilinear"`` or ``"nearest"``.

    Returns:
        float32 images of the same rank, ``(..., height, width, C)``; unchanged values
        (as float32) when the size is already right.

    Raises:
        ValueError: for a bad ``size`` or ``interpolation``.
    """
    check_size("size", size)
    _check_choice("interpolation", interpolation, RESIZE_INTERPOLATIONS)
    x = np.asarray(images, dtype=np.float32)
    batch = x if x.ndim == 4 else x[None]
    if tuple(batch.shape[1:3]) != tuple(size):
        batch = ops.resize(batch, size=tuple(size), interpolation=interpolation).data
    return batch if x.ndim == 4 else batch[0]


def _first_visit(path, seen):
    """Record the file or folder ``path`` leads to; False if it was reached before."""
    try:
        info = os.stat(path)
    except OSError:
        return True  # a broken link: left for the loader to report
    key = (info.st_dev, info.st_ino)
    if key in seen:
        return False
    seen.add(key)
    return True


def _walk(folder, follow_links, seen):
    """Image files under ``folder``, recursively, in sorted order.

    ``seen`` holds the real files and folders visited so far (shared by the class folders
    of one dataset), so that a link loop ends and a file reached by two paths, or under two
    classes, is listed once: at its first path in sorted order.
    """
    found = []
    if not _first_visit(folder, seen):
        return found
    for root, dirs, files in os.walk(folder, followlinks=follow_links):
        dirs[:] = [d for d in sorted(dirs) if _first_visit(os.path.join(root, d), seen)]
        found += [
            os.path.join(root, f)
            for f in sorted(files)
            if f.lower().endswith(ALLOWED_FORMATS) and _first_visit(os.path.join(root, f), seen)
        ]
    return found


def _index(directory, labels, class_names, follow_links):
    """File paths, their int labels (or None) and the class names."""
    seen = set()
    if labels != "inferred":
        paths = _walk(directory, follow_links, seen)
        if labels is None:
            return paths, None, None
        if len(labels) != len(paths):
            raise ValueError(
                f"Expected as many labels as image files found in {directory!r} ({len(paths)}). "
                f"Received: len(labels)={len(labels)}"
            )
        ids = np.asarray(labels)
        if ids.dtype.kind not in "iu" or (ids < 0).any():
            raise ValueError(f"Expected non-negative int labels. Received: labels={labels!r}")
        return paths, ids.astype(np.int64), None
    subdirs = sorted(e.name for e in os.scandir(directory) if e.is_dir())
    if class_names is None:
        class_names = subdirs
    elif not set(class_names) <= set(subdirs):
        raise ValueError(
            f"Expected `class_names` among the subfolders of {directory!r}: {subdirs}. "
            f"Received: class_names={list(class_names)}"
        )
    _first_visit(directory, seen)  # a class folder linked to the root holds no images
    paths, ids = [], []
    for i, name in enumerate(class_names):
        files = _walk(os.path.join(directory, name), follow_links, seen)
        paths += files
        ids += [i] * len(files)
    return paths, np.asarray(ids, dtype=np.int64), list(class_names)


def _load_all(paths, *, color_mode, image_size, interpolation):
    """Load each file into one array; returns it, a mask of the files read, and the failures."""
    x = np.zeros((len(paths), *image_size, _CHANNELS[color_mode]), dtype=np.float32)
    ok = np.ones(len(paths), dtype=bool)
    failures = []
    for i, path in enumerate(paths):
        try:
            img = load_img(path, color_mode=color_mode)
        except _UNREADABLE as e:
            ok[i] = False
            failures.append(f"  {path}: {type(e).__name__}: {e}")
            continue
        x[i] = resize_images(img_to_array(img, dtype=np.float32), image_size, interpolation)
    return x, ok, failures


def _encode(ids, label_mode, num_classes):
    if label_mode == "int":
        return ids
    if label_mode == "categorical":
        return to_categorical(ids, num_classes)
    return ids.astype(np.float32)[:, None]


def image_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    color_mode="rgb",
    batch_size=32,
    image_size=(256, 256),
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    interpolation="bilinear",
    follow_links=False,
    *,
    on_error="raise",
):
    """Load a folder of images, one subfolder per class, as a batched dataset (Keras's
    arguments) that ``fit`` takes directly and iterates afresh every epoch.

    ``directory/a/1.png, directory/a/x/2.jpg, directory/b/3.bmp`` give class names
    ``["a", "b"]`` (sorted) and labels ``0, 0, 1``. Image files of any size and mode are
    converted to ``color_mode`` and resized to ``image_size`` by :func:`resize_images`.
    The images are loaded once, when the dataset is made.

    Args:
        directory: the folder.
        labels: ``"inferred"`` (from subfolders), None (no labels), or a list of int labels
            for the image files found under ``directory`` in sorted path order.
        label_mode: ``"int"``, ``"categorical"`` (one-hot), ``"binary"`` (two classes) or None.
        class_names: the subfolders to use, in label order; default all, sorted.
        color_mode: ``"grayscale"``, ``"rgb"`` or ``"rgba"`` (1, 3 or 4 channels).
        batch_size: images per batch (default 32), or None to yield single images.
        image_size: ``(height, width)`` of every output image.
        interpolation: ``"bilinear"`` or ``"nearest"`` (see :func:`resize_images`).
        validation_split: the fraction of the files held out for validation.
        subset: ``"training"``, ``"validation"`` or ``"both"``; only with ``validation_split``.
        seed: the seed of the shuffle; required with ``validation_split`` and ``shuffle``
            so that the training and validation calls split the same order.
        shuffle: shuffle the files, and the batches again each time the dataset is
            iterated (seeded by ``seed``); otherwise they stay in sorted order.
        follow_links: follow symbolic links to subfolders. Each real file and folder is
            visited once, so link loops end and no image is listed twice.
        on_error: ``"raise"`` on unreadable files, or ``"skip"`` them with one warning that
            lists them.

    Returns:
        An :class:`ImageDataset` (batches of float32 ``(B, H, W, C)`` images in 0..255 and
        their labels; ``.x``, ``.y``, ``.class_names``, ``.file_paths``); for
        ``subset="both"`` a pair ``(training, validation)``.

    Raises:
        ValueError: for bad options, a folder without images, or (by default) unreadable
            files, naming each one.
    """
    if not os.path.isdir(directory):
        raise ValueError(f"Expected an existing folder. Received: directory={directory!r}")
    if not (labels in ("inferred", None) or isinstance(labels, (list, tuple))):
        raise ValueError(
            "Expected `labels` to be 'inferred', None or a list of ints. "
            f"Received: labels={labels!r}"
        )
    _check_choice("label_mode", label_mode, ("int", "categorical", "binary", None))
    _check_choice("color_mode", color_mode, tuple(_MODES))
    _check_choice("interpolation", interpolation, RESIZE_INTERPOLATIONS)
    _check_choice("on_error", on_error, ("raise", "skip"))
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(
            f"Expected a positive int or None for `batch_size`. Received: batch_size={batch_size!r}"
        )
    _check_choice("subset", subset, ("training", "validation", "both", None))
    check_size("image_size", image_size)
    if class_names is not None and labels != "inferred":
        raise ValueError(
            f"Expected `class_names` only with labels='inferred'. Received: labels={labels!r}"
        )
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(
            "Expected `validation_split` in (0, 1). "
            f"Received: validation_split={validation_split!r}"
        )
    if (subset is None) != (validation_split is None):
        raise ValueError(
            "Expected `subset` and `validation_split` together or neither. "
            f"Received: subset={subset!r}, validation_split={validation_split!r}"
        )
    if validation_split is not None and shuffle and seed is None:
        raise ValueError(
            "Expected a `seed` with `validation_split` and `shuffle`, so that the training and "
            "validation subsets do not overlap. Received: seed=None"
        )

    paths, ids, class_names = _index(directory, labels, class_names, follow_links)
    if not paths:
        raise ValueError(
            f"Expected image files ({', '.join(ALLOWED_FORMATS)}) under {directory!r}. "
            "Received: none found"
        )
    if label_mode is None:
        ids = None
    if ids is not None:
        num_classes = len(class_names) if class_names is not None else int(ids.max()) + 1
        if label_mode == "binary" and num_classes != 2:
            raise ValueError(
                f"Expected 2 classes for label_mode='binary'. Received: {num_classes} classes"
            )

    order = as_rng(seed).permutation(len(paths)) if shuffle else np.arange(len(paths))
    n_val = int(validation_split * len(paths)) if validation_split else 0
    parts = {"training": order[: len(paths) - n_val], "validation": order[len(paths) - n_val :]}
    names = ["training", "validation"] if subset == "both" else [subset or "training"]
    wanted = np.concatenate([parts[name] for name in names])

    x, ok, failures = _load_all(
        [paths[i] for i in wanted],
        color_mode=color_mode,
        image_size=tuple(image_size),
        interpolation=interpolation,
    )
    if failures:
        listing = "\n".join(failures)
        if on_error == "raise":
            raise ValueError(
                f"Could not read {len(failures)} image file(s) under {directory!r}:\n{listing}\n"
                "Pass on_error='skip' to leave them out. Received: on_error='raise'"
            )
        warnings.warn(
            f"Skipped {len(failures)} unreadable image file(s) under {directory!r}:\n{listing}",
            stacklevel=2,
        )

    datasets, start = [], 0
    for name in names:
        stop = start + len(parts[name])
        keep = ok[start:stop]
        # A view when every file was read; a copy of the readable ones otherwise.
        images = x[start:stop] if keep.all() else x[start:stop][keep]
        files = wanted[start:stop][keep]
        y = None if ids is None else _encode(ids[files], label_mode, num_classes)
        files = [paths[i] for i in files]
        datasets.append(ImageDataset(images, y, class_names, files, batch_size, shuffle, seed))
        start = stop
    return tuple(datasets) if subset == "both" else datasets[0]
