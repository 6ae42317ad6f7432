"""com.microsoft QOperator-format ops against onnxruntime.

The outputs are 8-bit integers computed with MLAS's own arithmetic (float32
scale ratios, fused multiply-adds, round half to even), so they must match
exactly; any exception is stated at its test.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle import assert_same
from test_contrib_quant import RNG, both, q8

F32 = np.float32
QT = [np.uint8, np.int8]


def qparams(dtype, scale=None):
    s = np.array(RNG.uniform(0.01, 0.2) if scale is None else scale, F32)
    return s, np.array(q8((), dtype) // 2, dtype)


def check(op, inputs, inits=(), **attrs):
    ours, theirs = both(op, inputs, inits, **attrs)
    assert_same(ours, theirs, what=op)
    return ours


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("dtype", QT)
@pytest.mark.parametrize(
    "shapes",
    [((3, 70), (3, 70)), ((3, 70), ()), ((), (2, 33)), ((2, 3, 5), (5,)), ((4, 6), (4, 1))],
)
def test_qlinear_binary(op, dtype, shapes):
    sa, za = qparams(dtype)
    sb, zb = qparams(dtype)
    sc, zc = qparams(dtype)
    inputs = {
        "a": q8(shapes[0], dtype), "sa": sa, "za": za,
        "b": q8(shapes[1], dtype), "sb": sb, "zb": zb, "sc": sc, "zc": zc,
    }
    check(op, inputs)


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("dtype", QT)
def test_qlinear_binary_ties(op, dtype):
    """Scale ratios of 1/2 put many results exactly halfway: rounding must agree."""
    sa, za = qparams(dtype, 0.05)
    sb, zb = qparams(dtype, 0.1)
    sc, zc = qparams(dtype, 0.1)
    inputs = {
        "a": q8((4, 64), dtype), "sa": sa, "za": za,
        "b": q8((4, 64), dtype), "sb": sb, "zb": zb, "sc": sc, "zc": zc,
    }
    check(op, inputs)


@pytest.mark.parametrize("dtype", QT)
@pytest.mark.parametrize("op", ["QLinearSigmoid", "QLinearLeakyRelu"])
def test_qlinear_lookup_ops(op, dtype):
    info = np.iinfo(dtype)
    x = np.arange(info.min, info.max + 1).astype(dtype).reshape(4, 64)  # every code
    sx, zx = qparams(dtype, 0.07)
    sy, zy = qparams(dtype, 0.004 if op == "QLinearSigmoid" else 0.05)
    attrs = {"alpha": 0.13} if op == "QLinearLeakyRelu" else {}
    check(op, {"x": x, "sx": sx, "zx": zx, "sy": sy, "zy": zy}, **attrs)


@pytest.mark.parametrize("dtype", QT)
def test_qlinear_concat(dtype):
    sy, zy = qparams(dtype)
    s1, z1 = qparams(dtype)
    inputs = {"sy": sy, "zy": zy, "x0": q8((2, 3), dtype), "s0": sy, "z0": zy,
              "x1": q8((2, 5), dtype), "s1": s1, "z1": z1}
    check("QLinearConcat", inputs, axis=1)


@pytest.mark.parametrize("dtype", QT)
@pytest.mark.parametrize("channels_last", [0, 1])
def test_qlinear_global_average_pool(dtype, channels_last):
    sx, zx = qparams(dtype)
    sy, zy = qparams(dtype)
    x = q8((2, 5, 6, 7), dtype)
    check("QLinearGlobalAveragePool", {"x": x, "sx": sx, "zx": zx, "sy": sy, "zy": zy},
          channels_last=channels_last)


@pytest.mark.parametrize("dtype", QT)
def test_qlinear_where(dtype):
    sx, zx = qparams(dtype)
    sy, zy = qparams(dtype)
    sz, zz = qparams(dtype)
    inputs = {"c": RNG.random((3, 8)) < 0.5, "x": q8((3, 8), dtype), "sx": sx, "zx": zx,
              "y": q8((8,), dtype), "sy": sy, "zy": zy, "sz": sz, "zz": zz}
    check("QLinearWhere", inputs)
    inputs.update(sx=sz, zx=zz)  # X already in Z's quantization: copied
    check("QLinearWhere", inputs)


@pytest.mark.parametrize("dtype", QT)
@pytest.mark.parametrize(
    "shape,opset,axis",
    [((6, 10), 13, None), ((3, 4, 300), 13, -1), ((3, 5, 7), 13, 1),
     ((2, 3, 4, 5), 13, 0),
     ((3, 4, 5), 12, None), ((3, 4, 5), 11, 2), ((3, 4, 5), 1, 0), ((2, 1000), 13, 1)],
)
@pytest.mark.parametrize("x_scale", [0.02, 0.3, 1.7])
def test_qlinear_softmax(dtype, shape, opset, axis, x_scale):
    """The table exp, the sequential float32 sums and the final rounding follow
    onnxruntime, so the codes must be identical (uint8 and int8)."""
    zy = np.array(0 if dtype == np.uint8 else -128, dtype)
    inputs = {"x": q8(shape, dtype), "sx": np.array(x_scale, F32),
              "zx": qparams(dtype)[1],
              "sy": np.array(1 / 256, F32), "zy": zy}
    attrs = {"opset": opset} if axis is None else {"opset": opset, "axis": axis}
    for inits in [("sx", "zx", "sy", "zy"), ()]:  # table built at load or per run
        ours, theirs = both("QLinearSoftmax", inputs, inits, **attrs)
        assert_same(ours, theirs, what="QLinearSoftmax")


@pytest.mark.parametrize("dtype", QT)
def test_qlinear_softmax_odd_scales(dtype):
    """y_scale other than 1/256 (onnxruntime keeps floor(1 / y_scale)) and a
    zero point that pushes codes into saturation."""
    for sy, zy in [(0.003, 5), (0.01, 100), (2.0, 3)]:
        inputs = {"x": q8((4, 9), dtype), "sx": np.array(0.1, F32), "zx": None,
                  "sy": np.array(sy, F32), "zy": np.array(zy, dtype)}
        check("QLinearSoftmax", inputs, opset=13)


POOLS = [
    # 1-D, 2-D and 3-D, explicit and automatic pads, strides, ceil_mode
    ((2, 3, 11), {"kernel_shape": [3]}),
    ((2, 3, 11), {"kernel_shape": [4], "strides": [3], "pads": [1, 2], "ceil_mode": 1}),
    ((1, 4, 7, 9), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ((1, 4, 7, 9), {"kernel_shape": [2, 3], "strides": [2, 2], "pads": [1, 0, 0, 2]}),
    ((1, 4, 8, 9), {"kernel_shape": [3, 2], "strides": [2, 2], "ceil_mode": 1}),
    ((1, 4, 7, 9), {"kernel_shape": [3, 3], "strides": [2, 1], "auto_pad": "SAME_UPPER"}),
    ((1, 4, 7, 9), {"kernel_shape": [2, 2], "strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ((1, 4, 7, 9), {"kernel_shape": [3, 4], "auto_pad": "VALID"}),
    ((2, 2, 5, 6, 7),
     {"kernel_shape": [2, 3, 2], "strides": [1, 2, 2], "pads": [1, 1, 0, 0, 1, 1]}),
    ((1, 2, 5, 6, 7), {"kernel_shape": [3, 3, 3], "strides": [2, 2, 2], "ceil_mode": 1}),
    ((1, 3, 6, 5), {"kernel_shape": [6, 5]}),  # the whole input: global path
    ((1, 3, 6, 5), {"kernel_shape": [6, 5], "strides": [2, 2]}),
]


@pytest.mark.parametrize("dtype", QT)
@pytest.mark.parametrize("shape,attrs", POOLS)
@pytest.mark.parametrize("count_include_pad", [0, 1])
@pytest.mark.parametrize("channels_last", [0, 1])
def test_qlinear_average_pool(dtype, shape, attrs, count_include_pad, channels_last):
    """Dequantize, float32 window sums in onnxruntime's order, one division, one
    quantization: the codes must be identical."""
    if channels_last:
        shape = (shape[0],) + shape[2:] + (shape[1],)
    sx, zx = qparams(dtype)
    sy, zy = qparams(dtype)
    inputs = {"x": q8(shape, dtype), "sx": sx, "zx": zx, "sy": sy, "zy": zy}
    check("QLinearAveragePool", inputs, count_include_pad=count_include_pad,
          channels_last=channels_last, **attrs)


def test_qlinear_pool_softmax_bad_inputs():
    """Clear errors where onnxruntime refuses too (pads not below the kernel,
    a float X) or would compute garbage (a zero scale)."""
    from wasm_rt.errors import InvalidArgument
    from wasm_rt.ops.contrib_qlinear_pool import qlinear_average_pool, qlinear_softmax

    x = q8((1, 2, 6, 6), np.uint8)
    s, z = np.array(0.1, F32), np.array(3, np.uint8)
    with pytest.raises(InvalidArgument, match="smaller than kernel_shape"):
        qlinear_average_pool(x, s, z, s, z, kernel_shape=[2, 2], pads=[2, 0, 0, 0])
    with pytest.raises(InvalidArgument, match="uint8 or int8"):
        qlinear_average_pool(x.astype(F32), s, z, s, z, kernel_shape=[2, 2])
    with pytest.raises(InvalidArgument, match="undefined"):
        qlinear_softmax(x, np.array(0, F32), z, s, z, opset=13)
    with pytest.raises(InvalidArgument, match="opset is required"):
        qlinear_softmax(x, s, z, s, z)


# --- Non-finite and zero scales -------------------------------------------------
# quantize_static writes scale = inf for tensors holding transformers' float32-min
# masks. onnxruntime then computes IEEE float math on inf; where that reaches a
# float -> integer conversion as NaN, inf or out of range the result is undefined
# behaviour (x86 gives the "integer indefinite", WebAssembly traps), and wasm_rt
# refuses by name. Where the math stays finite (an infinite y_scale/C_scale
# makes every product 0, a zero x_scale every value 0) it matches exactly.

ODD = [np.inf, 0.0, np.nan, -1.0, 0.1]


def _ours_or_refused(op, inputs, **attrs):
    from wasm_rt.errors import InvalidArgument

    try:
        return both(op, inputs, (), **attrs)
    except InvalidArgument as e:
        assert "undefined" in str(e) or "must lie in" in str(e), e
        return None


@pytest.mark.parametrize("dtype", QT)
@pytest.mark.parametrize("opset", [12, 13])
def test_qlinear_softmax_non_finite_scales(dtype, opset):
    info = np.iinfo(dtype)
    x = q8((3, 7), dtype)
    x[1] = x[1, 0]  # one constant row
    refused = []
    for sx in ODD:
        for sy in [1 / 256, np.inf, 0.0]:
            inputs = {"x": x, "sx": np.array(sx, F32), "zx": np.array(3, dtype),
                      "sy": np.array(sy, F32), "zy": np.array(info.min + 5, dtype)}
            got = _ours_or_refused("QLinearSoftmax", inputs, opset=opset, axis=-1)
            if got is None:
                refused.append((sx, sy))
                continue
            assert_same(*got, what=f"QLinearSoftmax x_scale={sx} y_scale={sy}")
    # NaN everywhere for x_scale inf / 0 / NaN (exp(0 * inf), a shift of x / 0);
    # inf codes for y_scale 0 (floor(1 / 0)); -1 overflows the non-max entries.
    undefined = [(sx, sy) for sx in ODD for sy in [1 / 256, np.inf, 0.0]
                 if sx != 0.1 or sy == 0.0]
    assert [str(r) for r in refused] == [str(u) for u in undefined]
    # Defined: y_scale inf gives the zero point everywhere.
    inputs = {"x": x, "sx": np.array(0.1, F32), "zx": np.array(3, dtype),
              "sy": np.array(np.inf, F32), "zy": np.array(7, dtype)}
    ours, theirs = both("QLinearSoftmax", inputs, (), opset=opset)
    assert (ours[0] == 7).all() and (theirs[0] == 7).all()


def test_qlinear_softmax_negative_x_scale_constant_rows():
    """x_scale -1 on constant rows keeps every table entry finite: defined, matched."""
    x = np.full((2, 5), 9, np.uint8)
    inputs = {"x": x, "sx": np.array(-1.0, F32), "zx": np.array(3, np.uint8),
              "sy": np.array(1 / 256, F32), "zy": np.array(0, np.uint8)}
    check("QLinearSoftmax", inputs, opset=13)


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("dtype", QT)
def test_qlinear_binary_non_finite_scales(op, dtype):
    a, b = q8((3, 20), dtype), q8((3, 20), dtype)
    cases = [(np.inf, 0.1, 0.1), (0.1, np.inf, np.inf), (0.1, 0.1, 0.0), (0.1, 0.1, np.inf),
             (np.inf, np.inf, 0.1), (0.0, 0.1, 0.1), (0.0, 0.0, 0.0), (np.nan, 0.1, 0.1)]
    refused = []
    for sa, sb, sc in cases:
        inputs = {"a": a, "sa": np.array(sa, F32), "za": np.array(7, dtype),
                  "b": b, "sb": np.array(sb, F32), "zb": np.array(-3 % 256, np.uint8).astype(dtype),
                  "sc": np.array(sc, F32), "zc": np.array(11, dtype)}
        got = _ours_or_refused(op, inputs)
        if got is None:
            refused.append((sa, sb, sc))
        else:
            assert_same(*got, what=f"{op} scales {sa}, {sb}, {sc}")
    # MLAS converts to int32 before saturating, so inf and NaN become the
    # x86 "indefinite" code (onnxruntime's 0 / -128 everywhere): refused.
    # C_scale inf (ratios 0) is defined: every code is C's zero point.
    defined = {(0.1, 0.1, np.inf), (0.0, 0.1, 0.1)}
    assert {str(c) for c in cases} - {str(r) for r in refused} == {str(d) for d in defined}


@pytest.mark.parametrize("dtype", QT)
def test_qlinear_average_pool_non_finite_scales(dtype):
    """Finite averages are matched (a zero x_scale or an infinite y_scale: the
    zero point); inf or NaN ones (x_scale inf or NaN, y_scale 0) reach an
    undefined conversion in onnxruntime (+inf comes out as the lowest code) and
    are refused."""
    x = q8((1, 2, 5, 5), dtype)
    refused = []
    for sx in ODD:
        for sy in [np.inf, 0.0, 0.1]:
            inputs = {"x": x, "sx": np.array(sx, F32), "zx": np.array(3, dtype),
                      "sy": np.array(sy, F32), "zy": np.array(10, dtype)}
            got = _ours_or_refused("QLinearAveragePool", inputs, kernel_shape=[2, 2])
            if got is None:
                refused.append((sx, sy))
            else:
                assert_same(*got, what=f"QLinearAveragePool x_scale={sx} y_scale={sy}")
    undefined = [(sx, sy) for sx in ODD for sy in [np.inf, 0.0, 0.1]
                 if np.isnan(sx) or (sx == np.inf) or sy == 0.0]
    assert [str(r) for r in refused] == [str(u) for u in undefined]


@pytest.mark.parametrize("dtype", QT)
def test_qlinear_global_average_pool_scale_range(dtype):
    """onnxruntime refuses x_scale / (y_scale * cells) outside [2**-32, 256); NaN
    slips past its check into an undefined conversion: wasm_rt refuses both."""
    x = q8((1, 2, 4, 4), dtype)
    for sx in ODD:
        for sy in [np.inf, 0.0, 0.1]:
            inputs = {"x": x, "sx": np.array(sx, F32), "zx": np.array(3, dtype),
                      "sy": np.array(sy, F32), "zy": np.array(10, dtype)}
            got = _ours_or_refused("QLinearGlobalAveragePool", inputs)
            if sx == 0.1 and sy == 0.1:
                assert_same(*got, what="QLinearGlobalAveragePool")
            else:
                assert got is None, (sx, sy)
