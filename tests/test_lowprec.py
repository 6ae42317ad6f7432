"""Low-precision element types (bfloat16, float8*, float8e8m0, float4e2m1,
int4/uint4, int2/uint2) held as structured numpy arrays, without ml_dtypes.

Conversions are checked bit-exactly against ml_dtypes (what ONNX's reference
implementation uses) on every code and on many float32 values; float8e8m0
against onnx.numpy_helper.to_float8e8m0 (the spec's reference, which ml_dtypes
does not follow for rounding).  Cast and QuantizeLinear/DequantizeLinear are
checked against onnxruntime with the low-precision tensor inside the model
(onnxruntime's Python API cannot feed or return most of these types).
"""

from __future__ import annotations

import ml_dtypes as mld
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

import wasm_rt
from wasm_rt import dtypes, lowprec
from wasm_rt.errors import InvalidGraph
from wasm_rt.errors import NotImplemented as NotImplementedErr
from wasm_rt.proto import onnx_ir_pb2 as pb
from wasm_rt.tensor import tensor_from_proto, tensor_to_proto

PAIRS = {
    TP.BFLOAT16: (dtypes.bfloat16, mld.bfloat16),
    TP.FLOAT8E4M3FN: (dtypes.float8e4m3fn, mld.float8_e4m3fn),
    TP.FLOAT8E4M3FNUZ: (dtypes.float8e4m3fnuz, mld.float8_e4m3fnuz),
    TP.FLOAT8E5M2: (dtypes.float8e5m2, mld.float8_e5m2),
    TP.FLOAT8E5M2FNUZ: (dtypes.float8e5m2fnuz, mld.float8_e5m2fnuz),
    TP.FLOAT8E8M0: (dtypes.float8e8m0, mld.float8_e8m0fnu),
    TP.FLOAT4E2M1: (dtypes.float4e2m1, mld.float4_e2m1fn),
    TP.INT4: (dtypes.int4, mld.int4),
    TP.UINT4: (dtypes.uint4, mld.uint4),
    TP.INT2: (dtypes.int2, mld.int2),
    TP.UINT2: (dtypes.uint2, mld.uint2),
}
INTS = {TP.INT4: 4, TP.UINT4: 4, TP.INT2: 2, TP.UINT2: 2}
FLOAT8 = [TP.FLOAT8E4M3FN, TP.FLOAT8E4M3FNUZ, TP.FLOAT8E5M2, TP.FLOAT8E5M2FNUZ]
ids = {k: dtypes.type_name(k) for k in PAIRS}
RNG = np.random.default_rng(7)


def _all_codes(elem):
    ours, ml = PAIRS[elem]
    if ours == dtypes.bfloat16:
        return np.arange(1 << 16, dtype=np.uint16).view(ml)
    n = {4: 16, 2: 4}.get(INTS.get(elem), 16 if elem == TP.FLOAT4E2M1 else 256)
    return np.arange(n, dtype=np.uint8).view(ml)


def _many_floats(elem) -> np.ndarray:
    """Random values of every magnitude, the format's values, their midpoints
    and the neighbours of the midpoints (where rounding decides), and edges."""
    ref = _all_codes(elem).astype(np.float32)
    values = np.unique(ref[np.isfinite(ref)].astype(np.float64))
    mids = ((values[1:] + values[:-1]) / 2).astype(np.float32)
    parts = [RNG.standard_normal(20000).astype(np.float32) * s for s in (1e-3, 1, 1e3, 1e5)]
    parts.append(RNG.integers(0, 2**32, 50000, dtype=np.uint64).astype(np.uint32).view(np.float32))
    parts += [values.astype(np.float32), mids, np.nextafter(mids, np.float32(np.inf)),
              np.nextafter(mids, np.float32(-np.inf))]
    parts.append(np.array([0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-45], np.float32))
    x = np.concatenate(parts)
    if elem in INTS:  # ml_dtypes' float -> intN wraps through int64; keep it defined
        x = x[np.abs(x) < 1e9]
    return x


