"""QDQ fusion (wasm_rt/optimizer/qdq_fusion.py) against onnxruntime.

Static QDQ models made by onnxruntime.quantization.quantize_static (uint8
activations, int8 weights, per tensor and per channel) run fused at the
extended level and above; onnxruntime runs the same fused integer kernels
(its QDQ transformer), so the outputs must be equal bit for bit. Without
fusion (ORT_DISABLE_ALL on both sides) the float ops between DQ and Q run.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import wasm_rt
from wasm_rt import GraphOptimizationLevel as Level

RNG = np.random.default_rng(5)


def _init(name, shape, scale=1.0):
    return numpy_helper.from_array(
        (RNG.standard_normal(shape) * scale).astype(np.float32), name
    )


def _ffn(rows=6, d=16, ff=40):
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["y0"]),
        helper.make_node("Mul", ["y0", "x"], ["y1"]),
        helper.make_node("Reshape", ["y1", "shape"], ["y2"]),
        helper.make_node("Transpose", ["y2"], ["y3"], perm=[1, 0, 2]),
        helper.make_node("Softmax", ["y3"], ["y"], axis=-1),
    ]
    inits = [
        _init("w1", (d, ff), d**-0.5),
        _init("b1", (ff,), 0.1),
        _init("w2", (ff, d), ff**-0.5),
        numpy_helper.from_array(np.array([rows, 2, d // 2], np.int64), "shape"),
    ]
    graph = helper.make_graph(
        nodes,
        "ffn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return graph, {"x": (rows, d)}


def _convnet():
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node(
            "Conv",
            ["r1", "w2", "b2"],
            ["c2"],
            group=4,
            strides=[2, 2],
            pads=[1, 1, 1, 1],
        ),
        helper.make_node(
            "MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]
        ),
        helper.make_node("Add", ["c2", "p1"], ["s"]),
        helper.make_node("Sigmoid", ["s"], ["g"]),
        helper.make_node("Concat", ["g", "s"], ["cat"], axis=1),
        helper.make_node("GlobalAveragePool", ["cat"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["f"]),
        helper.make_node("Gemm", ["f", "wg", "bg"], ["y"], transB=1),
    ]
    inits = [
        _init("w1", (8, 3, 3, 3), 0.3),
        _init("b1", (8,), 0.1),
        _init("w2", (8, 2, 3, 3), 0.3),
        _init("b2", (8,), 0.1),
        _init("wg", (5, 16), 0.3),
        _init("bg", (5,), 0.1),
    ]
    graph = helper.make_graph(
        nodes,
        "convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
        inits,
    )
    return graph, {"x": (2, 3, 12, 12)}


def _quantized(tmp_path, build, per_channel):
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    graph, shapes = build()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    src, dst = tmp_path / "f32.onnx", tmp_path / "qdq.onnx"
    onnx.save(model, src)
    rng = np.random.default_rng(1)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(
                [
                    {
                        k: rng.standard_normal(s).astype(np.float32)
                        for k, s in shapes.items()
                    }
                    for _ in range(4)
                ]
            )

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(
        src,
        dst,
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
    )
    feeds = {
        k: rng.standard_normal(s).astype(np.float32) * 1.3 for k, s in shapes.items()
    }
    return dst.read_bytes(), feeds


def _run_ort(model, feeds, level):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"]).run(
        None, feeds
    )


def _run_ours(model, feeds, level):
    so = wasm_rt.SessionOptions()
    so.graph_optimization_level = level
    sess = wasm_rt.InferenceSession(model, sess_options=so)
    ops = {
        f"{n.domain}:{n.op_type}" if n.domain else n.op_type for n in sess._graph.nodes
    }
    return sess.run(None, feeds), ops


FUSED = {
    "ffn": {"QLinearMatMul", "com.microsoft:QLinearAdd", "com.microsoft:QLinearMul",
            "com.microsoft:QLinearSoftmax"},
    "convnet": {"QLinearConv", "com.microsoft:QLinearAdd", "com.microsoft:QLinearSigmoid",
                "com.microsoft:QLinearConcat", "com.microsoft:QLinearGlobalAveragePool",
                "com.microsoft:QGemm"},
}  # fmt: skip


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("name,build", [("ffn", _ffn), ("convnet", _convnet)])
def test_fused_qdq_model_equals_onnxruntime(tmp_path, name, build, per_channel):
    model, feeds = _quantized(tmp_path, build, per_channel)
    got, ops = _run_ours(model, feeds, Level.ORT_ENABLE_ALL)
    assert FUSED[name] <= ops, f"not fused: {FUSED[name] - ops}"
    # The data-movement ops between equal DQ/Q pairs run on the 8-bit values.
    assert "MatMul" not in ops and "Conv" not in ops and "Gemm" not in ops
    want = _run_ort(model, feeds, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("name,build", [("ffn", _ffn), ("convnet", _convnet)])
def test_unfused_qdq_model_runs_the_float_ops(tmp_path, name, build):
    model, feeds = _quantized(tmp_path, build, False)
    got, ops = _run_ours(model, feeds, Level.ORT_DISABLE_ALL)
    assert "DequantizeLinear" in ops and not ops & FUSED[name]
    want = _run_ort(model, feeds, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    for w, g in zip(want, got):
        # Float ops in between: float32 summation order, then at most a code
        # of requantization apart, which a final DQ scales (inputs are O(1)).
        np.testing.assert_allclose(g, w, rtol=0, atol=0.05 * np.abs(w).max() + 1e-6)


def test_int8_activations_stay_unfused(tmp_path):
    # onnxruntime's x86/wasm builds fuse MatMul/Conv only for uint8 activations.
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    graph, shapes = _ffn()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    src, dst = tmp_path / "f32.onnx", tmp_path / "qdq.onnx"
    onnx.save(model, src)
    rng = np.random.default_rng(2)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(
                [{"x": rng.standard_normal(shapes["x"]).astype(np.float32)}]
            )

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)  # fmt: skip
    feeds = {"x": rng.standard_normal(shapes["x"]).astype(np.float32)}
    got, ops = _run_ours(dst.read_bytes(), feeds, Level.ORT_ENABLE_ALL)
    assert "MatMul" in ops and "QLinearMatMul" not in ops
    want = _run_ort(dst.read_bytes(), feeds, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)


def test_quantize_linear_of_a_scalar():
    from wasm_rt.registry import resolve

    q = resolve("", "QuantizeLinear", 13).fn(
        np.array(1.26, np.float32), np.array(0.1, np.float32), np.array(3, np.uint8)
    )
    assert q.shape == () and q.dtype == np.uint8 and int(q) == 16


@pytest.mark.parametrize("per_channel", [False, True])
def test_dynamic_int8_products_fuse_to_matmul_integer_to_float(tmp_path, per_channel):
    # quantize_dynamic's DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul [-> Add]
    # becomes MatMulIntegerToFloat: the same float32 operations, so the fused model
    # equals the unfused one bit for bit.
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph, shapes = _ffn()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    src, dst = tmp_path / "f32.onnx", tmp_path / "dyn.onnx"
    onnx.save(model, src)
    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=per_channel)
    data = dst.read_bytes()
    feeds = {"x": np.random.default_rng(4).standard_normal(shapes["x"]).astype(np.float32)}
    fused, ops = _run_ours(data, feeds, Level.ORT_ENABLE_ALL)
    assert "com.microsoft:MatMulIntegerToFloat" in ops and "MatMulInteger" not in ops
    assert "Cast" not in ops
    plain, plain_ops = _run_ours(data, feeds, Level.ORT_ENABLE_BASIC)
    assert "MatMulInteger" in plain_ops
    want = _run_ort(data, feeds, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    for w, f, p in zip(want, fused, plain):
        np.testing.assert_array_equal(f, p)
        # The float Softmax at the end: exp and the sum differ in the last bits.
        np.testing.assert_allclose(f, w, rtol=1e-6, atol=1e-7)
