"""MNIST on the real files, the download path against a local HTTP server, and digits."""

import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from juanji.data import datasets
from juanji.data.idx import write_idx
from juanji.datasets import digits, mnist

MNIST_DIR = Path(__file__).parents[2] / ".." / "shared" / "data" / "mnist"
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
NAMES = list(datasets.MNIST_FILES)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No real home folder, data folder or mirror is ever used."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JUANJI_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "MIRRORS", [])


# --- the real files ------------------------------------------------------------------------


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="the MNIST files are not beside the repo")
def test_real_mnist():
    (x_train, y_train), (x_test, y_test) = mnist.load_data(MNIST_DIR)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == x_test.dtype == np.uint8
    assert y_train.dtype == y_test.dtype == np.uint8
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS and sum(TRAIN_COUNTS) == 60000
    assert np.bincount(y_test).tolist() == TEST_COUNTS and sum(TEST_COUNTS) == 10000
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9] and y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert x_train.max() == 255 and abs(x_train.mean() / 255 - 0.1307) < 1e-4  # MNIST's mean


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="the MNIST files are not beside the repo")
def test_known_checksums_match_the_real_files():
    for name, sha256 in datasets.MNIST_FILES.items():
        content = gzip.decompress((MNIST_DIR / f"{name}.gz").read_bytes())
        assert hashlib.sha256(content).hexdigest() == sha256


# --- small MNIST-shaped files written here --------------------------------------------------


def _fake_mnist(seed=0):
    """The arrays of a 6-image training set and a 4-image test set, MNIST-shaped."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 6).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 4).astype(np.uint8),
    }


def _write(folder, arrays, *, compress):
    folder.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        write_idx(folder / (name + ".gz" if compress else name), a)


def _gz(a, tmp_path):
    path = tmp_path / "tmp.gz"
    write_idx(path, a)
    return path.read_bytes()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The fake files' arrays and .gz bodies, with their checksums made the known ones."""
    arrays = _fake_mnist()
    bodies = {name: _gz(a, tmp_path) for name, a in arrays.items()}
    for name, body in bodies.items():
        digest = hashlib.sha256(gzip.decompress(body)).hexdigest()
        monkeypatch.setitem(datasets.MNIST_FILES, name, digest)
    return arrays, bodies


def _check_loaded(loaded, arrays):
    (x_train, y_train), (x_test, y_test) = loaded
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert x_train.shape == (6, 28, 28) and x_test.shape == (4, 28, 28)  # as Keras's
    assert y_train.dtype == x_test.dtype == np.uint8


@pytest.mark.parametrize("compress", [False, True])
def test_loads_raw_or_gzip_files_from_path(tmp_path, compress):
    arrays = _fake_mnist()
    _write(tmp_path / "data", arrays, compress=compress)
    _check_loaded(mnist.load_data(tmp_path / "data"), arrays)


def test_search_order_path_then_env_then_home(tmp_path, monkeypatch):
    first, second = _fake_mnist(seed=1), _fake_mnist(seed=2)
    _write(tmp_path / "env" / "mnist", first, compress=True)
    _write(tmp_path / "home" / ".juanji" / "datasets" / "mnist", second, compress=True)
    _check_loaded(mnist.load_data(), second)
    monkeypatch.setenv("JUANJI_DATA_DIR", str(tmp_path / "env"))
    _check_loaded(mnist.load_data(), first)
    _write(tmp_path / "given", second, compress=False)
    _check_loaded(mnist.load_data(tmp_path / "given"), second)


def test_image_and_label_counts_must_agree(tmp_path):
    arrays = _fake_mnist()
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:5]
    _write(tmp_path, arrays, compress=True)
    with pytest.raises(ValueError, match=r"as many labels as images.*\(6, 28, 28\).*\(5,\)"):
        mnist.load_data(tmp_path)


@pytest.mark.parametrize("label", [255, 10])
def test_labels_outside_0_to_9_are_refused(tmp_path, label):
    arrays = _fake_mnist()
    arrays["t10k-labels-idx1-ubyte"][2] = label
    _write(tmp_path, arrays, compress=False)
    with pytest.raises(ValueError, match=rf"integers 0 to 9 in .*t10k-labels.* to {label}"):
        mnist.load_data(tmp_path)


def test_labels_file_in_place_of_images_is_caught(tmp_path):
    arrays = _fake_mnist()
    arrays["t10k-images-idx3-ubyte"] = arrays["t10k-labels-idx1-ubyte"]
    _write(tmp_path, arrays, compress=True)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz.*Expected 3"):
        mnist.load_data(tmp_path)


