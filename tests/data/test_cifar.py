"""CIFAR-10 from fake archives the tests write: Keras's shapes and layout, the search order,
verified downloads, and a reader that refuses anything but data (nothing in a file runs)."""

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest

from juanji.data import cifar, safe_pickle
from juanji.data.utils import DataFileError
from juanji.datasets import cifar10
from juanji.datasets.cifar10 import DownloadError
from tests.data.test_datasets import server  # noqa: F401  (a fixture)

PER_BATCH = 3


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No real home folder, data folder or mirror is ever used."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JUANJI_DATA_DIR", raising=False)
    monkeypatch.setattr(cifar, "MIRRORS", [])


def _batch(seed, n=PER_BATCH):
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": f"batch {seed}".encode(),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }


BATCHES = {name: _batch(i) for i, name in enumerate([*cifar.TRAIN_BATCHES, cifar.TEST_BATCH])}


def _archive(path, batches=BATCHES, protocol=2, extra=None):
    """A cifar-10-python.tar.gz of ``batches`` (name -> dict, pickled like the real files)."""
    with tarfile.open(path, "w:gz") as tar:
        members = {n: pickle.dumps(b, protocol=protocol) for n, b in batches.items()}
        for name, data in {**members, **(extra or {})}.items():
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _check(loaded):
    (x_train, y_train), (x_test, y_test) = loaded
    n_train = PER_BATCH * len(cifar.TRAIN_BATCHES)
    assert x_train.shape == (n_train, 32, 32, 3) and x_test.shape == (PER_BATCH, 32, 32, 3)
    assert y_train.shape == (n_train, 1) and y_test.shape == (PER_BATCH, 1)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    first = BATCHES["data_batch_1"]
    # row 0 of the batch: 1024 red values, then green, then blue, each a 32x32 row-major plane
    np.testing.assert_array_equal(x_train[0, :, :, 0].ravel(), first[b"data"][0, :1024])
    np.testing.assert_array_equal(
        x_train[0, 5, 7], first[b"data"][0, [5 * 32 + 7 + k * 1024 for k in range(3)]]
    )
    np.testing.assert_array_equal(y_train[:PER_BATCH, 0], first[b"labels"])
    np.testing.assert_array_equal(
        x_test.reshape(PER_BATCH, -1, 3).transpose(0, 2, 1).reshape(PER_BATCH, -1),
        BATCHES["test_batch"][b"data"],
    )


@pytest.mark.parametrize("protocol", [2, 4])
def test_an_archive_loads_with_keras_shapes(tmp_path, protocol):
    _check(cifar10.load_data(_archive(tmp_path / cifar.ARCHIVE, protocol=protocol)))


def test_search_order_path_then_env_then_home_and_extracted_folders(tmp_path, monkeypatch):
    folder = tmp_path / "given"
    folder.mkdir()
    _archive(folder / cifar.ARCHIVE)
    _check(cifar10.load_data(folder))
    env = tmp_path / "env"
    (env / "cifar10").mkdir(parents=True)
    with tarfile.open(_archive(tmp_path / "x.tar.gz")) as tar:
        tar.extractall(env / "cifar10", filter="data")  # the extracted cifar-10-batches-py
    monkeypatch.setenv("JUANJI_DATA_DIR", str(env))
    _check(cifar10.load_data())
    _check(cifar10.load_data(env / "cifar10" / cifar.FOLDER))


def test_download_is_verified_then_kept(tmp_path, server, monkeypatch):  # noqa: F811
    url, routes, log = server
    body = _archive(tmp_path / "served.tar.gz").read_bytes()
    routes[f"/bad/{cifar.ARCHIVE}"] = (body[:-10] + b"0123456789", "ok")
    routes[f"/good/{cifar.ARCHIVE}"] = (body, "ok")
    monkeypatch.setattr(cifar, "SHA256", hashlib.sha256(body).hexdigest())
    cache = tmp_path / "cache"
    _check(cifar10.load_data(cache, mirrors=[f"{url}/bad", f"{url}/good"]))
    assert (cache / cifar.ARCHIVE).read_bytes() == body
    _check(cifar10.load_data(cache, mirrors=[]))  # offline: the verified copy suffices
    assert len(log) == 2