@pytest.mark.parametrize("elem", list(PAIRS), ids=ids.get)
def test_every_code_decodes_like_ml_dtypes(elem):
    codes = _all_codes(elem)
    st = lowprec.from_ml_dtypes(codes)
    assert st.dtype == PAIRS[elem][0] == dtypes.to_numpy(elem)
    np.testing.assert_array_equal(lowprec.to_float32(st), codes.astype(np.float32))
    # and back to ml_dtypes, bit for bit
    back = lowprec.to_ml_dtypes(st)
    assert back.dtype == codes.dtype
    np.testing.assert_array_equal(back.view(np.uint8 if back.itemsize == 1 else np.uint16),
                                  codes.view(np.uint8 if codes.itemsize == 1 else np.uint16))


@pytest.mark.parametrize("elem", [e for e in PAIRS if e != TP.FLOAT8E8M0], ids=ids.get)
def test_encoding_matches_ml_dtypes(elem):
    ours, ml = PAIRS[elem]
    x = _many_floats(elem)
    with np.errstate(all="ignore"):
        ref = lowprec.from_ml_dtypes(x.astype(ml))
        # float64 and float16 inputs too (both round through float32, as ml_dtypes does)
        ref64 = lowprec.from_ml_dtypes(x.astype(np.float64).astype(ml))
        x16 = x.astype(np.float16)
        ref16 = lowprec.from_ml_dtypes(x16.astype(ml))
    got = lowprec.from_float(x, ours, saturate=False)
    np.testing.assert_array_equal(lowprec.bits(got), lowprec.bits(ref))
    np.testing.assert_array_equal(lowprec.bits(lowprec.from_float(x.astype(np.float64), ours, saturate=False)), lowprec.bits(ref64))
    np.testing.assert_array_equal(lowprec.bits(lowprec.from_float(x16, ours, saturate=False)), lowprec.bits(ref16))


@pytest.mark.parametrize("elem", FLOAT8, ids=ids.get)
def test_saturating_float8_matches_onnx_reference(elem):
    ours, ml = PAIRS[elem]
    x = _many_floats(elem)
    ref = lowprec.from_ml_dtypes(numpy_helper.saturate_cast(x, ml))
    np.testing.assert_array_equal(lowprec.bits(lowprec.from_float(x, ours)), lowprec.bits(ref))
    # the spec's table: inf -> +-max, NaN stays NaN, no -0 for fnuz
    top = np.nanmax(_all_codes(elem).astype(np.float32)[np.isfinite(_all_codes(elem).astype(np.float32))])
    special = lowprec.to_float32(lowprec.from_float(np.array([np.inf, -np.inf, np.nan], np.float32), ours))
    np.testing.assert_array_equal(special, [top, -top, np.nan])


@pytest.mark.parametrize("saturate", [True, False])
@pytest.mark.parametrize("round_mode", ["up", "down", "nearest"])
def test_float8e8m0_matches_onnx_reference(saturate, round_mode):
    x = np.abs(_many_floats(TP.FLOAT8E8M0))
    ref = numpy_helper.to_float8e8m0(x, saturate, round_mode).view(np.uint8)
    if saturate:  # the spec's table (and onnxruntime): inf -> E8M0_MAX; the reference gives NaN
        ref = np.where(np.isinf(x), 0xFE, ref)
    got = lowprec.bits(lowprec.from_float(x, dtypes.float8e8m0, saturate, round_mode))
    np.testing.assert_array_equal(got, ref)


def test_structured_arrays_refuse_arithmetic():
    a = lowprec.from_float(np.ones(3, np.float32), dtypes.bfloat16)
    with pytest.raises(TypeError):
        a + a


# --- TensorProto storage ------------------------------------------------------


def _load(t: onnx.TensorProto) -> np.ndarray:
    p = pb.TensorProto()
    p.ParseFromString(t.SerializeToString())
    return tensor_from_proto(p)


