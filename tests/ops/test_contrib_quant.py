"""com.microsoft blockwise-quantized weight ops against onnxruntime.

MatMulNBits: onnxruntime dequantizes B (or runs MLAS's fused n-bit kernel on a
constant B) and sums in float32 in its own order, so results agree to float32
rounding of a K-term sum: rtol 1e-5, and an atol of 1e-5 * max|y| for entries
that cancel (max|y| ~ sqrt(K) * a typical term, the scale of the rounding error).
GatherBlockQuantized is one float32 multiply per element on both runtimes, so
it must match exactly.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from oracle import assert_same, run_ort, run_wasm_rt

import wasm_rt
from wasm_rt import dtypes
from wasm_rt.errors import WasmRtError

RNG = np.random.default_rng(7)
F32, F16 = np.float32, np.float16
MS = "com.microsoft"


def ms_model(op, inputs, initializers=(), outputs=1, **attrs):
    """One com.microsoft node; names in ``initializers`` become constants."""
    names = [n if v is not None else "" for n, v in inputs.items()]
    node = helper.make_node(
        op, names, [f"y{i}" for i in range(outputs)], domain=MS, **attrs
    )
    graph_inputs, inits = [], []
    for n, v in inputs.items():
        if v is None:
            continue
        if n in initializers:
            inits.append(numpy_helper.from_array(v, n))
        else:
            t = helper.np_dtype_to_tensor_dtype(v.dtype)
            graph_inputs.append(helper.make_tensor_value_info(n, t, v.shape))
    outs = [helper.make_value_info(f"y{i}", onnx.TypeProto()) for i in range(outputs)]
    graph = helper.make_graph([node], "g", graph_inputs, outs, inits)
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid(MS, 1)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=10)
    feeds = {n: v for n, v in inputs.items() if v is not None and n not in initializers}
    return model.SerializeToString(), feeds


def both(op, inputs, initializers=(), outputs=1, **attrs):
    model, feeds = ms_model(op, inputs, initializers, outputs, **attrs)
    return run_wasm_rt(model, feeds), run_ort(model, feeds)


def pack(q: np.ndarray, bits: int) -> np.ndarray:
    """Values [..., n] in 0..2**bits-1 -> uint8 [..., n*bits/8], low bits first."""
    per = 8 // bits
    q = q.astype(np.uint8).reshape(q.shape[:-1] + (-1, per))
    shifts = np.arange(0, 8, bits, dtype=np.uint8)
    return np.bitwise_or.reduce(q << shifts, axis=-1).astype(np.uint8)


def nbits_inputs(m, k, n, bits, bs, zp="packed", dtype=F32, batch=()):
    blocks = -(-k // bs)
    q = RNG.integers(0, 1 << bits, size=(n, blocks * bs))
    b = pack(q, bits).reshape(n, blocks, bs * bits // 8)
    scales = RNG.uniform(0.01, 0.1, size=(n, blocks)).astype(dtype)
    if zp == "packed":
        zq = RNG.integers(0, 1 << bits, size=(n, -(-blocks * bits // 8) * 8 // bits))
        zero_points = pack(zq, bits)
    elif zp == "float":
        zero_points = RNG.uniform(0, (1 << bits) - 1, size=(n, blocks)).astype(dtype)
    else:
        zero_points = None
    a = RNG.standard_normal(batch + (m, k)).astype(dtype)
    return {"a": a, "b": b, "scales": scales, "zp": zero_points}


def check_nbits(inputs, k, n, bits, bs, const=True, rtol=1e-5, atol=1e-5, **attrs):
    inits = ("b", "scales", "zp", "g_idx", "bias") if const else ()
    ours, theirs = both(
        "MatMulNBits", inputs, inits, K=k, N=n, bits=bits, block_size=bs, **attrs
    )
    scale = float(np.abs(theirs[0].astype(F32)).max(initial=1))
    assert_same(ours, theirs, rtol=rtol, atol=atol * scale, what="MatMulNBits")


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("bs", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("zp", ["packed", "none"])
def test_matmul_nbits_bits_blocks(bits, bs, zp):
    k, n = 3 * bs + 5, 37  # K not a multiple of block_size
    check_nbits(nbits_inputs(3, k, n, bits, bs, zp), k, n, bits, bs)


@pytest.mark.parametrize("const", [True, False], ids=["prepacked", "runtime-b"])
@pytest.mark.parametrize("m", [1, 5, 33])
def test_matmul_nbits_rows_and_runtime_b(m, const):
    k, n = 96, 300  # N above one 256-column slab
    check_nbits(nbits_inputs(m, k, n, 4, 32), k, n, 4, 32, const=const)


def test_matmul_nbits_batched_a_and_bias():
    k, n = 64, 24
    inputs = nbits_inputs(4, k, n, 4, 16, batch=(2, 3))
    inputs["g_idx"] = None
    inputs["bias"] = RNG.standard_normal(n).astype(F32)
    check_nbits(inputs, k, n, 4, 16)


def test_matmul_nbits_float_zero_points():
    k, n = 80, 16
    check_nbits(nbits_inputs(2, k, n, 4, 32, zp="float"), k, n, 4, 32)


@pytest.mark.parametrize("zp", ["none", "float"])
def test_matmul_nbits_g_idx(zp):
    k, n, bs = 64, 8, 16
    inputs = nbits_inputs(3, k, n, 4, bs, zp=zp)
    # act-order: each k belongs to a permuted group (onnxruntime's unpacked path).
    inputs["g_idx"] = (RNG.permutation(k) // bs).astype(np.int32)
    check_nbits(inputs, k, n, 4, bs)


def test_matmul_nbits_g_idx_uint8_zero_points_follow_the_spec():
    """onnxruntime 1.31 ignores uint8 zero points when g_idx is given (it uses
    8); wasm_rt applies them, as the op's definition and the non-g_idx path do."""
    k, n, bs = 32, 4, 16
    inputs = nbits_inputs(k, k, n, 4, bs)
    inputs["a"] = np.eye(k, dtype=F32)  # y = dequantized B^T
    g = (RNG.permutation(k) // bs).astype(np.int32)
    inputs["g_idx"] = g
    ours, theirs = both("MatMulNBits", inputs, K=k, N=n, bits=4, block_size=bs)
    b, z = inputs["b"].astype(F32), inputs["zp"].astype(F32)
    q = np.stack([b % 16, b // 16], -1).reshape(n, -1)[:, :k]
    zp = np.stack([z % 16, z // 16], -1).reshape(n, -1)
    s = inputs["scales"]
    np.testing.assert_allclose(ours[0].T, (q - zp[:, g]) * s[:, g], rtol=1e-6)
    np.testing.assert_allclose(theirs[0].T, (q - 8.0) * s[:, g], rtol=1e-6)


@pytest.mark.parametrize("zp", ["packed", "float", "none"])
def test_matmul_nbits_float16(zp):
    k, n = 72, 20
    inputs = nbits_inputs(3, k, n, 4, 32, zp=zp, dtype=F16)
    inputs["g_idx"] = None
    inputs["bias"] = RNG.standard_normal(n).astype(F16)
    # float32 inside, one rounding to float16 at the end: 1 float16 ulp.
    check_nbits(inputs, k, n, 4, 32, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_matmul_nbits_accuracy_levels_accepted(level):
    k, n = 64, 16
    check_nbits(nbits_inputs(2, k, n, 4, 32), k, n, 4, 32, accuracy_level=level)


def test_matmul_nbits_from_onnxruntime_quantizer():
    """A MatMul quantized by onnxruntime's own MatMulNBitsQuantizer."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    k, n = 128, 48
    w = RNG.standard_normal((k, n)).astype(F32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, n])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    q = MatMulNBitsQuantizer(model, block_size=32, is_symmetric=False)
    q.process()
    data = q.model.model.SerializeToString()
    assert b"MatMulNBits" in data
    feeds = {"x": RNG.standard_normal((2, k)).astype(F32)}
    assert_same(run_wasm_rt(data, feeds), run_ort(data, feeds), 1e-5, 2e-5)


def test_matmul_nbits_bad_shape_names_input():
    inputs = nbits_inputs(2, 64, 8, 4, 32)
    inputs["scales"] = inputs["scales"][:, :1]
    model, feeds = ms_model("MatMulNBits", inputs, K=64, N=8, bits=4, block_size=32)
    with pytest.raises(WasmRtError, match="scales must have shape"):
        run_wasm_rt(model, feeds)


# --- GatherBlockQuantized -----------------------------------------------------


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("with_zp", [True, False])
@pytest.mark.parametrize("sdtype", [F32, F16], ids=["f32", "f16"])
def test_gather_block_quantized_uint8(bits, with_zp, sdtype):
    rows, cols, bs = 10, 96, 32
    data = pack(RNG.integers(0, 1 << bits, size=(rows, cols)), bits)
    blocks = cols // bs
    scales = RNG.uniform(0.1, 1, size=(rows, blocks)).astype(sdtype)
    zp = pack(RNG.integers(0, 1 << bits, size=(rows, blocks + blocks % 2)), bits)
    zp = zp[:, : -(-blocks * bits // 8)] if with_zp else None
    idx = np.array([[0, 3, 9], [9, -1, 2]], np.int64)
    inputs = {"data": data, "idx": idx, "scales": scales, "zp": zp}
    ours, theirs = both(
        "GatherBlockQuantized",
        inputs,
        ("data", "scales", "zp"),
        bits=bits,
        block_size=bs,
        gather_axis=0,
        quantize_axis=1,
    )
    assert_same(ours, theirs, what="GatherBlockQuantized")


def test_gather_block_quantized_out_of_range_gives_zeros():
    data = pack(RNG.integers(0, 16, size=(4, 32)), 4)
    scales = RNG.uniform(0.1, 1, size=(4, 2)).astype(F32)
    inputs = {"data": data, "idx": np.array([1, 7, -9], np.int32), "scales": scales}
    ours, theirs = both("GatherBlockQuantized", inputs, ("data", "scales"), block_size=16)
    assert_same(ours, theirs)
    assert not ours[0][1:].any()


def _int4_initializer(name, values, signed):
    t = TensorProto.INT4 if signed else TensorProto.UINT4
    return helper.make_tensor(name, t, values.shape, values.reshape(-1).tolist())


def _int4_loads() -> bool:
    """Whether wasm_rt can hold int4 initializers yet (wasm_rt.dtypes' task)."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["y"])],
        "g",
        [],
        [helper.make_value_info("y", onnx.TypeProto())],
        [_int4_initializer("c", np.array([1, -2]), True)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    try:
        wasm_rt.InferenceSession(model.SerializeToString())
    except WasmRtError:
        return False
    return getattr(dtypes, "int4", None) is not None


@pytest.mark.skipif(
    not _int4_loads(),
    reason="int4/uint4 initializers load once wasm_rt.dtypes' sub-byte types land",
)
@pytest.mark.parametrize("signed", [True, False], ids=["int4", "uint4"])
@pytest.mark.parametrize("axes", [(0, 1), (1, 0), (0, 2), (1, 1)])
def test_gather_block_quantized_int4(signed, axes):
    ga, qa = axes
    shape = [6, 32, 4] if qa != 2 else [4, 3, 32]
    lo, hi = (-8, 8) if signed else (0, 16)
    data = RNG.integers(lo, hi, size=shape)
    sshape = list(shape)
    sshape[qa] = -(-shape[qa] // 16)
    scales = RNG.uniform(0.1, 1, size=sshape).astype(F32)
    zp = RNG.integers(lo, hi, size=sshape)
    idx = np.array([2, 0, 3], np.int64)
    node = helper.make_node(
        "GatherBlockQuantized",
        ["data", "idx", "scales", "zp"],
        ["y"],
        domain=MS,
        block_size=16,
        gather_axis=ga,
        quantize_axis=qa,
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("idx", TensorProto.INT64, [3])],
        [helper.make_value_info("y", onnx.TypeProto())],
        [
            _int4_initializer("data", data, signed),
            numpy_helper.from_array(scales, "scales"),
            _int4_initializer("zp", zp, signed),
        ],
    )
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid(MS, 1)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=10)
    data_bytes = model.SerializeToString()
    feeds = {"idx": idx}
    assert_same(run_wasm_rt(data_bytes, feeds), run_ort(data_bytes, feeds))


# --- QGemm, DynamicQuantizeMatMul, MatMulIntegerToFloat ---------------------------
# The integer products are exact on both runtimes (this CPU has VNNI, so
# onnxruntime's u8s8 kernels do not saturate); quantized outputs must match
# exactly. Float outputs are float32(acc) * multiplier + bias: MLAS may fuse
# the multiply-add, so 1 float32 ulp of the result (rtol 2e-7, atol for bias
# cancellation).


def q8(shape, dtype):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max + 1, size=shape).astype(dtype)


@pytest.mark.parametrize("per_column", [False, True])
@pytest.mark.parametrize("btype", [np.uint8, np.int8])
@pytest.mark.parametrize("bias", [False, True])
def test_dynamic_quantize_matmul(btype, per_column, bias):
    k, n = 40, 12
    b = q8((k, n), btype)
    shape = (n,) if per_column else ()
    inputs = {
        "a": RNG.standard_normal((2, 3, k)).astype(F32),
        "b": b,
        "b_scale": RNG.uniform(0.01, 0.1, size=shape).astype(F32),
        "b_zp": q8(shape, btype),
        "bias": RNG.standard_normal(n).astype(F32) if bias else None,
    }
    for inits in [("b", "b_scale", "b_zp", "bias"), ()]:
        ours, theirs = both("DynamicQuantizeMatMul", inputs, inits)
        assert_same(ours, theirs, rtol=2e-7, atol=1e-6, what="DynamicQuantizeMatMul")


@pytest.mark.parametrize("btype", [np.uint8, np.int8])
@pytest.mark.parametrize("per_column", [False, True])
def test_matmul_integer_to_float(btype, per_column):
    k, n = 33, 10
    shape = (n,) if per_column else ()
    inputs = {
        "a": q8((5, k), np.uint8),
        "b": q8((k, n), btype),
        "a_scale": np.array(0.03, F32),
        "b_scale": RNG.uniform(0.01, 0.1, size=shape).astype(F32),
        "a_zp": np.array(131, np.uint8),
        "b_zp": q8(shape, btype),
        "bias": RNG.standard_normal(n).astype(F32),
    }
    ours, theirs = both("MatMulIntegerToFloat", inputs, ("b", "b_scale", "b_zp"))
    assert_same(ours, theirs, rtol=2e-7, atol=1e-6, what="MatMulIntegerToFloat")


@pytest.mark.parametrize("atype", [np.uint8, np.int8])
@pytest.mark.parametrize("per_column", [False, True])
@pytest.mark.parametrize("quantized_out", [True, False])
@pytest.mark.parametrize("trans", [(0, 0), (1, 1)])
def test_qgemm(atype, per_column, quantized_out, trans):
    m, k, n = 7, 50, 9
    btype = np.int8 if atype == np.int8 else np.uint8
    shape = (n,) if per_column else ()
    a = q8((m, k), atype)
    b = q8((k, n), btype)
    inputs = {
        "a": a.T.copy() if trans[0] else a,
        "a_scale": np.array(0.02, F32),
        "a_zp": q8((), atype),
        "b": b.T.copy() if trans[1] else b,
        "b_scale": RNG.uniform(0.01, 0.05, size=shape).astype(F32),
        "b_zp": q8(shape, btype),
        "c": RNG.integers(-5000, 5000, size=(n,)).astype(np.int32),
        "y_scale": np.array(0.7, F32) if quantized_out else None,
        "y_zp": q8((), atype) if quantized_out else None,
    }
    ours, theirs = both(
        "QGemm", inputs, ("b", "b_scale", "b_zp"), alpha=0.5, transA=trans[0],
        transB=trans[1],
    )
    assert_same(ours, theirs, rtol=2e-7, atol=1e-6, what="QGemm")


@pytest.mark.parametrize("qtype", [np.uint8, np.int8, np.uint16, np.int16])
def test_ms_quantize_dequantize_linear(qtype):
    x = RNG.uniform(-300, 300, size=(2, 4, 3)).astype(F32)
    x.flat[:4] = [0.5, 1.5, -2.5, 2.5]
    scale = RNG.uniform(0.5, 2, size=4).astype(F32)
    zp = q8((4,), qtype) // 2
    ours, theirs = both("QuantizeLinear", {"x": x, "s": scale, "zp": zp}, axis=1)
    assert_same(ours, theirs, what="QuantizeLinear")
    q = ours[0]
    ours, theirs = both("DequantizeLinear", {"q": q, "s": scale, "zp": zp}, axis=1)
    assert_same(ours, theirs, what="DequantizeLinear")
