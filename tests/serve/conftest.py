"""One small digits model and one real uvicorn server on a free loopback port, shared by the
web app's tests (the server runs in a thread of the test process). The tests that need
Starlette, uvicorn, httpx or Playwright skip themselves where these are not installed."""

import contextlib
import threading

import numpy as np
import pytest

from juanji import saving
from juanji.serve import Inspector, demo
from juanji.serve import app as web

# Small enough for the tests to cross the limit cheaply; a 28x28 JSON input is ~20 KB.
MAX_BYTES = 100_000


@pytest.fixture(scope="session")
def model_file(tmp_path_factory):
    """The demo's seed CNN after 3 plain epochs on the digits (~97% on the held-out ones)."""
    model, _ = demo.train_demo_model(epochs=3, augment=False)
    path = tmp_path_factory.mktemp("serve") / "digits.juanji"
    saving.save_model(model, path, extra={"class_names": demo.CLASS_NAMES})
    return path


@pytest.fixture(scope="session")
def inspector(model_file):
    return Inspector(saving.load_model(model_file, compile=False), demo.CLASS_NAMES)


@contextlib.contextmanager
def running(app):
    """Serve ``app`` with uvicorn on a free loopback port; yields its base URL."""
    sock = web.listen("127.0.0.1", 0)
    server = web.make_server(app, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.02)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="session")
def base_url(inspector):
    with running(web.create_app(inspector, max_bytes=MAX_BYTES)) as url:
        yield url


@pytest.fixture(scope="session")
def digit_images():
    """Held-out digits at 28x28 in [0, 1] ``(N, 28, 28, 1)`` and their labels."""
    from juanji.datasets import digits

    _, (x, y) = digits.load_data(image_size=(28, 28))
    return x.astype(np.float32) / 255, y
