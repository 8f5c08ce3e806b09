"""The JSON API over HTTP, against a real uvicorn server: answers, every 4xx case, and 50
requests at once."""

import concurrent.futures
import io
import json

import numpy as np
import pytest
from PIL import Image

from juanji.layers import Dense, Flatten, Input, InputLayer
from juanji.models import Sequential
from juanji.serve import Inspector, decode_array
from juanji.serve.app import create_app
from tests.serve.conftest import MAX_BYTES, running

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")


@pytest.fixture(scope="module")
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


def _png(pixels):
    """PNG bytes of a uint8 array (H, W) or (H, W, 3)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _predict(client, x, **params):
    response = client.post("/api/predict", params=params, json={"input": x.tolist()})
    assert response.status_code == 200, response.text
    return response.json()


def _reference_maps(model, x):
    """Each conv/pool layer's output for ``x`` (1, 28, 28, 1), as (C, H, W), run by hand."""
    maps, h = [], x
    for layer in model.layers:
        h = layer(h).data
        if "Conv" in type(layer).__name__ or "Pooling" in type(layer).__name__:
            maps.append((layer.name, h[0].transpose(2, 0, 1)))
    return maps


# --- answers -----------------------------------------------------------------------------
def test_the_model_summary_describes_layers_and_filters(client, inspector):
    response = client.get("/api/model")
    assert response.status_code == 200
    summary = response.json()
    model = inspector.model
    assert summary["input_shape"] == [28, 28, 1] and summary["classes"] == list("0123456789")
    layers = [layer for layer in model.layers if not isinstance(layer, InputLayer)]
    assert [layer["name"] for layer in summary["layers"]] == [layer.name for layer in layers]
    assert summary["total_params"] == model.count_params() == 35754
    assert "Total params: 35,754" in summary["text"]
    filters = summary["filters"]
    kernel = layers[0].kernel.data.transpose(3, 2, 0, 1)  # (F, C, KH, KW)
    assert filters["shape"] == [4, 1, 5, 5] and filters["min"] == -filters["max"]
    step = (filters["max"] - filters["min"]) / 255
    np.testing.assert_allclose(decode_array(filters), kernel, atol=step / 2 + 1e-7)


def test_probabilities_are_the_models_and_sum_to_one(client, inspector, digit_images):
    x, y = digit_images
    answer = _predict(client, x[0])
    expected = inspector.model.predict(x[:1])[0]
    probabilities = np.array(answer["probabilities"])
    assert probabilities.shape == (10,) and abs(probabilities.sum() - 1) < 1e-9
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-7)
    assert [t["index"] for t in answer["top"]] == list(np.argsort(-expected)[:3])
    assert answer["top"][0] == {
        "class": str(expected.argmax()),
        "index": int(expected.argmax()),
        "probability": answer["probabilities"][expected.argmax()],
    }
    assert "maps" not in answer
    assert len(_predict(client, x[0], top=10)["top"]) == 10
    # A batch axis of one is the same input.
    assert _predict(client, x[:1])["probabilities"] == answer["probabilities"]


def test_maps_are_each_conv_and_pool_layers_outputs_on_one_scale(client, inspector, digit_images):
    x, _ = digit_images
    answer = _predict(client, x[3], maps=1)
    expected = _reference_maps(inspector.model, x[3:4])
    assert [m["layer"] for m in answer["maps"]] == [name for name, _ in expected]
    assert [m["shape"] for m in answer["maps"]] == [
        [4, 24, 24],
        [8, 22, 22],
        [8, 11, 11],
        [16, 9, 9],
        [16, 4, 4],
    ]
    for encoded, (_, maps) in zip(answer["maps"], expected):
        assert encoded["min"] == pytest.approx(maps.min()) and encoded["max"] == pytest.approx(
            maps.max()
        )
        step = (encoded["max"] - encoded["min"]) / 255
        np.testing.assert_allclose(decode_array(encoded), maps, atol=step / 2 + 1e-6)
    np.testing.assert_allclose(decode_array(answer["input"]), x[3].transpose(2, 0, 1), atol=1 / 255)


