"""DFT, STFT, window functions and MelWeightMatrix against onnxruntime and node cases."""

from __future__ import annotations

import numpy as np
import pytest
from _node_cases import compare, node_cases, run_case
from oracle import check_op

SIGNAL_OPS = {
    "DFT",
    "STFT",
    "HannWindow",
    "HammingWindow",
    "BlackmanWindow",
    "MelWeightMatrix",
}


@pytest.mark.parametrize("case", list(node_cases(SIGNAL_OPS)), ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        # FFTs of length <= 16 in float32: a few ulps times the signal's sum.
        compare(expected, got, rtol=1e-5, atol=1e-5)


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# FFT butterflies in float32 vs pocketfft in float64: error ~ log2(n) ulps of
# the largest partial sum, O(sqrt(n)) for unit-normal data.
TOL = {"rtol": 1e-4, "atol": 1e-4}


@pytest.mark.parametrize("complex_in", [False, True])
@pytest.mark.parametrize("inverse,onesided", [(0, 0), (0, 1), (1, 0)])
@pytest.mark.parametrize("axis", [1, 2])
def test_dft_20(complex_in, inverse, onesided, axis):
    if onesided and complex_in:
        pytest.skip("onesided needs a real input")
    x = _data((2, 8, 6, 2 if complex_in else 1))
    ax = np.array(axis, np.int64)
    check_op("DFT", {"x": x, "n": None, "axis": ax}, opset=20, initializers={"axis": ax},
             inverse=inverse, onesided=onesided, **TOL)  # fmt: skip


@pytest.mark.parametrize("length", [5, 8, 12])
def test_dft_17_length(length):
    n = np.array(length, np.int64)
    check_op(
        "DFT", {"x": _data((3, 8, 2)), "n": n}, opset=17, initializers={"n": n}, **TOL
    )


@pytest.mark.parametrize("onesided", [0, 1])
@pytest.mark.parametrize("with_window", [True, False])
def test_stft(onesided, with_window):
    step = np.array(3, np.int64)
    inputs = {"x": _data((2, 40, 1)), "step": step, "w": None, "len": None}
    inits = {"step": step}
    if with_window:
        inputs["w"] = np.hanning(10).astype(np.float32)
    else:
        inputs["len"] = np.array(10, np.int64)
        inits["len"] = inputs["len"]
    check_op("STFT", inputs, opset=17, initializers=inits, onesided=onesided, **TOL)


@pytest.mark.parametrize("onesided", [0, 1])
def test_stft_2d_real_signal(onesided):
    # onnxruntime accepts a real [batch, length] signal without the trailing 1.
    step = np.array(4, np.int64)
    inputs = {"x": _data((3, 33)), "step": step, "w": np.hamming(8).astype(np.float32)}
    check_op("STFT", inputs, opset=17, initializers={"step": step},
             onesided=onesided, **TOL)  # fmt: skip


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("periodic", [0, 1])
@pytest.mark.parametrize("size", [1, 7, 16])
def test_windows(op, periodic, size):
    s = np.array(size, np.int64)
    check_op(op, {"size": s}, opset=17, initializers={"size": s}, periodic=periodic,
             rtol=1e-6, atol=1e-6)  # fmt: skip


def test_mel_weight_matrix():
    inputs = {
        "mels": np.array(8, np.int64), "n": np.array(64, np.int64),
        "rate": np.array(16000, np.int64), "lo": np.array(20.0, np.float32),
        "hi": np.array(8000.0, np.float32),
    }  # fmt: skip
    check_op(
        "MelWeightMatrix",
        inputs,
        opset=17,
        initializers=dict(inputs),
        rtol=1e-6,
        atol=1e-6,
    )
