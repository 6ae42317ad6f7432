"""Weight-only QDQ (int4/uint4 blocked, 2/8-bit, per tensor/column) -> MatMulNBits.

onnxruntime's QDQ transformer rewrites DequantizeLinear(weight) -> MatMul/Gemm
into MatMulNBits; wasm_rt does too (wasm_rt/optimizer/dq_matmul_nbits.py), so
the weight stays packed instead of being folded to float32. wasm_rt's
MatMulNBits computes in float32 (the dequantized values are exactly
DequantizeLinear's), which is onnxruntime's accuracy_level 0: compared with
onnxruntime run with session.qdq_matmulnbits_accuracy_level = "0", and with
the unfused graph (ORT_DISABLE_ALL), to float32 summation-order rounding.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto as T
from onnx import helper

import wasm_rt
from wasm_rt import GraphOptimizationLevel as Level

_TYPES = {"int4": (T.INT4, -8, 8), "uint4": (T.UINT4, 0, 16), "int8": (T.INT8, -128, 128),
          "uint8": (T.UINT8, 0, 256), "int2": (T.INT2, -2, 2), "uint2": (T.UINT2, 0, 4)}


def _model(k, n, wtype="int4", bs=32, zp=True, gran="block", op="MatMul", bias=False, seed=0):
    rng = np.random.default_rng(seed)
    dt, lo, hi = _TYPES[wtype]
    if gran == "block":
        sshape, attrs = (-(-k // bs), n), {"axis": 0, "block_size": bs}
    elif gran == "column":
        sshape, attrs = (n,), {"axis": 1}
    else:
        sshape, attrs = (), {}
    scale = (rng.random(sshape) * 0.05 + 0.01).astype(np.float32)
    inits = [
        helper.make_tensor("W", dt, (k, n), rng.integers(lo, hi, (k, n)).ravel().tolist()),
        helper.make_tensor("S", T.FLOAT, sshape, np.atleast_1d(scale).ravel().tolist()),
    ]
    dq_in = ["W", "S"]
    if zp:
        z = rng.integers(lo, hi, sshape)
        inits.append(helper.make_tensor("Z", dt, sshape, np.atleast_1d(z).ravel().tolist()))
        dq_in.append("Z")
    mm_in = ["A", "Wf"]
    if bias:
        inits.append(helper.make_tensor("C", T.FLOAT, (n,), rng.standard_normal(n).tolist()))
        mm_in.append("C")
    nodes = [helper.make_node("DequantizeLinear", dq_in, ["Wf"], **attrs),
             helper.make_node(op, mm_in, ["Y"])]
    graph = helper.make_graph(
        nodes, "w4", [helper.make_tensor_value_info("A", T.FLOAT, [None, k])],
        [helper.make_tensor_value_info("Y", T.FLOAT, [None, n])], inits)
    opset = 25 if wtype.endswith("2") else 21
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=11
    ).SerializeToString()


def _ort(model, a, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL, accuracy="0"):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", accuracy)
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"A": a})[0]


def _ours(model, a, level=Level.ORT_ENABLE_ALL):
    so = wasm_rt.SessionOptions()
    so.graph_optimization_level = level
    sess = wasm_rt.InferenceSession(model, sess_options=so)
    ops = {n.op_type for n in sess._graph.nodes}
    weight_bytes = sum(v.nbytes for v in sess._graph.initializers.values())
    return sess.run(None, {"A": a})[0], ops, weight_bytes


CASES = [
    {"wtype": "int4"}, {"wtype": "uint4"}, {"wtype": "int4", "zp": False},
    {"wtype": "uint4", "zp": False}, {"wtype": "int4", "bs": 16, "k": 70},
    {"wtype": "uint4", "bs": 128, "k": 200}, {"wtype": "int8"}, {"wtype": "uint8", "zp": False},
    {"wtype": "int2", "bs": 64}, {"wtype": "uint2"}, {"wtype": "int4", "gran": "column"},
    {"wtype": "uint8", "gran": "tensor"}, {"wtype": "int4", "op": "Gemm", "bias": True},
    {"wtype": "uint4", "op": "Gemm"},
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_weight_only_qdq_becomes_matmul_nbits(case):
    case = dict(case)
    k = case.pop("k", 96)
    model = _model(k, 40, **case)
    a = np.random.default_rng(1).standard_normal((5, k)).astype(np.float32)
    got, ops, _ = _ours(model, a)
    assert ops == {"MatMulNBits"}
    unfused, ops0, _ = _ours(model, a, Level.ORT_DISABLE_ALL)
    assert "MatMulNBits" not in ops0
    want = _ort(model, a)
    # Same dequantized values, float32 sums in another order: |err| ~ K * eps * |terms|.
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, unfused, rtol=1e-5, atol=1e-5)


def test_resident_weights_stay_packed():
    k, n = 512, 256
    model = _model(k, n, wtype="int4", bs=32)
    a = np.random.default_rng(2).standard_normal((2, k)).astype(np.float32)
    _, _, fused = _ours(model, a)
    _, ops, folded = _ours(model, a, Level.ORT_ENABLE_BASIC)
    assert "MatMulNBits" not in ops
    packed = k * n // 2 + (k // 32) * n * 4 + (k // 32) * n // 2  # B, scales, zero points
    assert fused == packed
    assert folded >= k * n * 4  # the float32 matrix constant folding makes


def test_dq_read_elsewhere_stays_unfused():
    """A DQ output with a second reader is not the weight-only pattern."""
    model = _model(64, 16)
    import onnx

    m = onnx.load_from_string(model)
    m.graph.node.append(helper.make_node("Identity", ["Wf"], ["W_copy"]))
    m.graph.output.append(helper.make_tensor_value_info("W_copy", T.FLOAT, [64, 16]))
    a = np.ones((1, 64), np.float32)
    so = wasm_rt.SessionOptions()
    sess = wasm_rt.InferenceSession(m.SerializeToString(), sess_options=so)
    assert "MatMulNBits" not in {n.op_type for n in sess._graph.nodes}
    got = sess.run(None, {"A": a})
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"A": a})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("accuracy", ["4"])
def test_onnxruntime_accuracy_level_4_differs_by_int8_rounding_of_a(accuracy):
    """onnxruntime's default (level 4) quantizes A to int8 per block; wasm_rt's float32
    product stays within that rounding (|dA| <= max|A| / 254 per block) of it."""
    k, n = 256, 64
    model = _model(k, n, wtype="int4", bs=32)
    a = np.random.default_rng(3).standard_normal((4, k)).astype(np.float32)
    got, _, _ = _ours(model, a)
    want4 = _ort(model, a, accuracy=accuracy)
    # Bound: sum_k |dA_k| * |W_kn| with |dA| <= amax(A)/254 per block, |W| <= 16 * max scale.
    bound = k * (np.abs(a).max() / 254) * 16 * 0.06
    err = np.abs(got - want4).max()
    assert 0 < err < bound


def test_matmul_nbits_quantizer_qdq_model():
    """onnxruntime's own int4 QDQ tool: weights stay packed, results as onnxruntime's."""
    mnq = pytest.importorskip("onnxruntime.quantization.matmul_nbits_quantizer")
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantFormat

    rng = np.random.default_rng(4)
    k, f = 128, 256
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    inits = [
        numpy_helper.from_array((rng.standard_normal(shape) * shape[0] ** -0.5).astype(np.float32), n)
        for n, shape in (("w1", (k, f)), ("w2", (f, k)))
    ]
    graph = helper.make_graph(
        nodes, "ffn", [helper.make_tensor_value_info("x", T.FLOAT, [None, k])],
        [helper.make_tensor_value_info("y", T.FLOAT, [None, k])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    quant = mnq.MatMulNBitsQuantizer(model, block_size=32, is_symmetric=False,
                                     quant_format=QuantFormat.QDQ)
    quant.process()
    data = quant.model.model.SerializeToString()
    x = rng.standard_normal((3, k)).astype(np.float32)
    so = ort.SessionOptions()
    so.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "0")
    want = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    sess = wasm_rt.InferenceSession(data)
    assert {n.op_type for n in sess._graph.nodes} == {"MatMulNBits", "Relu"}
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], want[0], rtol=1e-5, atol=1e-5)
    resident = sum(v.nbytes for v in sess._graph.initializers.values())
    # Two weights: their nibbles, float32 scales and nibble zero points (one per block).
    packed = 2 * (k * f // 2 + k * f // 32 * 4 + k * f // 32 // 2)
    assert resident == packed


def test_float16_scales_and_activations():
    """float16 A and scales: onnxruntime casts around a float32 MatMulNBits; wasm_rt's
    kernel computes in float32 and rounds once, the same values."""
    rng = np.random.default_rng(6)
    k, n, bs = 64, 24, 32
    scale = (rng.random((k // bs, n)) * 0.05 + 0.01).astype(np.float16)
    inits = [helper.make_tensor("W", T.INT4, (k, n), rng.integers(-8, 8, k * n).tolist()),
             helper.make_tensor("S", T.FLOAT16, scale.shape, scale.astype(np.float32).ravel())]
    nodes = [helper.make_node("DequantizeLinear", ["W", "S"], ["Wf"], axis=0, block_size=bs),
             helper.make_node("MatMul", ["A", "Wf"], ["Y"])]
    graph = helper.make_graph(
        nodes, "w4h", [helper.make_tensor_value_info("A", T.FLOAT16, [None, k])],
        [helper.make_tensor_value_info("Y", T.FLOAT16, [None, n])], inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10).SerializeToString()
    a = rng.standard_normal((3, k)).astype(np.float16)
    got, ops, _ = _ours(model, a)
    assert "MatMulNBits" in ops and got.dtype == np.float16
    np.testing.assert_array_equal(got, _ort(model, a))


def test_patterns_onnxruntime_leaves_alone_stay_unfused():
    """onnxruntime fuses per-column weights only with axis 1 and blocked ones only
    along axis 0; the rest is folded to float32 as before (same results)."""
    import onnx

    for axis, bs in ((-1, 0), (1, 32)):
        m = onnx.load_from_string(_model(64, 32, gran="column" if not bs else "block"))
        dq = m.graph.node[0]
        del dq.attribute[:]
        dq.attribute.append(helper.make_attribute("axis", axis))
        if bs:  # blocked along N: scales [K, N / bs]
            dq.attribute.append(helper.make_attribute("block_size", bs))
            m.graph.initializer[1].CopyFrom(helper.make_tensor("S", T.FLOAT, (64, 1), [0.02] * 64))
            m.graph.initializer[2].CopyFrom(
                helper.make_tensor("Z", T.INT4, (64, 1), [1] * 64))
        data = m.SerializeToString()
        a = np.random.default_rng(7).standard_normal((2, 64)).astype(np.float32)
        got, ops, _ = _ours(data, a)
        assert "MatMulNBits" not in ops
        np.testing.assert_allclose(got, _ort(data, a), rtol=1e-5, atol=1e-5)
