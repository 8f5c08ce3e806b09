"""MNIST (found on disk or downloaded and verified) and scikit-learn's bundled 8x8 digits.

Both load as ``(x_train, y_train), (x_test, y_test)``. MNIST is exactly Keras's: uint8
images ``(N, 28, 28)`` and uint8 labels ``(N,)``. The digits come ready for a convolutional
network: uint8 images in NHWC layout ``(N, H, W, 1)`` and int64 labels ``(N,)``.
"""

import gzip
import hashlib
import http.client
import os
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from juanji.data.idx import read_idx
from juanji.data.utils import DataFileError, atomic_write, check_size, train_test_split

MIRRORS = [
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

# NOTE: SHA-256 of the uncompressed IDX bytes (the originals of 1998), not of the .gz files:
# mirrors compress the same content differently, so only the content has one checksum.
MNIST_FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


class DownloadError(OSError):
    """No mirror delivered a file whose checksum matches; the message lists every attempt."""


class _MirrorFailure(Exception):
    """One mirror failed to deliver one file; the message says how."""


def mnist_dirs(path=None):
    """The folders searched for the MNIST files, in order; downloads go to the first.

    ``path`` if given, then ``$JUANJI_DATA_DIR/mnist`` if that variable is set, then
    ``~/.juanji/datasets/mnist``.
    """
    dirs = [Path(path)] if path is not None else []
    if os.environ.get("JUANJI_DATA_DIR"):
        dirs.append(Path(os.environ["JUANJI_DATA_DIR"]) / "mnist")
    dirs.append(Path.home() / ".juanji" / "datasets" / "mnist")
    return dirs


def _find(name, dirs):
    for folder in dirs:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _fetch(url, timeout):
    """The whole body at ``url``, or a _MirrorFailure saying what went wrong."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            chunks = []
            while chunk := response.read(1 << 20):
                chunks.append(chunk)
    except urllib.error.HTTPError as e:
        raise _MirrorFailure(f"HTTP error {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise _MirrorFailure(f"unreachable, offline? ({e.reason})") from None
    except TimeoutError:
        raise _MirrorFailure(f"timed out after {timeout} s") from None
    except http.client.IncompleteRead as e:
        raise _MirrorFailure(f"connection dropped, truncated body ({e})") from None
    except (http.client.HTTPException, OSError) as e:
        raise _MirrorFailure(f"connection failed ({type(e).__name__}: {e})") from None
    data = b"".join(chunks)
    if length is not None and len(data) != int(length):
        raise _MirrorFailure(f"truncated: received {len(data)} of {int(length)} bytes")
    return data


def _verify(data, sha256, whole_file=False):
    """Check the SHA-256 of ``data``'s content (decompressed when it is gzip), or of the
    bytes as they are with ``whole_file``."""
    content = data
    if data[:2] == b"\x1f\x8b" and not whole_file:
        try:
            content = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise _MirrorFailure(f"truncated or corrupt gzip ({e})") from None
    digest = hashlib.sha256(content).hexdigest()
    if digest != sha256:
        raise _MirrorFailure(f"checksum mismatch: expected sha256 {sha256}, got {digest}")


def download_file(filename, folder, *, sha256, mirrors, timeout=60, whole_file=False):
    """Download ``filename`` from the first mirror that serves it intact, atomically.

    Each mirror is tried in turn (the URL is the mirror followed by ``filename``); a body is
    kept only if it arrived whole and the SHA-256 of its content (decompressed if gzip)
    matches. The file is written to a temporary file in ``folder``, fsynced and renamed.

    Args:
        filename: the name on the mirrors and in ``folder``.
        folder: where to keep the file (created if needed).
        sha256: the expected hex SHA-256 of the file's uncompressed content.
        mirrors: base URLs to try in order.
        timeout: seconds to wait on each connection.
        whole_file: check the SHA-256 of the file as served (a ``.tar.gz`` whose published
            checksum is that of the compressed archive) rather than of its content.

    Returns:
        The path of the verified file.

    Raises:
        DownloadError: listing each mirror tried and what failed there (unreachable, HTTP
            error, truncated body, checksum mismatch).
    """
    attempts = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{filename}"
        try:
            data = _fetch(url, timeout)
            _verify(data, sha256, whole_file)
        except _MirrorFailure as e:
            attempts.append(f"    {url}: {e}")
            continue
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / filename, data)
        return folder / filename
    tried = "\n".join(attempts) if attempts else "    (no mirrors given)"
    raise DownloadError(f"  {filename}: no mirror delivered it intact:\n{tried}")


def _read_pair(images_path, labels_path):
    x = read_idx(images_path, ndim=3)
    y = read_idx(labels_path, ndim=1)
    if x.dtype != np.uint8 or len(x) != len(y):
        raise ValueError(
            f"Expected uint8 images and as many labels as images in {str(images_path)!r} and "
            f"{str(labels_path)!r}. Received: images {x.dtype} {x.shape}, labels {y.shape}"
        )
    if y.dtype.kind not in "iu" or (y.size and not 0 <= y.min() <= y.max() <= 9):
        raise DataFileError(
            f"Expected MNIST labels: integers 0 to 9 in {str(labels_path)!r}. Received: "
            f"{y.dtype} labels from {y.min() if y.size else '-'} to {y.max() if y.size else '-'}"
        )
    return x, y.astype(np.uint8)


def load_mnist(path=None, *, mirrors=None):
    """Load MNIST, downloading and verifying the files that are not on disk.

    Each file (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, raw or ``.gz``) is looked for
    in ``path``, then ``$JUANJI_DATA_DIR/mnist``, then ``~/.juanji/datasets/mnist``. Missing
    files are downloaded into the first of those folders from ``mirrors``.

    Args:
        path: a folder holding the files, searched first.
        mirrors: base URLs to download from, tried in order; default :data:`MIRRORS`.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images ``(60000, 28, 28)`` and
        ``(10000, 28, 28)`` and uint8 labels ``(60000,)`` and ``(10000,)``, exactly as
        Keras's ``mnist.load_data()`` (add the channel axis with ``x[..., None]``).

    Raises:
        DownloadError: naming each file that could not be fetched, each mirror tried and what
            failed there.
        ValueError: if a file is corrupt or the images and labels do not match.
    """
    dirs = mnist_dirs(path)
    found = {name: _find(name, dirs) for name in MNIST_FILES}
    failures = []
    for name in [name for name, found_at in found.items() if found_at is None]:
        try:
            found[name] = download_file(
                f"{name}.gz",
                dirs[0],
                sha256=MNIST_FILES[name],
                mirrors=MIRRORS if mirrors is None else mirrors,
            )
        except DownloadError as e:
            failures.append(str(e))
    if failures:
        searched = ", ".join(str(d) for d in dirs)
        raise DownloadError(
            f"Could not find or download {len(failures)} MNIST file(s). Searched: {searched}.\n"
            + "\n".join(failures)
            + "\nPut the files (raw or .gz) in one of those folders, or pass `mirrors=[...]`."
        )
    train = _read_pair(found["train-images-idx3-ubyte"], found["train-labels-idx1-ubyte"])
    test = _read_pair(found["t10k-images-idx3-ubyte"], found["t10k-labels-idx1-ubyte"])
    return train, test


def _resize(images, image_size):
    """Resize uint8 images ``(N, h, w)`` to ``(N, *image_size)`` with a cubic spline.

    Pixel centres are aligned (``grid_mode``) so the digit stays centred, and the border
    fades to the black background.
    """
    from scipy import ndimage  # here: importing it costs ~0.1 s

    _, h, w = images.shape
    factors = (1, image_size[0] / h, image_size[1] / w)
    out = ndimage.zoom(
        images.astype(np.float32), factors, order=3, mode="grid-constant", grid_mode=True
    )
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def load_digits(*, image_size=None, test_size=0.2, seed=0):
    """Load scikit-learn's bundled 8x8 digits (1797 images, no download) like MNIST.

    Values 0..16 are scaled to uint8 0..255, and the split is stratified by class and
    reproducible for a given seed.

    Args:
        image_size: ``(height, width)`` to resize to, e.g. ``(28, 28)`` as MNIST; default 8x8.
        test_size: the fraction (or number) of images in the test part.
        seed: the seed of the split.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images ``(N, H, W, 1)`` and int64
        labels ``(N,)``; with the defaults 1437 training and 360 test images.

    Raises:
        ValueError: if ``image_size`` is not two positive integers.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x = np.rint(digits.images * (255 / 16)).astype(np.uint8)
    if image_size is not None:
        check_size("image_size", image_size)
        x = _resize(x, tuple(image_size))
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x[..., None], y, test_size=test_size, seed=seed, stratify=y
    )
    return (x_train, y_train), (x_test, y_test)
