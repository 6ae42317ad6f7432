"""The demo page end to end: it loads, a digit drawn with the mouse is recognised,
"open your own .onnx" lists, runs and profiles a model, and errors are readable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import BOOT_TIMEOUT_MS
from digit_strokes import DIGITS, VARIANTS  # tests/digit_strokes.py: all ten digits

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import digits_preprocess  # (Python port of app.js's padToPixels)


@pytest.fixture(scope="module")
def demo(browser, site_url):
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(BOOT_TIMEOUT_MS)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site_url)
    page.wait_for_function("window.demo && window.demo.session")
    page.set_default_timeout(30_000)
    page.page_errors = errors
    yield page
    context.close()


def draw(page, strokes):
    page.click("#clear")
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
        page.mouse.up()
    page.wait_for_function(
        "window.demo.prediction !== null && !window.demo.busy && !window.demo.dirty"
    )


def test_loads_with_progress_bar_done(demo):
    assert demo.locator("#loading").get_attribute("class") == "done"
    assert "Ready" in demo.inner_text("#status")
    assert demo.inner_text("#used-provider") == "NumpyExecutionProvider"


def pad_ink(page):
    """The pad's ink mask as the page sees it (red channel < 128), from the canvas."""
    np = pytest.importorskip("numpy")
    w, h, red = page.evaluate(
        """() => {
          const pad = document.getElementById("pad");
          const d = pad.getContext("2d").getImageData(0, 0, pad.width, pad.height).data;
          return [pad.width, pad.height, Array.from(d.filter((_, i) => i % 4 === 0))];
        }"""
    )
    return np.array(red, np.uint8).reshape(h, w) < digits_preprocess.INK_BELOW


@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_drawn_digit_is_recognised(demo, digit, artifacts):
    draw(demo, DIGITS[digit])
    assert demo.evaluate("window.demo.prediction") == digit
    assert demo.inner_text("#pred") == str(digit)
    probs = demo.evaluate("window.demo.probabilities")
    assert abs(sum(probs) - 1) < 1e-4 and probs[digit] > 0.5
    assert "ms in Python" in demo.inner_text("#runtime")
    assert demo.locator("#probs tr.best").get_attribute("data-digit") == str(digit)
    demo.screenshot(path=str(artifacts / f"demo_digit_{digit}.png"), full_page=True)
    assert not demo.page_errors


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_drawn_variant_is_recognised(demo, name, artifacts):
    digit, strokes = VARIANTS[name]
    draw(demo, strokes)
    demo.screenshot(path=str(artifacts / f"demo_variant_{name.replace(' ', '_')}.png"))
    assert demo.evaluate("window.demo.prediction") == digit


@pytest.mark.parametrize("digit", [1, 7, 8])
def test_python_port_of_preprocessing_matches_the_page(demo, digit):
    """scripts/digits_preprocess.py (used to make the training data) == app.js, bit for bit."""
    draw(demo, DIGITS[digit])
    js = demo.evaluate("window.demo.pixels")
    py = digits_preprocess.to_pixels(pad_ink(demo))
    assert py.ravel().tolist() == js


def test_open_your_own_model_lists_runs_and_profiles(demo, site, artifacts):
    demo.set_input_files("#model-file", str(site / "models" / "digits.onnx"))
    demo.wait_for_selector("#run-own:not([disabled])")
    info = demo.inner_text("#model-info")
    assert "pixels" in info and "float32" in info and "[batch, 1, 8, 8]" in info
    assert "probabilities" in info
    demo.click("#run-own")
    demo.wait_for_selector("#profile")
    results = demo.inner_text("#own-results")
    assert "probabilities" in results and "ms in Python" in results
    ops = demo.locator("#profile td:nth-child(2)").all_inner_texts()
    assert {"Gemm", "Relu", "Softmax"} <= set(ops)
    demo.screenshot(path=str(artifacts / "demo_own_model.png"), full_page=True)


def test_npy_upload_feeds_the_model(demo, site, tmp_path):
    np = pytest.importorskip("numpy")
    x = np.zeros((2, 1, 8, 8), np.float32)
    np.save(tmp_path / "pixels.npy", x)
    demo.set_input_files("#model-file", str(site / "models" / "digits.onnx"))
    demo.wait_for_selector("#run-own:not([disabled])")
    demo.set_input_files(".npy[data-i='0']", str(tmp_path / "pixels.npy"))
    demo.click("#run-own")
    demo.wait_for_selector("#outputs")
    assert "float32 [2, 10]" in demo.inner_text("#outputs")


def test_a_broken_model_shows_a_readable_error(demo, tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"this is not an onnx model")
    demo.set_input_files("#model-file", str(bad))
    demo.wait_for_selector("#error:not([hidden])")
    text = demo.inner_text("#error")
    assert text.startswith(("InvalidProtobuf", "InvalidGraph", "InvalidArgument")), text
    # The page is not frozen: the digit pad still classifies.
    draw(demo, DIGITS[0])
    assert demo.evaluate("window.demo.prediction") == 0
