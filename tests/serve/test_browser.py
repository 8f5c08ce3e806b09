"""The page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): draw a
"1" with the mouse, watch the probabilities and feature maps answer, upload a PNG.

Skipped, saying why, where Playwright or the browser is missing. A screenshot of the page
is saved under ``$JUANJI_TEST_ARTIFACTS`` if set, else in the test's temporary folder.
"""

import io
import os
import shutil

import numpy as np
import pytest
from PIL import Image

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

CHROMIUM = os.environ.get("JUANJI_CHROMIUM", "/usr/bin/chromium")
# No downloads, no background traffic: the page must work offline.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install it (apt-get install chromium) or set "
            "JUANJI_CHROMIUM to run the browser test"
        )
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=[False], ids=["mouse"])
def page(request, browser, base_url):
    # The page's Content-Security-Policy forbids eval, which Playwright's waits use.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True, has_touch=request.param
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    page.goto(base_url)
    yield page
    context.close()
    assert errors == []


def _answered(page, after):
    """Wait until more than ``after`` answers arrived and none is pending; the last one."""
    page.wait_for_function(
        f"window.juanji.responses > {after} && window.juanji.idle()", timeout=60_000
    )
    return page.evaluate("window.juanji.last")


def _artefact_dir(tmp_path):
    folder = os.environ.get("JUANJI_TEST_ARTIFACTS")
    if not folder:
        return tmp_path
    os.makedirs(folder, exist_ok=True)
    return folder


def test_drawing_a_one_shows_its_class_and_its_feature_maps(page, base_url, tmp_path):
    blank = _answered(page, 0)
    assert blank["top"][0]["class"] != "1"  # so that the answer below comes from the drawing
    summary = page.evaluate("window.juanji.summary")
    layers = page.locator("#maps .layer")
    assert layers.count() == len(blank["maps"]) == 5
    for k, maps in enumerate(blank["maps"]):
        assert layers.nth(k).locator(".tiles canvas").count() == maps["shape"][0]
        assert layers.nth(k).locator(".scale span").count() == 2  # the scale's two ends
    assert page.locator("#filters .tiles canvas").count() == 4
    assert page.locator("#summary tbody tr").count() == len(summary["layers"])

    # A "1": a short up-stroke, then down the middle of the pad, drawn with mouse events.
    pad = page.locator("#pad").bounding_box()
    x0, y0 = pad["x"], pad["y"]
    seen = page.evaluate("window.juanji.responses")
    page.mouse.move(x0 + 115, y0 + 75)
    page.mouse.down()
    for x, y in [(150, 40), (146, 100), (141, 170), (137, 240)]:
        page.mouse.move(x0 + x, y0 + y, steps=10)
    page.mouse.up()
    drawn = _answered(page, seen)

    assert drawn["top"][0]["class"] == "1", drawn["top"]
    assert page.locator(".bar-row.best .label").inner_text() == "1"
    assert page.locator("#top strong").inner_text() == "1"
    assert [m["layer"] for m in drawn["maps"]] == [m["layer"] for m in blank["maps"]]
    for before, after in zip(blank["maps"], drawn["maps"]):
        assert after["data"] != before["data"] or after["max"] != before["max"], before["layer"]
    assert page.locator("#maps .layer").count() == 5
    page.screenshot(path=os.path.join(_artefact_dir(tmp_path), "serve-drawn.png"), full_page=True)

    # Clearing gives the blank pad's answer back.
    seen = page.evaluate("window.juanji.responses")
    page.click("#clear")
    assert _answered(page, seen)["probabilities"] == blank["probabilities"]


@pytest.mark.parametrize("page", [True], ids=["touch"], indirect=True)
def test_a_one_drawn_with_a_finger_is_recognised_too(page):
    blank = _answered(page, 0)
    pad = page.locator("#pad").bounding_box()
    x0, y0 = pad["x"], pad["y"]
    touch = page.context.new_cdp_session(page)
    stroke = [(115, 75), (150, 40)] + [(150 - i, 40 + 20 * i) for i in range(1, 11)]
    seen = page.evaluate("window.juanji.responses")
    for k, (x, y) in enumerate(stroke):
        kind = "touchStart" if k == 0 else "touchMove"
        point = {"x": x0 + x, "y": y0 + y}
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [point]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    drawn = _answered(page, seen)
    assert drawn["top"][0]["class"] == "1" != blank["top"][0]["class"], drawn["top"]


def test_uploading_a_png_shows_the_apis_answer_for_it(page, base_url, digit_images, tmp_path):
    _answered(page, 0)
    x, y = digit_images
    png = io.BytesIO()
    Image.fromarray(np.rint(x[7, :, :, 0] * 255).astype(np.uint8)).save(png, format="PNG")
    path = tmp_path / "digit.png"
    path.write_bytes(png.getvalue())

    seen = page.evaluate("window.juanji.responses")
    page.set_input_files("#upload", str(path))
    shown = _answered(page, seen)

    with open(path, "rb") as f:
        direct = httpx.post(
            f"{base_url}/api/predict",
            params={"maps": 1, "top": 3, "invert": "auto"},
            files={"file": ("digit.png", f)},
        ).json()
    assert shown == direct
    assert shown["top"][0]["index"] == int(y[7])
    assert "uploaded digit.png" in page.locator("#status").inner_text()
    page.screenshot(path=os.path.join(_artefact_dir(tmp_path), "serve-upload.png"), full_page=True)
