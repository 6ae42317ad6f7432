"""The ONNX-domain integer ops on the shared int32 GEMM (wasm_rt.ops._qgemm).

MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv and
DynamicQuantizeLinear against onnxruntime, bit for bit (the host's CPU has
VNNI, so onnxruntime's u8s8 kernels do not saturate); forms onnxruntime refuses
(per-row A zero points) against an int64 numpy reference. The batching and
zero-point handling of the SIMD route is exercised on the desktop by a stand-in
for ``native.qgemm_i32`` that accepts exactly what the real one accepts.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle import check_op

from wasm_rt import native
from wasm_rt.ops import _qgemm

RNG = np.random.default_rng(7)


def _q(shape, dtype, rng=RNG):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


@pytest.fixture(params=["numpy", "simd-standin"])
def route(request, monkeypatch):
    """Run each test through the float64 path and through the SIMD call pattern."""
    if request.param == "simd-standin":
        calls = []

        def fake(a, a_zp, b, b_zp):
            # The real kernel's contract: 2-D uint8/int8, int a_zp, int or [N] b_zp.
            assert a.ndim == b.ndim == 2 and a.dtype.itemsize == b.dtype.itemsize == 1
            assert isinstance(a_zp, int)
            assert isinstance(b_zp, int) or np.shape(b_zp) == (b.shape[1],)
            calls.append(a.shape)
            acc = (a.astype(np.int64) - a_zp) @ (b.astype(np.int64) - np.asarray(b_zp))
            return acc.astype(np.int32)

        monkeypatch.setattr(native, "qgemm_i32", fake)
        monkeypatch.setattr(native, "status", lambda: {"native": True})
        return calls
    return None


MATMUL_CASES = [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((2, 1, 3, 4), (3, 4, 5)),
    ((3, 4), (2, 4, 5)),
    ((1, 300), (300, 17)),
]


@pytest.mark.parametrize(
    "ta,tb", [(np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8)]
)
@pytest.mark.parametrize("sa,sb", MATMUL_CASES)
@pytest.mark.parametrize("zp", ["none", "scalar", "column"])
def test_matmul_integer(route, ta, tb, sa, sb, zp):
    a, b = _q(sa, ta), _q(sb, tb)
    inputs = {"a": a, "b": b, "az": None, "bz": None}
    if zp == "scalar":
        inputs["az"], inputs["bz"] = _q((), ta), _q((), tb)
    elif zp == "column" and len(sb) > 1:
        # onnxruntime: [N] for a 2-D B, B's shape with K set to 1 otherwise.
        bshape = (sb[-1],) if len(sb) == 2 else sb[:-2] + (1, sb[-1])
        inputs["az"], inputs["bz"] = _q((1,), ta), _q(bshape, tb)
    check_op("MatMulInteger", inputs, opset=10)
    if route is not None:
        assert route, "the SIMD route was not taken"


def test_matmul_integer_folds_rows_over_2d_b(route):
    a, b = _q((2, 3, 64), np.uint8), _q((64, 8), np.int8)
    check_op(
        "MatMulInteger",
        {"a": a, "b": b, "az": np.array(9, np.uint8), "bz": None},
        opset=10,
    )
    if route is not None:
        assert route == [(6, 64)]  # one product of all six rows


def _reference(a, az, b, bz):
    return ((a.astype(np.int64) - az) @ (b.astype(np.int64) - bz)).astype(np.int32)


@pytest.mark.parametrize("batched", [False, True])
def test_matmul_integer_per_row_a_zero_point(route, batched):
    # onnxruntime refuses a non-scalar A zero point; the spec defines it per row.
    from wasm_rt.registry import resolve

    fn = resolve("", "MatMulInteger", 10).fn
    shape = (2, 5, 33) if batched else (5, 33)
    a, b = _q(shape, np.uint8), _q((33, 6), np.int8)
    az = _q(shape[:-1] + (1,) if batched else (5,), np.uint8)
    bz = _q((6,), np.int8)
    want = _reference(a, az.reshape(shape[:-1] + (1,)), b, bz)
    np.testing.assert_array_equal(fn(a, b, az, bz), want)


def test_matmul_integer_wraps_like_int32(route):
    # 2**17 terms of 255 * 127 overflow int32; the result wraps modulo 2**32.
    from wasm_rt.registry import resolve

    k = 1 << 17
    a = np.full((1, k), 255, np.uint8)
    b = np.full((k, 2), 127, np.int8)
    got = resolve("", "MatMulInteger", 10).fn(a, b)
    want = np.array([[255 * 127 * k] * 2], np.int64).astype(np.int32)
    np.testing.assert_array_equal(got, want)


def test_matmul_integer_rejects_float():
    from wasm_rt.errors import InvalidArgument
    from wasm_rt.registry import resolve

    with pytest.raises(InvalidArgument, match="MatMulInteger: A must be uint8 or int8"):
        resolve("", "MatMulInteger", 10).fn(
            np.zeros((2, 2), np.float32), _q((2, 2), np.int8)
        )


@pytest.mark.parametrize(
    "ta,tb", [(np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8)]
)
@pytest.mark.parametrize(
    "sa,sb", [((3, 40), (40, 5)), ((2, 3, 40), (40, 6)), ((2, 3, 8), (2, 8, 4))]
)
@pytest.mark.parametrize("per_column", [False, True])
def test_qlinear_matmul(route, ta, tb, sa, sb, per_column):
    rng = np.random.default_rng(3)
    n = sb[-1]
    bshape = () if not per_column else (n,) if len(sb) == 2 else sb[:-2] + (1, n)
    inputs = {
        "a": _q(sa, ta, rng), "as": np.array(0.021, np.float32), "az": _q((), ta, rng),
        "b": _q(sb, tb, rng),
        "bs": np.asarray(rng.random(bshape) * 0.05 + 0.001, np.float32),
        "bz": _q(bshape, tb, rng) if tb == np.uint8 else np.zeros(bshape, tb),
        "ys": np.array(0.37, np.float32), "yz": _q((), ta, rng),
    }  # fmt: skip
    check_op("QLinearMatMul", inputs, opset=10)


CONV_CASES = [
    ((1, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 4, 9, 8), (6, 2, 3, 3), {"group": 2, "pads": [1, 1, 1, 1]}),
    ((1, 4, 9, 9), (4, 1, 3, 3), {"group": 4, "strides": [2, 2], "pads": [1, 0, 1, 2]}),
    ((1, 3, 11, 10), (5, 3, 3, 2), {"dilations": [2, 1], "strides": [1, 2]}),
    ((1, 3, 6, 6), (4, 3, 1, 1), {}),
    ((2, 3, 13), (4, 3, 3), {"pads": [2, 1], "strides": [2]}),
    ((1, 2, 4, 5, 5), (3, 2, 2, 3, 3), {"pads": [1, 1, 1, 0, 1, 1]}),
    ((1, 3, 8, 8), (4, 3, 3, 3), {"auto_pad": "SAME_UPPER"}),
]


@pytest.mark.parametrize("xs,ws,attrs", CONV_CASES)
@pytest.mark.parametrize("wz", ["none", "scalar"])
def test_conv_integer(route, xs, ws, attrs, wz):
    # onnxruntime's ConvInteger takes uint8 X and W, scalar zero points.
    inputs = {
        "x": _q(xs, np.uint8),
        "w": _q(ws, np.uint8),
        "xz": np.array(131, np.uint8),
        "wz": None if wz == "none" else np.array(17, np.uint8),
    }
    check_op("ConvInteger", inputs, opset=10, **attrs)
    if route is not None:
        assert route


def test_conv_integer_per_channel_w_zero_point(route):
    # The spec allows one W zero point per output channel; onnxruntime does not.
    from wasm_rt.registry import resolve

    x, w = _q((1, 4, 6, 6), np.uint8), _q((6, 2, 3, 3), np.int8)
    xz, wz = 100, _q((6,), np.int8)
    got = resolve("", "ConvInteger", 10).fn(
        x, w, np.uint8(xz), wz, group=2, pads=[1, 1, 1, 1]
    )
    xp = np.pad(x.astype(np.int64) - xz, [(0, 0), (0, 0), (1, 1), (1, 1)])
    w64 = w.astype(np.int64) - wz.reshape(6, 1, 1, 1)
    want = np.zeros((1, 6, 6, 6), np.int64)
    for m in range(6):
        g = m // 3
        for i in range(6):
            for j in range(6):
                want[0, m, i, j] = (
                    xp[0, 2 * g : 2 * g + 2, i : i + 3, j : j + 3] * w64[m]
                ).sum()
    np.testing.assert_array_equal(got, want.astype(np.int32))


@pytest.mark.parametrize("xs,ws,attrs", CONV_CASES)
@pytest.mark.parametrize("tx", [np.uint8, np.int8])
@pytest.mark.parametrize("per_channel", [False, True])
def test_qlinear_conv(route, xs, ws, attrs, tx, per_channel):
    rng = np.random.default_rng(11)
    m = ws[0]
    sshape = (m,) if per_channel else ()
    w = _q(ws, np.int8, rng)
    inputs = {
        "x": _q(xs, tx, rng), "xs": np.array(0.05, np.float32), "xz": _q((), tx, rng),
        "w": w, "ws": np.asarray(rng.random(sshape) * 0.02 + 0.002, np.float32),
        "wz": np.zeros(sshape, np.int8),
        "ys": np.array(0.4, np.float32), "yz": _q((), tx, rng),
        "b": rng.integers(-3000, 3000, m).astype(np.int32),
    }  # fmt: skip
    check_op("QLinearConv", inputs, opset=10, initializers={"w": w}, **attrs)


@pytest.mark.parametrize(
    "x",
    [
        np.random.default_rng(0).standard_normal((3, 1000)).astype(np.float32) * 4,
        np.random.default_rng(1).random((64, 7)).astype(np.float32),  # all positive
        -np.random.default_rng(2).random((5, 9)).astype(np.float32),  # all negative
        np.zeros((4, 4), np.float32),
        # Values on rounding ties of the quantization grid.
        (np.arange(-60, 200, dtype=np.float32) * np.float32(0.5)).reshape(20, 13),
    ],
    ids=["normal", "positive", "negative", "zeros", "ties"],
)
def test_dynamic_quantize_linear(x):
    check_op("DynamicQuantizeLinear", {"x": x}, outputs=3, opset=11)


def test_qgemm_i32_chunks_wide_b():
    # More than one chunk of float64 columns on the numpy path.
    a, b = _q((3, 1024), np.uint8), _q((1024, 1500), np.int8)
    bz = _q((1500,), np.int8)
    np.testing.assert_array_equal(
        _qgemm.qgemm_i32(a, 3, b, bz), _reference(a, 3, b, bz)
    )