@pytest.mark.parametrize("elem", list(PAIRS), ids=ids.get)
@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7])
@pytest.mark.parametrize("raw", [True, False], ids=["raw_data", "int32_data"])
def test_tensor_loading_and_writing(elem, count, raw):
    ours, ml = PAIRS[elem]
    vals = _all_codes(elem)[RNG.integers(0, len(_all_codes(elem)), count)]
    vals = vals.reshape(count, 1) if count % 2 == 0 else vals
    t = numpy_helper.from_array(vals, "t")  # raw_data, packed for sub-byte types
    if not raw:
        t = helper.make_tensor("t", elem, vals.shape, vals.astype(np.float32) if elem in INTS or elem == TP.BFLOAT16 else vals)
        assert not t.raw_data
    ref = numpy_helper.to_array(t)
    got = _load(t)
    assert got.dtype == ours and got.shape == ref.shape
    np.testing.assert_array_equal(lowprec.to_float32(got), ref.astype(np.float32))
    back = numpy_helper.to_array(onnx.load_tensor_from_string(tensor_to_proto(got, "t").SerializeToString()))
    np.testing.assert_array_equal(back.astype(np.float32), ref.astype(np.float32))


@pytest.mark.parametrize(("elem", "count", "nbytes", "need"), [
    (TP.INT4, 3, 1, 2), (TP.UINT2, 5, 1, 2), (TP.FLOAT4E2M1, 2, 2, 1), (TP.BFLOAT16, 2, 3, 4),
])
def test_tensor_size_mismatch_is_refused(elem, count, nbytes, need):
    t = onnx.TensorProto(name="w", data_type=elem, dims=[count], raw_data=b"\x01" * nbytes)
    with pytest.raises(InvalidGraph, match=f"needs {need} bytes"):
        _load(t)


def test_pack_unpack_odd_counts():
    v = np.array([-8, 7, -1, 3, 0], np.int8)
    packed = lowprec.pack_4bit(v)
    assert packed.tolist() == [0x78, 0x3F, 0x00]
    np.testing.assert_array_equal(lowprec.unpack_4bit(packed, 5, signed=True), v)
    v2 = np.array([-2, 1, -1, 0, 1], np.int8)
    packed = lowprec.pack_2bit(v2)
    assert packed.tolist() == [0b00110110, 0b01]
    np.testing.assert_array_equal(lowprec.unpack_2bit(packed, 5, signed=True), v2)


# --- the public API --------------------------------------------------------------


def _identity_model(elem, shape=(2, 3)) -> bytes:
    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", elem, shape)],
        [helper.make_tensor_value_info("y", elem, shape)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)]).SerializeToString()


@pytest.mark.parametrize("elem", list(PAIRS), ids=ids.get)
def test_api_round_trip_with_ml_dtypes(elem):
    ours, ml = PAIRS[elem]
    sess = wasm_rt.InferenceSession(_identity_model(elem))
    assert sess.get_inputs()[0].type == f"tensor({dtypes.type_name(elem)})"
    x = _all_codes(elem)[:6].reshape(2, 3) if len(_all_codes(elem)) >= 6 else np.resize(_all_codes(elem), (2, 3))
    (y,) = sess.run(None, {"x": x})
    assert y.dtype == x.dtype  # an ml_dtypes array again
    np.testing.assert_array_equal(y.astype(np.float32), x.astype(np.float32))
    # structured arrays are accepted as feeds too
    (y2,) = sess.run(None, {"x": lowprec.from_ml_dtypes(x)})
    assert y2.dtype == x.dtype


@pytest.mark.parametrize("elem", list(PAIRS), ids=ids.get)
def test_api_round_trip_without_ml_dtypes(elem, monkeypatch):
    """What Pyodide sees: no ml_dtypes, so outputs are the structured arrays."""
    monkeypatch.setattr(lowprec, "_ml_dtypes", lambda: None)
    ours, _ = PAIRS[elem]
    x = lowprec.from_ml_dtypes(np.resize(_all_codes(elem), (2, 3)))
    (y,) = wasm_rt.InferenceSession(_identity_model(elem)).run(None, {"x": x})
    assert y.dtype == ours
    np.testing.assert_array_equal(lowprec.bits(y), lowprec.bits(x))


