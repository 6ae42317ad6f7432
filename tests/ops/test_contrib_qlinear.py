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
