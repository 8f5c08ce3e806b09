"""CIFAR-10 from its standard Python archive, ``cifar-10-python.tar.gz``, read without
unpickling: the archive is never extracted, and each batch goes through
:mod:`juanji.data.safe_pickle`, which builds its arrays without running anything."""

import os
import tarfile
from pathlib import Path

import numpy as np

from juanji.data.datasets import DownloadError, download_file
from juanji.data.safe_pickle import UnsafePickleError, loads
from juanji.data.utils import DataFileError, open_regular

ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]
# NOTE: SHA-256 of the archive as published (MD5 c58f30108f718f92721af3b95e74349a).
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
# A batch of 10000 images is 30.7 MB pickled; anything far larger is not a CIFAR batch.
_MAX_BATCH_BYTES = 64 << 20


def cifar_dirs(path=None):
    """The folders searched for the archive, in order; downloads go to the first.

    ``path`` if it is a folder, then ``$JUANJI_DATA_DIR/cifar10`` if that variable is set,
    then ``~/.juanji/datasets/cifar10``.
    """
    dirs = [Path(path)] if path is not None and not Path(path).is_file() else []
    if os.environ.get("JUANJI_DATA_DIR"):
        dirs.append(Path(os.environ["JUANJI_DATA_DIR"]) / "cifar10")
    dirs.append(Path.home() / ".juanji" / "datasets" / "cifar10")
    return dirs


def _find(path, dirs):
    """The archive file or extracted folder: ``path`` itself, or in one of ``dirs``."""
    if path is not None and Path(path).is_file():
        return Path(path)
    for folder in dirs:
        for candidate in (folder / ARCHIVE, folder / FOLDER):
            if candidate.exists():
                return candidate
        if (folder / TEST_BATCH).is_file():  # the extracted folder itself
            return folder
    return None


def _check_batch(batch, where):
    """``(images (N, 32, 32, 3) uint8, labels (N,) uint8)`` of one unpickled batch."""
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataFileError(f"{where}: expected a dict with b'data' and b'labels'.")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3 * 32 * 32
        or labels.shape != (len(data),)
        or labels.dtype.kind not in "iu"
        or not ((labels >= 0) & (labels < 10)).all()
    ):
        raise DataFileError(
            f"{where}: expected uint8 data (N, 3072) and N labels in 0..9. Received: data "
            f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}, "
            f"labels {labels.dtype} {labels.shape}"
        )
    # each row holds the red, green then blue 32x32 planes
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.uint8)


def _read_member(source, name):
    """The bytes of batch ``name`` from the archive ``source`` (an open TarFile) or the
    extracted folder ``source`` (a Path)."""
    if isinstance(source, Path):
        with open_regular(source / name) as f:
            data = f.read(_MAX_BATCH_BYTES + 1)
    else:
        try:
            member = source.getmember(f"{FOLDER}/{name}")
        except KeyError:
            raise DataFileError(f"{source.name}: no {FOLDER}/{name} in the archive.") from None
        if not member.isfile() or member.size > _MAX_BATCH_BYTES:
            raise DataFileError(f"{source.name}: {member.name} is not a batch file.")
        data = source.extractfile(member).read()
    if len(data) > _MAX_BATCH_BYTES:
        raise DataFileError(f"{name}: larger than {_MAX_BATCH_BYTES} bytes; not a CIFAR batch.")
    return data


def read_cifar10(location):
    """The training and test parts of the archive or extracted folder at ``location``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images ``(N, 32, 32, 3)`` and uint8
        labels ``(N, 1)``, as Keras's ``cifar10.load_data``.

    Raises:
        DataFileError: naming the file, for an unreadable, truncated, corrupt or unsafe
            archive or batch.
    """
    location = Path(location)
    try:
        if location.is_dir():
            folder = location / FOLDER if (location / FOLDER).is_dir() else location
            return _read_parts(folder)
        with open_regular(location) as f, tarfile.open(fileobj=f, mode="r:gz") as archive:
            return _read_parts(archive)
    except FileNotFoundError as error:
        raise DataFileError(f"{location}: missing {error.filename}") from None
    except (tarfile.TarError, EOFError, OSError, UnsafePickleError) as error:
        raise DataFileError(f"{location}: not a readable CIFAR-10 archive ({error})") from None


def _read_parts(source):
    """``(x_train, y_train), (x_test, y_test)`` from an open archive or a folder."""
    parts = []
    for names in (TRAIN_BATCHES, [TEST_BATCH]):
        batches = [_check_batch(loads(_read_member(source, n)), n) for n in names]
        x = np.concatenate([images for images, _ in batches])
        y = np.concatenate([labels for _, labels in batches])[:, None]
        parts.append((x, y))
    return tuple(parts)


def load_cifar10(path=None, *, mirrors=None):
    """Load CIFAR-10, downloading and verifying the archive when it is not on disk.

    Args:
        path: the archive ``cifar-10-python.tar.gz``, or a folder holding it or its
            extracted ``cifar-10-batches-py``, searched first.
        mirrors: base URLs to download from, tried in order; default :data:`MIRRORS`.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)``, uint8 labels ``(50000, 1)`` and ``(10000, 1)``.

    Raises:
        DownloadError: if the archive is nowhere and no mirror delivered it intact.
        DataFileError: if the archive is corrupt, truncated or holds anything but data.
    """
    dirs = cifar_dirs(path)
    found = _find(path, dirs)
    if found is None:
        try:
            found = download_file(
                ARCHIVE,
                dirs[0],
                sha256=SHA256,
                mirrors=MIRRORS if mirrors is None else mirrors,
                whole_file=True,
            )
        except DownloadError as error:
            searched = ", ".join(str(d) for d in dirs)
            raise DownloadError(
                f"Could not find or download CIFAR-10. Searched: {searched}.\n{error}\n"
                f"Put {ARCHIVE} in one of those folders, or pass `mirrors=[...]`."
            ) from None
    return read_cifar10(found)