def test_api_refuses_wrong_low_precision_type():
    sess = wasm_rt.InferenceSession(_identity_model(TP.BFLOAT16))
    with pytest.raises(wasm_rt.InvalidArgument, match=r"expected tensor\(bfloat16\), got tensor\(float8e4m3fn\)"):
        sess.run(None, {"x": np.zeros((2, 3), mld.float8_e4m3fn)})


# --- Cast / QuantizeLinear / DequantizeLinear against onnxruntime -----------------


def _chain(nodes, opset, inits=(), extra_inputs=()) -> bytes:
    inputs = [helper.make_tensor_value_info("x", TP.FLOAT, None)]
    inputs += [helper.make_tensor_value_info(n, TP.FLOAT, None) for n in extra_inputs]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TP.FLOAT, None)], list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10 if opset <= 21 else 11
    return model.SerializeToString()


def _both(model: bytes, feeds):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    theirs = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"]).run(None, feeds)
    ours = wasm_rt.InferenceSession(model).run(None, feeds)
    # Both decode exactly to float32, so the chains must agree bit for bit (NaN = NaN).
    np.testing.assert_array_equal(ours[0], theirs[0])


def _cast_inputs(elem):
    if elem in INTS:
        # onnxruntime rounds fractional floats to int4/int2 where ONNX's reference
        # (ml_dtypes) truncates; wasm_rt follows the reference, so integers only here.
        return np.arange(-12, 20, dtype=np.float32)
    x = np.concatenate([_many_floats(elem)[::50], [np.nan, np.inf, -np.inf, 0.0, -0.0]]).astype(np.float32)
    if elem == TP.FLOAT8E8M0:  # negative inputs are undefined by the spec
        # float32 subnormals: ONNX's reference (which wasm_rt follows) rounds every
        # one up to 2**-126; onnxruntime gives 2**-127 (code 0) for those <= 2**-127.
        x = np.abs(x)
        x = x[~((x > 0) & (x < np.finfo(np.float32).tiny))]
    return x


# onnxruntime 1.31 has no float4e2m1 Cast and no bfloat16/float8e8m0 QuantizeLinear.
@pytest.mark.parametrize("elem", [e for e in PAIRS if e != TP.FLOAT4E2M1], ids=ids.get)
def test_cast_through_type_matches_onnxruntime(elem):
    opset = 25 if elem >= TP.FLOAT8E8M0 else 21
    nodes = [helper.make_node("Cast", ["x"], ["c"], to=elem), helper.make_node("Cast", ["c"], ["y"], to=TP.FLOAT)]
    _both(_chain(nodes, opset), {"x": _cast_inputs(elem)})


@pytest.mark.parametrize("elem", FLOAT8, ids=ids.get)
def test_cast_no_saturate_matches_onnxruntime(elem):
    nodes = [helper.make_node("Cast", ["x"], ["c"], to=elem, saturate=0), helper.make_node("Cast", ["c"], ["y"], to=TP.FLOAT)]
    x = _cast_inputs(elem)
    # Finite values above the largest float8 value: the spec (and ml_dtypes) round
    # first and give NaN (e4m3fn) or inf (e5m2) when [x] > FLT_MAX; onnxruntime 1.31
    # gives 448 for e4m3fn x in (464, 496) and NaN for e5m2 x in (57344, 65520).
    # wasm_rt follows the spec (test_encoding_matches_ml_dtypes covers them).
    top = float(np.nanmax(np.abs(lowprec.to_float32(lowprec.from_float(x, PAIRS[elem][0])))))
    _both(_chain(nodes, 21), {"x": x[~(np.isfinite(x) & (np.abs(x) > top))]})