def test_no_archive_and_no_mirror_says_where_it_looked(tmp_path):
    with pytest.raises(DownloadError, match=r"(?s)Searched: .*given.*no mirrors given.*cifar-10"):
        cifar10.load_data(tmp_path / "given")


def test_the_real_checksum_is_the_published_one():
    assert cifar.SHA256 == "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"


class _Runs:
    """Unpickling this with pickle would call os.system."""

    def __reduce__(self):
        import os

        return (os.system, ("touch pwned",))


@pytest.mark.parametrize(
    "batch, match",
    [
        ({b"data": _Runs(), b"labels": [0]}, r"Refusing a reference to posix.system"),
        ({b"data": np.array(["x"], object), b"labels": [0]}, r"not of plain numbers"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, r"expected uint8 data"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, r"labels in 0..9"),
        ([1, 2, 3], r"expected a dict"),
    ],
)
def test_anything_but_cifar_data_is_refused_and_nothing_runs(tmp_path, monkeypatch, batch, match):
    monkeypatch.chdir(tmp_path)
    path = _archive(tmp_path / cifar.ARCHIVE, {**BATCHES, "data_batch_3": batch})
    with pytest.raises(DataFileError, match=match):
        cifar10.load_data(path)
    assert not (tmp_path / "pwned").exists()


def test_truncated_and_incomplete_archives_name_the_file(tmp_path):
    path = _archive(tmp_path / cifar.ARCHIVE)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataFileError, match=r"cut.tar.gz: not a readable CIFAR-10 archive"):
        cifar10.load_data(cut)
    missing = _archive(
        tmp_path / "m.tar.gz", {k: v for k, v in BATCHES.items() if k != "test_batch"}
    )
    with pytest.raises(DataFileError, match=r"no cifar-10-batches-py/test_batch"):
        cifar10.load_data(missing)


@pytest.mark.parametrize("protocol", range(6))
def test_safe_pickle_reads_plain_values_and_arrays_of_every_protocol(protocol):
    value = {
        "bytes": b"\x00\xff",
        "text": "ü",
        "numbers": [1, -(2**70), 2.5, True, None, (1, (2,))],
        "array": np.arange(12, dtype=">i4").reshape(3, 4),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "empty": np.zeros((0, 3), np.uint8),
    }
    loaded = safe_pickle.loads(pickle.dumps(value, protocol=protocol))
    assert loaded.keys() == value.keys()
    for key in ("bytes", "text", "numbers"):
        assert loaded[key] == value[key]
    for key in ("array", "fortran", "empty"):
        np.testing.assert_array_equal(loaded[key], value[key])
        assert loaded[key].dtype == value[key].dtype


def test_safe_pickle_reads_python2_strings_as_bytes():
    # {'labels': [1, 2]} as Python 2's cPickle wrote it (protocol 2, str keys)
    assert safe_pickle.loads(b"\x80\x02}q\x00U\x06labelsq\x01]q\x02(K\x01K\x02es.") == {
        b"labels": [1, 2]
    }


@pytest.mark.parametrize(
    "data, match",
    [
        (pickle.dumps(_Runs(), protocol=0), r"posix.system"),
        (pickle.dumps({1, 2}, protocol=4), r"opcode EMPTY_SET"),
        (pickle.dumps(print, protocol=4), r"builtins.print"),
        (pickle.dumps([1, 2], protocol=2)[:-1], r"STOP"),
        (b"garbage", r"Corrupt pickle"),
    ],
)
def test_safe_pickle_refuses_code_and_corruption(data, match):
    with pytest.raises(safe_pickle.UnsafePickleError, match=match):
        safe_pickle.loads(data)
