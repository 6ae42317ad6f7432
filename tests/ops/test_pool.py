"""Pooling kernels against onnxruntime and the ONNX node cases."""

from __future__ import annotations

import numpy as np
import pytest
from _node_cases import compare, node_cases, run_case
from oracle import check_op

POOL_OPS = {
    "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool",
    "GlobalLpPool", "MaxUnpool",
}  # fmt: skip

# The expected outputs of this case are printed with 4 decimals in the
# generator, so it needs an absolute tolerance of 1e-4.
LOOSE_CASES = {"test_averagepool_2d_ceil_last_window_starts_on_pad": 1e-4}


@pytest.mark.parametrize("case", list(node_cases(POOL_OPS)), ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got, atol=LOOSE_CASES.get(case.name, 1e-6))


def _data(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


WINDOW_CASES = [
    ((1, 2, 7, 7), {"kernel_shape": [3, 3]}),
    ((2, 3, 8, 9), {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1]}),
    ((1, 2, 9, 9), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ((1, 2, 8, 8), {"kernel_shape": [3, 3], "strides": [3, 3], "pads": [1, 1, 1, 1],
                    "ceil_mode": 1}),
    ((1, 2, 10, 7), {"kernel_shape": [2, 3], "strides": [2, 1], "auto_pad": "SAME_UPPER"}),
    ((1, 2, 10, 7), {"kernel_shape": [3, 2], "strides": [3, 2], "auto_pad": "SAME_LOWER"}),
    ((1, 2, 10, 7), {"kernel_shape": [3, 3], "auto_pad": "VALID", "strides": [2, 2]}),
    ((2, 3, 11), {"kernel_shape": [4], "strides": [3], "pads": [1, 2]}),
    ((1, 2, 5, 6, 7), {"kernel_shape": [2, 3, 2], "strides": [2, 2, 1]}),
]  # fmt: skip


@pytest.mark.parametrize("xs,attrs", WINDOW_CASES)
def test_maxpool(xs, attrs):
    check_op("MaxPool", {"x": _data(xs)}, opset=12, **attrs)


@pytest.mark.parametrize("xs,attrs", WINDOW_CASES)
@pytest.mark.parametrize("include_pad", [0, 1])
def test_averagepool(xs, attrs, include_pad):
    # Averages of <= 27 float32 terms: summation order only (1-ulp scale).
    check_op("AveragePool", {"x": _data(xs)}, opset=11, rtol=1e-6, atol=1e-6,
             count_include_pad=include_pad, **attrs)  # fmt: skip


@pytest.mark.parametrize("storage_order", [0, 1])
@pytest.mark.parametrize("xs,attrs", WINDOW_CASES[:4] + WINDOW_CASES[7:])
def test_maxpool_indices(xs, attrs, storage_order):
    if storage_order and len(xs) != 4:
        pytest.skip("onnxruntime implements storage_order only for 2-D pooling")
    check_op("MaxPool", {"x": _data(xs)}, outputs=2, opset=12,
             storage_order=storage_order, **attrs)  # fmt: skip


@pytest.mark.parametrize("dil", [[2, 2], [1, 3]])
def test_maxpool_dilations(dil):
    check_op("MaxPool", {"x": _data((1, 2, 9, 10))}, outputs=2, opset=12,
             kernel_shape=[2, 2], dilations=dil, pads=[1, 1, 0, 1])  # fmt: skip


def test_maxpool_int8_and_opset8():
    x = np.random.default_rng(0).integers(-128, 127, (1, 2, 6, 6), dtype=np.int8)
    check_op("MaxPool", {"x": x}, opset=12, kernel_shape=[2, 2], pads=[1, 1, 1, 1])
    check_op(
        "MaxPool", {"x": _data((1, 2, 6, 6))}, outputs=2, opset=8, kernel_shape=[2, 2]
    )


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lppool(p):
    # Powers and roots add a few ulps over the plain window sum.
    check_op("LpPool", {"x": _data((1, 3, 7, 8))}, opset=11, rtol=1e-5, atol=1e-6,
             kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1], p=p)  # fmt: skip


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 4, 9), (1, 2, 3, 4, 5)])
def test_global_pools(op, shape):
    check_op(op, {"x": _data(shape)}, opset=11, rtol=1e-6, atol=1e-6)


def test_maxunpool_roundtrip():
    x = _data((1, 2, 6, 6))
    from wasm_rt.registry import KernelContext, resolve

    ctx = KernelContext("n", "MaxPool", 12, 2, ("y", "i"))
    y, idx = resolve("", "MaxPool", 12).fn(ctx, x, kernel_shape=[2, 2], strides=[2, 2])
    check_op(
        "MaxUnpool", {"y": y, "i": idx}, opset=11, kernel_shape=[2, 2], strides=[2, 2]
    )


@pytest.mark.parametrize("include_pad", [0, 1])
@pytest.mark.parametrize("ceil_mode", [0, 1])
def test_averagepool_19_dilations(include_pad, ceil_mode):
    check_op("AveragePool", {"x": _data((1, 2, 9, 10))}, opset=19, rtol=1e-6, atol=1e-6,
             kernel_shape=[2, 3], dilations=[2, 2], strides=[2, 2], pads=[1, 1, 1, 0],
             count_include_pad=include_pad, ceil_mode=ceil_mode)  # fmt: skip