def test_an_uploaded_png_is_the_same_input_as_its_pixels(client, digit_images):
    x, _ = digit_images
    pixels = np.rint(x[5, :, :, 0] * 255).astype(np.uint8)
    files = {"file": ("five.png", _png(pixels), "image/png")}
    answer = client.post("/api/predict", files=files)
    assert answer.status_code == 200, answer.text
    assert answer.json() == _predict(client, pixels[:, :, None] / 255)
    inverted = client.post("/api/predict", params={"invert": 1}, files=files)
    assert inverted.json()["probabilities"] == pytest.approx(
        _predict(client, 1 - pixels[:, :, None] / 255)["probabilities"], abs=1e-6
    )
    # "auto" inverts dark ink on light paper, and leaves light ink on dark alone.
    paper = {"file": ("paper.png", _png(255 - pixels), "image/png")}
    auto = client.post("/api/predict", params={"invert": "auto"}, files=paper)
    assert auto.json()["probabilities"] == pytest.approx(answer.json()["probabilities"], abs=1e-6)
    assert client.post("/api/predict", params={"invert": "auto"}, files=files).json() == (
        answer.json()
    )


def test_a_model_of_two_classes_lists_both_by_default():
    model = Sequential([Input((4, 4, 1)), Flatten(), Dense(2, activation="softmax")])
    with running(create_app(Inspector(model, ["cat", "dog"]))) as url:
        answer = httpx.post(f"{url}/api/predict", json={"input": np.ones((4, 4, 1)).tolist()})
    assert answer.status_code == 200, answer.text
    assert [t["class"] for t in answer.json()["top"]] in (["cat", "dog"], ["dog", "cat"])


def test_any_size_and_mode_of_image_is_converted(client):
    rgb = np.zeros((90, 60, 3), np.uint8)
    rgb[10:80, 25:35] = (255, 200, 180)  # a bar: a "1" in colour, not 28x28
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG")
    answer = client.post(
        "/api/predict", params={"maps": 1}, files={"file": ("bar.jpg", buffer.getvalue())}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["input"]["shape"] == [1, 28, 28]


# --- every refusal -----------------------------------------------------------------------
def _refused(response, status, words):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str)
    assert words.lower() in body["error"].lower(), body["error"]
    assert "Traceback" not in response.text


BLANK = np.zeros((28, 28, 1)).tolist()
_STROKE = np.zeros((28, 28), np.uint8)
_STROKE[4:24, 12:16] = 255
TRUNCATED_PNG = _png(_STROKE)[:60]


