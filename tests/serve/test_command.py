"""`juanji serve`: its argument errors, the warning off loopback, --demo, and one real run."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from juanji import cli
from juanji.layers import Dense, Input
from juanji.models import Sequential
from juanji.serve import app as web
from juanji.serve import demo

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")


class _NoServer:
    """Stands in for uvicorn: records the address it was given and returns at once."""

    def __init__(self):
        self.addresses = None

    def run(self, sockets):
        self.addresses = [sock.getsockname() for sock in sockets]


@pytest.fixture
def no_server(monkeypatch):
    server = _NoServer()
    monkeypatch.setattr(web, "make_server", lambda app, **kw: server)
    return server


def _run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _one_line_error(status, err, fragment):
    lines = err.strip().splitlines()
    assert status == cli.EXIT_ERROR and len(lines) == 1, err
    assert lines[0].startswith("juanji: error: ") and fragment in lines[0], lines[0]


def test_it_needs_a_model_or_demo_but_not_both(capsys, model_file):
    _one_line_error(*_run(capsys, "serve")[::2], "MODEL file or --demo")
    _one_line_error(*_run(capsys, "serve", model_file, "--demo")[::2], "MODEL file or --demo")


def test_a_missing_model_or_one_without_image_input_is_an_error(capsys, tmp_path):
    _one_line_error(*_run(capsys, "serve", tmp_path / "none.juanji")[::2], "no model file")
    vectors = Sequential([Input((4,)), Dense(3, activation="softmax")])
    vectors.save(tmp_path / "vectors.juanji")
    _one_line_error(
        *_run(capsys, "serve", tmp_path / "vectors.juanji")[::2], "does not take images"
    )


def test_a_port_in_use_is_an_error(capsys, model_file):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, _, err = _run(capsys, "serve", model_file, "--port", port)
    _one_line_error(status, err, f"cannot listen on 127.0.0.1:{port}")


def test_bad_numbers_are_errors(capsys, model_file):
    _one_line_error(*_run(capsys, "serve", model_file, "--port", 70000)[::2], "--port")
    _one_line_error(*_run(capsys, "serve", model_file, "--max-bytes", 0)[::2], "--max-bytes")


def test_a_non_loopback_address_is_warned_about(capsys, model_file, no_server):
    status, out, err = _run(capsys, "serve", model_file, "--host", "0.0.0.0", "--port", 0)
    assert status == 0 and "juanji: warning: listening on 0.0.0.0" in err
    assert no_server.addresses[0][0] == "0.0.0.0"
    assert re.search(r"serving 'seed_cnn' on http://0\.0\.0\.0:\d+/", out)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_addresses_are_not_warned_about(capsys, model_file, no_server, host):
    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    status, out, err = _run(capsys, "serve", model_file, "--host", host, "--port", 0)
    if status != 0 and "cannot listen" in err:
        pytest.skip(f"cannot listen on {host} here")
    assert status == 0 and "warning" not in err
    assert "serving 'seed_cnn' on http://" in out


def test_demo_loads_the_cached_model_without_training(
    capsys, model_file, no_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "juanji").mkdir()
    shutil.copy(model_file, tmp_path / "juanji" / demo.DEMO_FILE)
    monkeypatch.setattr(demo, "train_demo_model", lambda **kw: pytest.fail("trained again"))
    status, out, err = _run(capsys, "serve", "--demo", "--port", 0)
    assert status == 0 and "serving 'seed_cnn'" in out and err == ""
    assert no_server.addresses[0][0] == "127.0.0.1"


def test_serve_runs_until_interrupted(model_file):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    process = subprocess.Popen(
        [sys.executable, "-m", "juanji", "serve", str(model_file), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line + process.stderr.read()
        summary = httpx.get(url.group(0) + "api/model", timeout=30).json()
        assert summary["name"] == "seed_cnn" and summary["classes"][1] == "1"
    finally:
        process.send_signal(signal.SIGINT)
        status = process.wait(30)
    assert status == 0 and "juanji: stopped" in process.stdout.read()
