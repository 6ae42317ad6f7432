"""Conv, ConvTranspose, ConvInteger against onnxruntime and the ONNX node cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _node_cases import compare, node_cases, run_case
from oracle import check_op, run_ort, run_wasm_rt, single_node_model

CONV_OPS = {"Conv", "ConvTranspose", "ConvInteger"}


@pytest.mark.parametrize("case", list(node_cases(CONV_OPS)), ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


def _tol(k: int) -> dict:
    # float32 sums of k products differ only in summation order (BLAS blocking
    # vs onnxruntime's MLAS); the error grows like sqrt(k) * eps * |terms|,
    # with unit-normal data that stays well under 1e-6 * k.
    return {"rtol": 1e-5, "atol": 1e-6 * max(k, 1)}


def _data(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


CONV_CASES = [
    # (x shape, w shape, attrs)
    ((1, 3, 7, 7), (4, 3, 3, 3), {}),
    ((2, 4, 9, 8), (6, 4, 3, 2), {"pads": [1, 0, 2, 1], "strides": [2, 1]}),
    ((1, 6, 10, 11), (6, 2, 3, 3), {"group": 3, "dilations": [2, 1]}),
    ((2, 8, 12, 12), (8, 1, 3, 3), {"group": 8, "pads": [1, 1, 1, 1]}),  # depthwise
    ((1, 4, 11, 9), (5, 4, 3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ((1, 4, 11, 9), (5, 4, 4, 2), {"auto_pad": "SAME_LOWER", "strides": [2, 3]}),
    ((1, 4, 11, 9), (5, 4, 3, 3), {"auto_pad": "VALID", "strides": [3, 2]}),
    ((3, 5, 13), (7, 5, 4), {"pads": [2, 1], "strides": [2], "dilations": [2]}),  # 1-D
    ((1, 2, 5, 6, 7), (3, 2, 2, 3, 2), {"pads": [1, 0, 1, 0, 1, 1]}),  # 3-D
    ((2, 16, 8, 8), (32, 16, 1, 1), {}),  # 1x1 shortcut
    ((1, 16, 9, 9), (8, 16, 1, 1), {"strides": [2, 2]}),
]


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("xs,ws,attrs", CONV_CASES)
def test_conv(xs, ws, attrs, with_bias):
    b = _data(ws[0], 2) if with_bias else None
    k = math.prod(ws[1:])
    check_op(
        "Conv",
        {"x": _data(xs), "w": _data(ws, 1), "b": b},
        opset=11,
        **_tol(k),
        **attrs,
    )


def test_conv_float64():
    # onnxruntime has no float64 Conv kernel: compare with its float32 result
    # and check our output keeps float64.
    x, w = _data((1, 2, 5, 5)), _data((3, 2, 3, 3), 1)
    model = single_node_model("Conv", {"x": x, "w": w}, opset=11, pads=[1, 1, 1, 1])
    model64 = single_node_model(
        "Conv",
        {"x": x.astype(np.float64), "w": w.astype(np.float64)},
        opset=11,
        pads=[1, 1, 1, 1],
    )
    (ours,) = run_wasm_rt(
        model64, {"x": x.astype(np.float64), "w": w.astype(np.float64)}
    )
    (theirs,) = run_ort(model, {"x": x, "w": w})
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


CONVT_CASES = [
    ((1, 3, 4, 4), (3, 2, 3, 3), {}),
    ((2, 4, 5, 3), (4, 3, 3, 2), {"strides": [2, 3], "pads": [1, 0, 0, 1]}),
    (
        (1, 4, 5, 5),
        (4, 1, 3, 3),
        {"group": 4, "strides": [2, 2], "output_padding": [1, 1]},
    ),
    ((1, 2, 4, 5), (2, 3, 3, 3), {"dilations": [2, 1], "strides": [1, 2]}),
    ((1, 2, 4, 5), (2, 3, 3, 3), {"strides": [2, 2], "output_shape": [10, 11]}),
    ((1, 2, 4, 5), (2, 3, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ((1, 2, 4, 5), (2, 3, 4, 3), {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ((2, 3, 7), (3, 4, 3), {"strides": [3], "pads": [1, 2]}),  # 1-D
    ((1, 2, 3, 3, 3), (2, 2, 2, 2, 2), {"strides": [2, 1, 2]}),  # 3-D
]


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("xs,ws,attrs", CONVT_CASES)
def test_conv_transpose(xs, ws, attrs, with_bias):
    b = _data(ws[1] * attrs.get("group", 1), 2) if with_bias else None
    k = ws[0] * math.prod(ws[2:])
    check_op("ConvTranspose", {"x": _data(xs), "w": _data(ws, 1), "b": b}, opset=11,
             **_tol(k), **attrs)  # fmt: skip


@pytest.mark.parametrize("attrs", [{}, {"pads": [1, 1, 1, 1], "strides": [2, 2]}])
def test_conv_integer(attrs):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (1, 3, 6, 7), dtype=np.uint8)
    w = rng.integers(0, 255, (4, 3, 3, 3), dtype=np.uint8)
    inputs = {
        "x": x,
        "w": w,
        "xz": np.array(128, np.uint8),
        "wz": np.array(3, np.uint8),
    }
    check_op("ConvInteger", inputs, opset=10, **attrs)


def test_conv_rejects_channel_mismatch():
    from wasm_rt.registry import resolve

    conv = resolve("", "Conv", 11).fn
    with pytest.raises(ValueError, match="channels"):
        conv(_data((1, 4, 5, 5)), _data((2, 3, 3, 3)))


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_qlinear_conv(per_channel, with_bias):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (1, 3, 7, 6), dtype=np.uint8)
    # |w| < 64: onnxruntime's AVX2 u8s8 kernel saturates int16 pair sums of
    # larger weights, which would make the oracle wrong, not us.
    w = rng.integers(-63, 63, (4, 3, 3, 3), dtype=np.int8)
    ws = (
        np.array([0.01, 0.02, 0.015, 0.03], np.float32)
        if per_channel
        else np.float32(0.02)
    )
    inputs = {
        "x": x, "xs": np.array(0.05, np.float32), "xz": np.array(100, np.uint8),
        "w": w, "ws": np.asarray(ws, np.float32), "wz": np.zeros(np.shape(ws), np.int8),
        "ys": np.array(0.7, np.float32), "yz": np.array(120, np.uint8),
        "b": rng.integers(-500, 500, 4).astype(np.int32) if with_bias else None,
    }  # fmt: skip
    check_op("QLinearConv", inputs, opset=10, initializers={"w": w}, pads=[1, 1, 1, 1],
             strides=[2, 1])  # fmt: skip