QTYPES = FLOAT8 + [TP.INT4, TP.UINT4, TP.INT2, TP.UINT2]


@pytest.mark.parametrize("elem", QTYPES, ids=ids.get)
def test_quantize_dequantize_per_tensor_matches_onnxruntime(elem):
    opset = 25 if elem in (TP.INT2, TP.UINT2) else 21
    zero = 1 if elem in INTS else 0  # float8 zero points must be 0 in onnxruntime
    zp = helper.make_tensor("zp", elem, [], [zero])
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"])]
    x = np.concatenate([RNG.uniform(-40, 40, 200), [0.25, 0.75, -1.25, np.nan, np.inf]]).astype(np.float32)
    _both(_chain(nodes, opset, [zp], ["s"]), {"x": x, "s": np.array(0.5, np.float32)})


@pytest.mark.parametrize("elem", [TP.INT4, TP.UINT4, TP.FLOAT8E4M3FN], ids=ids.get)
@pytest.mark.parametrize("block_size", [0, 2])
def test_quantize_dequantize_per_axis_and_blocked_matches_onnxruntime(elem, block_size):
    x = RNG.uniform(-20, 20, (3, 5)).astype(np.float32)
    sshape = [3, 3] if block_size else [5]
    scale = numpy_helper.from_array(RNG.uniform(0.5, 2, sshape).astype(np.float32), "s")
    zp = helper.make_tensor("zp", elem, sshape, np.zeros(sshape, np.float32).ravel().tolist())
    axis = 1
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], axis=axis, block_size=block_size),
             helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"], axis=axis, block_size=block_size)]
    _both(_chain(nodes, 21, [scale, zp]), {"x": x})


# --- the per-op policy ----------------------------------------------------------------


def _binary_model(op, elem) -> bytes:
    node = helper.make_node(op, ["a", "b"], ["y"])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, elem, None) for n in "ab"],
        [helper.make_tensor_value_info("y", onnx.TensorProto.UNDEFINED, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]).SerializeToString()


def test_bfloat16_arithmetic_computes_in_float32_and_rounds_once():
    a = RNG.standard_normal(1000).astype(mld.bfloat16)
    b = RNG.standard_normal(1000).astype(mld.bfloat16)
    (y,) = wasm_rt.InferenceSession(_binary_model("Mul", TP.BFLOAT16)).run(None, {"a": a, "b": b})
    assert y.dtype == mld.bfloat16
    want = (a.astype(np.float32) * b.astype(np.float32)).astype(mld.bfloat16)
    np.testing.assert_array_equal(y.view(np.uint16), want.view(np.uint16))
    (eq,) = wasm_rt.InferenceSession(_binary_model("Equal", TP.BFLOAT16)).run(
        None, {"a": np.array([0.0, np.nan], mld.bfloat16), "b": np.array([-0.0, np.nan], mld.bfloat16)}
    )
    np.testing.assert_array_equal(eq, [True, False])  # values, not bits, are compared


def test_float8_arithmetic_is_refused_clearly():
    # ONNX's Add allows no float8 type: the model is refused at load, naming the input.
    with pytest.raises(InvalidGraph, match=r"'Add_0' \(Add\) input 0 .*got tensor\(float8e4m3fn\)"):
        wasm_rt.InferenceSession(_binary_model("Add", TP.FLOAT8E4M3FN))


def test_bfloat16_in_an_op_without_a_bfloat16_kernel_is_refused_clearly():
    # Det-22 allows bfloat16, but wasm_rt's Det does not compute in it (lowprec_ops.POLICY).
    node = helper.make_node("Det", ["a"], ["y"])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("a", TP.BFLOAT16, None)],
        [helper.make_tensor_value_info("y", onnx.TensorProto.UNDEFINED, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    sess = wasm_rt.InferenceSession(model.SerializeToString())
    with pytest.raises(NotImplementedErr, match="Det does not take bfloat16 inputs"):
        sess.run(None, {"a": np.ones((2, 2), mld.bfloat16)})