# --- downloads from a local server -----------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}  # path -> (body, how): how is "ok" or "truncate"
    log = []

    def do_GET(self):
        self.log.append(self.path)
        if self.path not in self.routes:
            self.send_error(404)
            return
        body, how = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A dropped connection: the promised length, half the body, then the socket closes.
        self.wfile.write(body[: len(body) // 2] if how == "truncate" else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP server; returns its base URL, its routes and the log of requested paths."""
    handler = type("Handler", (_Handler,), {"routes": {}, "log": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.routes, handler.log
    httpd.shutdown()
    httpd.server_close()


def _serve(routes, prefix, bodies, how="ok"):
    for name, body in bodies.items():
        routes[f"{prefix}/{name}.gz"] = (body, how)


def _closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist"


def test_download_success_then_offline_from_cache(tmp_path, server, fake):
    arrays, bodies = fake
    url, routes, _ = server
    _serve(routes, "/a", bodies)
    cache = tmp_path / "cache"
    _check_loaded(mnist.load_data(cache, mirrors=[f"{url}/a/"]), arrays)
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    # Offline now: the verified files in the cache suffice.
    _check_loaded(mnist.load_data(cache, mirrors=[]), arrays)


def test_default_download_folder_is_home_and_module_mirrors_are_used(
    tmp_path, server, fake, monkeypatch
):
    arrays, bodies = fake
    url, routes, _ = server
    _serve(routes, "/a", bodies)
    monkeypatch.setattr(datasets, "MIRRORS", [f"{url}/a"])
    _check_loaded(mnist.load_data(), arrays)
    assert len(list((tmp_path / "home" / ".juanji" / "datasets" / "mnist").iterdir())) == 4


def test_only_missing_files_are_downloaded(tmp_path, server, fake):
    arrays, bodies = fake
    url, routes, log = server
    _serve(routes, "/a", bodies)
    _write(tmp_path / "cache", {n: a for n, a in arrays.items() if "train" in n}, compress=False)
    _check_loaded(mnist.load_data(tmp_path / "cache", mirrors=[f"{url}/a"]), arrays)
    assert sorted(log) == ["/a/t10k-images-idx3-ubyte.gz", "/a/t10k-labels-idx1-ubyte.gz"]


@pytest.mark.parametrize("fault", ["checksum", "dropped", "short gzip", "missing"])
def test_a_bad_mirror_is_skipped_for_the_next(tmp_path, server, fake, fault):
    arrays, bodies = fake
    url, routes, log = server
    if fault == "checksum":
        wrong = {n: gzip.compress(gzip.decompress(b) + b"\x00") for n, b in bodies.items()}
        _serve(routes, "/bad", wrong)
    elif fault == "dropped":
        _serve(routes, "/bad", bodies, how="truncate")
    elif fault == "short gzip":
        _serve(routes, "/bad", {n: b[:-6] for n, b in bodies.items()})
    _serve(routes, "/good", bodies)
    cache = tmp_path / "cache"
    _check_loaded(mnist.load_data(cache, mirrors=[f"{url}/bad", f"{url}/good"]), arrays)
    assert sum(p.startswith("/bad/") for p in log) == 4
    # Nothing of the bad mirror's bodies was kept, and no temporary file is left.
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in NAMES)


def test_all_mirrors_failing_says_which_files_mirrors_and_why(tmp_path, server, fake):
    _, bodies = fake
    url, routes, _ = server
    wrong = {n: gzip.compress(b"not the file") for n in bodies}
    _serve(routes, "/wrong", wrong)
    _serve(routes, "/cut", bodies, how="truncate")
    offline = _closed_port_url()
    mirrors = [offline, f"{url}/wrong", f"{url}/cut", f"{url}/nothing"]
    cache = tmp_path / "cache"
    with pytest.raises(datasets.DownloadError) as info:
        mnist.load_data(cache, mirrors=mirrors)
    message = str(info.value)
    assert "4 MNIST file(s)" in message and str(cache) in message
    for name in NAMES:
        assert f"{name}.gz: no mirror" in message
        assert f"{offline}/{name}.gz: unreachable" in message
        assert f"{url}/wrong/{name}.gz: checksum mismatch" in message
        assert f"{url}/nothing/{name}.gz: HTTP error 404" in message
        assert f"{url}/cut/{name}.gz: truncated: received" in message
    assert not cache.exists()  # nothing partial was written


def test_no_mirrors_and_no_files(tmp_path):
    with pytest.raises(datasets.DownloadError, match=r"(?s)no mirrors given.*mirrors=\["):
        mnist.load_data(tmp_path / "empty")


# --- digits -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_default():
    return digits.load_data()


def test_digits_shapes_and_dtypes(digits_default):
    (x_train, y_train), (x_test, y_test) = digits_default
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    assert x_train.dtype == np.uint8 and y_train.dtype == y_test.dtype == np.int64
    assert x_train.max() == 255 and x_train.min() == 0
    # Stratified: every class keeps its share of the test part (about 36 of ~180).
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - 36) <= 1)


def test_digits_split_is_reproducible_and_a_partition(digits_default):
    (x_train, y_train), (x_test, y_test) = digits_default
    (x_train2, y_train2), _ = digits.load_data()
    np.testing.assert_array_equal(x_train, x_train2)
    np.testing.assert_array_equal(y_train, y_train2)
    (x_other, _), _ = digits.load_data(seed=1)
    assert not np.array_equal(x_train, x_other)
    from sklearn.datasets import load_digits

    every = np.rint(load_digits().images * (255 / 16)).astype(np.uint8).reshape(1797, -1)
    ours = np.concatenate([x_train, x_test]).reshape(1797, -1)
    assert sorted(map(bytes, every)) == sorted(map(bytes, ours))


def test_digits_resized_like_mnist_stays_centred(digits_default):
    (small, _), _ = digits_default
    (large, y_large), (x_test, _) = digits.load_data(image_size=(28, 28))
    assert large.shape == (1437, 28, 28, 1) and x_test.shape == (360, 28, 28, 1)
    assert large.dtype == np.uint8 and large.max() > 200

    def centre_of_mass(x):
        w = x[..., 0].astype(np.float64)
        rows = np.arange(x.shape[1])
        return np.stack(
            [(w.sum(2) * rows).sum(1) / w.sum((1, 2)), (w.sum(1) * rows).sum(1) / w.sum((1, 2))]
        )

    # Pixel centres scale as (i + 0.5) * 3.5 - 0.5.
    expected = (centre_of_mass(small) + 0.5) * 3.5 - 0.5
    assert np.abs(centre_of_mass(large) - expected).mean() < 0.3


def test_digits_rejects_a_bad_size():
    with pytest.raises(ValueError, match="image_size=28"):
        digits.load_data(image_size=28)