@pytest.mark.parametrize(
    "request_args, status, words",
    [
        ({"content": b"1,2,3", "headers": {"content-type": "text/csv"}}, 415, "text/csv"),
        ({"content": b"{}"}, 415, "Received: none"),
        ({"content": b"", "headers": {"content-type": "application/json"}}, 400, "empty body"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        (
            {
                "content": b"[" * 50_000 + b"]" * 50_000,
                "headers": {"content-type": "application/json"},
            },
            400,
            "too deep",
        ),
        ({"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        ({"json": [1, 2]}, 400, '"input"'),
        ({"json": {"inputs": BLANK}}, 400, '"input"'),
        ({"json": {"input": [[0.0] * 28] * 28}}, 422, "[28, 28, 1]"),
        ({"json": {"input": [BLANK, BLANK]}}, 422, "shape [2, 28, 28, 1]"),
        ({"json": {"input": [[0.0], [0.0, 1.0]]}}, 422, "rectangular"),
        ({"json": {"input": [[["a"]] * 28] * 28}}, 422, "only numbers"),
        ({"json": {"input": [[[True]] * 28] * 28}}, 422, "booleans"),
        ({"json": {"input": None}}, 422, "only numbers"),
        ({"json": {"input": 3}}, 422, "shape []"),
        (
            {
                "content": json.dumps({"input": [[[float("nan")]] * 28] * 28}),
                "headers": {"content-type": "application/json"},
            },
            422,
            "NaN",
        ),
        (
            {
                "content": '{"input": ' + json.dumps([[[1e999]] * 28] * 28) + "}",
                "headers": {"content-type": "application/json"},
            },
            422,
            "infinity",
        ),
        (
            {"content": b"x" * (MAX_BYTES + 1), "headers": {"content-type": "application/json"}},
            413,
            f"at most {MAX_BYTES} bytes",
        ),
        (
            {
                "content": iter([b"x" * 60_000, b"x" * 60_000]),  # chunked: no Content-Length
                "headers": {"content-type": "application/json"},
            },
            413,
            f"at most {MAX_BYTES} bytes",
        ),
        ({"files": {"image": ("a.png", b"\x89PNG")}}, 400, "field 'file'"),
        ({"data": {"file": "not a file"}, "files": {"x": ("x", b"")}}, 400, "field 'file'"),
        ({"files": {"file": ("empty.png", b"")}}, 400, "empty file"),
        ({"files": {"file": ("notes.png", b"these are not pixels")}}, 400, "not a readable image"),
        ({"files": {"file": ("cut.png", TRUNCATED_PNG)}}, 400, "not a readable image"),
        ({"files": {"file": ("x.png", b"%!PS-Adobe-3.0 EPSF-3.0\n")}}, 400, "Expected one of"),
        (
            {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data; boundary=x"}},
            400,
            "",
        ),
    ],
    ids=[
        "other-content-type",
        "no-content-type",
        "empty-body",
        "bad-json",
        "deep-json",
        "not-utf8",
        "not-an-object",
        "no-input-key",
        "wrong-rank",
        "batch-of-two",
        "ragged",
        "strings",
        "booleans",
        "null",
        "scalar",
        "nan",
        "infinity",
        "too-large",
        "too-large-chunked",
        "no-file-field",
        "file-field-not-a-file",
        "empty-file",
        "not-an-image",
        "truncated-png",
        "refused-format",
        "broken-multipart",
    ],
)
def test_bad_requests_get_a_json_error(client, request_args, status, words):
    _refused(client.post("/api/predict", **request_args), status, words)


@pytest.mark.parametrize(
    "params, words",
    [
        ({"maps": "yes"}, "maps=0 or maps=1"),
        ({"top": 0}, "from 1 to 10"),
        ({"top": 11}, "from 1 to 10"),
        ({"top": "three"}, "from 1 to 10"),
        ({"invert": "maybe"}, "0, 1, auto"),
    ],
)
def test_bad_query_parameters_get_a_json_error(client, params, words):
    response = client.post("/api/predict", params=params, json={"input": BLANK})
    _refused(response, 400, words)


def test_unknown_paths_and_methods_get_a_json_error(client):
    _refused(client.get("/api/nothing"), 404, "not found")
    _refused(client.get("/api/predict"), 405, "method not allowed")


def test_the_page_and_its_files_are_served_without_anything_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        assert f"/static/{name}" in page.text
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200
        assert "http://" not in asset.text and "https://" not in asset.text
    assert "https://" not in page.text and "http://" not in page.text


# --- many at once ------------------------------------------------------------------------
def test_fifty_requests_at_once_get_the_answers_they_get_one_by_one(client, digit_images):
    x, _ = digit_images
    inputs = [x[i] for i in range(50)]
    sequential = [_predict(client, sample, maps=1) for sample in inputs]

    def ask(sample):
        # A client of its own per request: 50 connections at once.
        with httpx.Client(base_url=str(client.base_url), timeout=120) as own:
            return _predict(own, sample, maps=1)

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        parallel = list(pool.map(ask, inputs))
    assert len(parallel) == 50
    for alone, together in zip(sequential, parallel):
        np.testing.assert_allclose(
            together["probabilities"], alone["probabilities"], rtol=1e-6, atol=1e-9
        )
        assert together["top"][0]["index"] == alone["top"][0]["index"]
        for a, b in zip(alone["maps"], together["maps"]):
            assert a["shape"] == b["shape"]
            np.testing.assert_allclose(
                decode_array(b), decode_array(a), atol=1e-5 + (a["max"] - a["min"]) / 255
            )
    # Different inputs got different answers: the comparison above is not between blanks.
    assert len({tuple(np.round(a["probabilities"], 6)) for a in sequential}) > 40
