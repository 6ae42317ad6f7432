"""Quantization kernels against onnxruntime, plus the official node cases.

Quantized outputs are integers and must match exactly (the rounding of x/scale
is computed in float32 on both runtimes).  Dequantized outputs are one
float32 multiply of exact integers, so they must match exactly too.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from _node_cases import node_cases
from _numeric_cases import compare, numeric_cases, run_case
from onnx import numpy_helper
from oracle import check_op

from wasm_rt import dtypes, lowprec

from wasm_rt.errors import NotImplemented as NotImplementedErr
from wasm_rt.registry import resolve

OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}
RUNNABLE, EXOTIC = numeric_cases(OPS)
RNG = np.random.default_rng(3)
F32 = np.float32
QTYPES = [np.uint8, np.int8, np.uint16, np.int16]


@pytest.mark.parametrize("case", RUNNABLE, ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


EXOTIC_CASES = [c for c in node_cases(OPS) if c.name in set(EXOTIC)]


@pytest.mark.parametrize("case", EXOTIC_CASES, ids=lambda c: c.name)
def test_onnx_node_case_low_precision(case):
    """float8/int4/int2/float4 cases: the kernels take wasm_rt's structured
    arrays; the expected values are compared bit-exactly through float32."""
    for inputs, outputs in case.data_sets:
        ins = [lowprec.from_ml_dtypes(numpy_helper.to_array(v) if isinstance(v, onnx.TensorProto) else v) for v in inputs]
        outs = [lowprec.from_ml_dtypes(numpy_helper.to_array(v) if isinstance(v, onnx.TensorProto) else v) for v in outputs]
        lowcase = SimpleNamespace(name=case.name, model=case.model, data_sets=[(ins, outs)])
        for expected, got in run_case(lowcase):
            for e, g in zip(expected, got):
                assert g.dtype == e.dtype and g.shape == e.shape
                as_f32 = lowprec.to_float32 if dtypes.is_lowprec(e.dtype) else np.asarray
                np.testing.assert_array_equal(as_f32(g), as_f32(e))


def x_data(shape=(2, 3, 4)):
    x = RNG.uniform(-300, 300, size=shape).astype(F32)
    x.flat[:4] = [0.5, 1.5, -2.5, 2.5]  # ties round half to even
    return x


# --- QuantizeLinear -----------------------------------------------------------


@pytest.mark.parametrize("opset", [10, 13, 19, 21])
@pytest.mark.parametrize("qtype", QTYPES, ids=lambda t: np.dtype(t).name)
def test_quantize_per_tensor(qtype, opset):
    if opset < 21 and qtype in (np.uint16, np.int16):
        pytest.skip("16-bit quantization exists from opset 21")
    zp = np.array(3 if np.dtype(qtype).kind == "u" else -3, qtype)
    inputs = {"x": x_data(), "scale": np.array(1.7, F32), "zp": zp}
    check_op("QuantizeLinear", inputs, opset=opset)


@pytest.mark.parametrize("opset", [10, 21])
def test_quantize_without_zero_point_is_uint8(opset):
    check_op(
        "QuantizeLinear", {"x": x_data(), "scale": np.array(2.0, F32)}, opset=opset
    )


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("opset", [13, 21])
def test_quantize_per_axis(axis, opset):
    x = x_data()
    n = x.shape[axis]
    inputs = {
        "x": x,
        "scale": RNG.uniform(0.5, 3, n).astype(F32),
        "zp": RNG.integers(-10, 10, n).astype(np.int8),
    }
    check_op("QuantizeLinear", inputs, opset=opset, axis=axis)


@pytest.mark.parametrize("block_size", [2, 3])
def test_quantize_blocked(block_size):
    x = x_data((2, 6, 3))
    blocks = -(-6 // block_size)
    inputs = {
        "x": x,
        "scale": RNG.uniform(0.5, 3, (2, blocks, 3)).astype(F32),
        "zp": RNG.integers(-10, 10, (2, blocks, 3)).astype(np.int8),
    }
    check_op("QuantizeLinear", inputs, opset=21, axis=1, block_size=block_size)


def test_quantize_output_dtype_attr():
    inputs = {"x": x_data(), "scale": np.array(1.5, F32)}
    check_op("QuantizeLinear", inputs, opset=21, output_dtype=3)  # int8


def test_quantize_float16_and_empty():
    x = x_data().astype(np.float16)
    inputs = {"x": x, "scale": np.array(2.0, np.float16), "zp": np.array(1, np.int8)}
    check_op("QuantizeLinear", inputs, opset=21)
    empty = {
        "x": np.zeros((0, 3), F32),
        "scale": np.array(1.0, F32),
        "zp": np.array(0, np.uint8),
    }
    check_op("QuantizeLinear", empty, opset=21)


def test_quantize_to_unknown_type_is_not_implemented():
    kernel = resolve("", "QuantizeLinear", 21).fn
    with pytest.raises(NotImplementedErr, match="float6e2m3"):
        kernel(x_data(), np.array(1.0, F32), output_dtype=27)


def test_quantize_per_axis_bad_scale_shape():
    kernel = resolve("", "QuantizeLinear", 13).fn
    with pytest.raises(ValueError, match="per-axis y_scale must be 1-D of length 3"):
        kernel(x_data(), np.ones(5, F32), axis=1)


# --- DequantizeLinear ---------------------------------------------------------


@pytest.mark.parametrize("opset", [10, 13, 19, 21])
@pytest.mark.parametrize("qtype", QTYPES + [np.int32], ids=lambda t: np.dtype(t).name)
def test_dequantize_per_tensor(qtype, opset):
    if opset < 21 and qtype in (np.uint16, np.int16):
        pytest.skip("16-bit quantization exists from opset 21")
    info = np.iinfo(qtype)
    x = RNG.integers(max(info.min, -1000), min(info.max, 1000), size=(3, 4)).astype(
        qtype
    )
    inputs = {"x": x, "scale": np.array(0.37, F32)}
    if qtype != np.int32:  # int32 input takes no zero point in onnxruntime
        inputs["zp"] = np.array(2, qtype)
    check_op("DequantizeLinear", inputs, opset=opset)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_dequantize_per_axis(axis):
    x = RNG.integers(0, 255, size=(2, 3, 4)).astype(np.uint8)
    n = x.shape[axis]
    inputs = {
        "x": x,
        "scale": RNG.uniform(0.1, 2, n).astype(F32),
        "zp": RNG.integers(0, 20, n).astype(np.uint8),
    }
    check_op("DequantizeLinear", inputs, opset=13, axis=axis)


def test_dequantize_blocked():
    x = RNG.integers(-100, 100, size=(4, 6)).astype(np.int8)
    inputs = {
        "x": x,
        "scale": RNG.uniform(0.1, 2, (4, 2)).astype(F32),
        "zp": RNG.integers(-5, 5, (4, 2)).astype(np.int8),
    }
    check_op("DequantizeLinear", inputs, opset=21, axis=1, block_size=3)


def test_dequantize_float16_scale():
    x = RNG.integers(-100, 100, size=(3, 4)).astype(np.int8)
    inputs = {"x": x, "scale": np.array(0.25, np.float16), "zp": np.array(1, np.int8)}
    check_op("DequantizeLinear", inputs, opset=21)


# --- DynamicQuantizeLinear ----------------------------------------------------


@pytest.mark.parametrize(
    "x",
    [
        RNG.uniform(-5, 5, (3, 4)).astype(F32),
        RNG.uniform(1, 5, (10,)).astype(F32),  # all positive: range starts at 0
        -RNG.uniform(1, 5, (10,)).astype(F32),  # all negative: range ends at 0
        np.zeros((2, 3), F32),  # zero range: scale 1
        np.zeros((0, 3), F32),
    ],
    ids=["mixed", "positive", "negative", "zeros", "empty"],
)
def test_dynamic_quantize_linear(x):
    check_op("DynamicQuantizeLinear", {"x": x}, outputs=3, opset=11)
