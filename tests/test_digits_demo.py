"""The demo's digit model on mouse-like drawings, without a browser: strokes rasterised
in Python, preprocessed by scripts/digits_preprocess.py (the bit-exact port of
wasm_rt/web/app.js's padToPixels), classified by wasm_rt with the bundled model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from digit_strokes import DIGITS, VARIANTS

import wasm_rt
from wasm_rt.cli import default_model_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import digits_preprocess as dp


@pytest.fixture(scope="module")
def session():
    return wasm_rt.InferenceSession(default_model_path())


def classify(session, strokes):
    pixels = dp.to_pixels(dp.draw_strokes(strokes))
    (probs,) = session.run(None, {"pixels": pixels[None, None]})
    return probs[0]


def test_preprocess_blank_full_and_range():
    assert dp.to_pixels(np.zeros((256, 256), bool)) is None
    assert (dp.to_pixels(np.ones((40, 40), bool)) == 16).all()
    px = dp.to_pixels(dp.draw_strokes(DIGITS[1]))
    assert px.shape == (8, 8) and px.dtype == np.float32
    assert px.min() >= 0 and px.max() <= 16
    # Thin strokes are thickened towards the data set's ~30% ink.
    assert px.sum() >= dp.TARGET_INK * 0.9


def test_preprocess_is_translation_invariant():
    ink = dp.draw_strokes(DIGITS[7], width=18)
    moved = np.roll(ink, (-20, 25), axis=(0, 1))
    np.testing.assert_array_equal(dp.to_pixels(ink), dp.to_pixels(moved))


@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_drawn_digit(session, digit):
    probs = classify(session, DIGITS[digit])
    assert probs.argmax() == digit and probs[digit] > 0.5, probs.round(3)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_drawn_variant(session, name):
    digit, strokes = VARIANTS[name]
    probs = classify(session, strokes)
    assert probs.argmax() == digit, probs.round(3)


@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_drawn_digit_smaller_and_off_centre(session, digit):
    # Half size in a corner: the stroke is relatively twice as thick.
    strokes = [[(20 + x / 2, 100 + y / 2) for x, y in s] for s in DIGITS[digit]]
    assert classify(session, strokes).argmax() == digit
