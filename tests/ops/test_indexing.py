"""Indexing kernels against onnxruntime, the ONNX node cases, and bad-index errors."""

from __future__ import annotations

import numpy as np
import pytest
from _node_cases import compare, node_cases, run_case
from oracle import check_op, single_node_model

import wasm_rt

INDEXING_OPS = {
    "Gather", "GatherElements", "GatherND", "ScatterND", "ScatterElements",
    "Scatter", "NonZero", "OneHot", "Trilu", "Compress", "Unique",
}  # fmt: skip

F32 = np.float32
I64 = np.int64


def arange(*shape, dtype=F32):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


@pytest.mark.parametrize("case", list(node_cases(INDEXING_OPS)), ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("indices", [[[0, -1], [2, 1]], [-3], 1, []])
def test_gather(opset, axis, indices):
    idx = (
        np.array(indices, I64).reshape(np.shape(indices))
        if indices != []
        else np.zeros(0, I64)
    )
    check_op("Gather", {"x": arange(3, 3, 4), "i": idx}, opset=opset, axis=axis)


def test_gather_int32_indices():
    check_op("Gather", {"x": arange(5), "i": np.array([4, -5], np.int32)}, opset=13)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements(axis):
    idx = np.array([[0, -1, 1], [2, 0, -2]], I64)
    check_op("GatherElements", {"x": arange(3, 3), "i": idx}, opset=13, axis=axis)


@pytest.mark.parametrize(
    "shape, indices, batch_dims",
    [
        ((2, 3), [[0, 1], [1, -1]], 0),
        ((2, 3, 4), [[1], [0]], 0),
        ((2, 3, 4), [[1, 2], [0, -1]], 1),
        ((2, 3, 4), [[[0], [2]], [[1], [1]]], 1),
        ((2, 3, 4), [[[1], [3], [0]], [[2], [-1], [0]]], 2),
    ],
)
def test_gather_nd(shape, indices, batch_dims):
    inputs = {"x": arange(*shape), "i": np.array(indices, I64)}
    check_op("GatherND", inputs, opset=13, batch_dims=batch_dims)


@pytest.mark.parametrize(
    "opset, reduction", [(13, None), (16, "add"), (16, "mul"), (18, "max"), (18, "min")]
)
def test_scatter_elements(opset, reduction):
    attrs = {} if reduction is None else {"reduction": reduction}
    # Duplicates only where a reduction makes the result well defined.
    idx = np.array([[1, 0, 2], [0, 2, 1]], I64)
    if reduction is not None:
        idx = np.array([[1, 1, -1], [0, 0, 0]], I64)
    inputs = {"x": arange(3, 3), "i": idx, "u": arange(2, 3) + 1}
    check_op("ScatterElements", inputs, opset=opset, axis=0, **attrs)


def test_scatter_elements_negative_axis():
    inputs = {
        "x": arange(3, 3),
        "i": np.array([[-1], [0]], I64),
        "u": np.ones((2, 1), F32),
    }
    check_op("ScatterElements", inputs, opset=13, axis=-1)


@pytest.mark.parametrize(
    "opset, reduction", [(13, None), (16, "add"), (16, "mul"), (18, "max"), (18, "min")]
)
def test_scatter_nd(opset, reduction):
    attrs = {} if reduction is None else {"reduction": reduction}
    idx = (
        np.array([[0], [2]], I64)
        if reduction is None
        else np.array([[0], [0], [2]], I64)
    )
    inputs = {"x": arange(4, 3), "i": idx, "u": arange(idx.shape[0], 3) + 1}
    check_op("ScatterND", inputs, opset=opset, **attrs)


@pytest.mark.parametrize(
    "x",
    [
        np.array([[1, 0], [0, 3]], F32),
        np.zeros((2, 0), F32),
        np.array([0, 2, 0], np.int32),
    ],
)
def test_non_zero(x):
    check_op("NonZero", {"x": x}, opset=13)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    inputs = {
        "i": np.array([[0, 2], [-1, 5]], I64),  # 5 is out of range: an all-off row
        "d": np.array(3, I64),
        "v": np.array([0, 7], F32),
    }
    check_op("OneHot", inputs, opset=11, axis=axis)


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, -1, 0, 2])
def test_trilu(upper, k):
    inputs = {"x": arange(2, 3, 4)}
    if k is not None:
        inputs["k"] = np.array(k, I64)
    check_op("Trilu", inputs, opset=14, upper=upper)


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_compress(axis):
    attrs = {} if axis is None else {"axis": axis}
    inputs = {
        "x": arange(3, 2),
        "c": np.array([True, False, True])[: 2 if axis == -1 else 3],
    }
    check_op("Compress", inputs, opset=11, **attrs)


@pytest.mark.parametrize("sorted_", [0, 1])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_unique(sorted_, axis):
    attrs = {"sorted": sorted_}
    if axis is not None:
        attrs["axis"] = axis
    x = np.array([[2, 1, 2], [0, 1, 0], [2, 1, 2]], F32)
    check_op("Unique", {"x": x}, outputs=4, opset=11, **attrs)


def test_unique_fewer_outputs():
    check_op("Unique", {"x": np.array([3, 1, 3, 2], I64)}, outputs=1, opset=11)


# --- Errors ------------------------------------------------------------------


def _run(op, inputs, **attrs):
    model = single_node_model(op, inputs, opset=18, **attrs)
    return wasm_rt.InferenceSession(model).run(None, inputs)


@pytest.mark.parametrize(
    "op, inputs",
    [
        ("Gather", {"x": arange(3, 2), "i": np.array([3], I64)}),
        ("Gather", {"x": arange(3, 2), "i": np.array([-4], I64)}),
        ("GatherElements", {"x": arange(3, 2), "i": np.array([[0, 5]], I64)}),
        ("GatherND", {"x": arange(3, 2), "i": np.array([[0, 2]], I64)}),
        (
            "ScatterND",
            {"x": arange(3), "i": np.array([[-4]], I64), "u": np.ones(1, F32)},
        ),
        (
            "ScatterElements",
            {"x": arange(3), "i": np.array([3], I64), "u": np.ones(1, F32)},
        ),
    ],
)
def test_out_of_range_index_raises(op, inputs):
    with pytest.raises(wasm_rt.WasmRtError, match="out of range"):
        _run(op, inputs)


def test_one_hot_over_limit():
    inputs = {
        "i": np.zeros(1 << 10, I64),
        "d": np.array(1 << 20, I64),
        "v": np.array([0, 1], F32),
    }
    model = single_node_model("OneHot", inputs, opset=11)
    so = wasm_rt.SessionOptions()
    so.memory_limit = 1 << 20
    with pytest.raises(wasm_rt.MemoryLimitError):
        wasm_rt.InferenceSession(model, so).run(None, inputs)
