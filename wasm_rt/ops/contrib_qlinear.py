"""onnxruntime's com.microsoft QOperator-format operators: QLinearAdd,
QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearConcat.

Each reproduces MLAS's arithmetic so that the 8-bit results are identical:
scale ratios folded in float32, fused multiply-adds emulated in float64 (the
product of an 8-bit integer and a float32 is exact there, so one rounding to
float32 remains, as in an FMA), round half to even, saturate. The pools and
softmax live in ``contrib_qlinear_pool``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument
from ..registry import register

_F32 = np.float32
_F64 = np.float64
_Q8 = (np.dtype(np.uint8), np.dtype(np.int8))
MS = "com.microsoft"


def scalar_param(x, what, op, dtype=None):
    x = np.asarray(x)
    if x.size != 1 or x.ndim > 1:
        raise InvalidArgument(f"{op}: {what} must be a scalar, got shape {x.shape}")
    if dtype is not None and x.dtype != dtype:
        raise InvalidArgument(f"{op}: {what} must be {dtype}, got {x.dtype}")
    return x.reshape(())


def check_q8(x, what, op):
    if x.dtype not in _Q8:
        raise InvalidArgument(f"{op}: {what} must be uint8 or int8, got {x.dtype}")


def saturate(v: np.ndarray, dtype, op: str = "") -> np.ndarray:
    """Round half to even and saturate to the 8-bit ``dtype``; infinities saturate
    (onnxruntime clamps in float before converting). NaN has no code: converting
    it to an integer is undefined (it traps in WebAssembly), so it is refused."""
    if np.isnan(v).any():
        raise _undefined(op, v, "NaN")
    info = np.iinfo(dtype)
    return np.clip(np.rint(v), info.min, info.max).astype(dtype)


def _undefined(op, v, what) -> InvalidArgument:
    n = int(np.count_nonzero(np.isnan(v) if what == "NaN" else ~np.isfinite(v)))
    return InvalidArgument(
        f"{op}: the scales given make {n} of {np.size(v)} results {what} before the conversion "
        f"to integer codes, where onnxruntime's result is undefined (machine-dependent)"
    )


# MLAS converts to int32 first (cvtps2dq) and saturates after: values outside
# int32, infinities and NaN all become the "integer indefinite", which is not
# the function's value but an accident of the instruction set.
_I32 = _F32(2**31)


def mlas_codes(v: np.ndarray, dtype, op: str) -> np.ndarray:
    """MLAS's float -> int32 -> saturated 8-bit conversion, defined for finite
    values within int32 only; anything else is refused by name."""
    with np.errstate(invalid="ignore"):
        ok = np.abs(v) < _I32  # False for NaN and infinities
    if not ok.all():
        raise _undefined(op, v, "NaN, infinite or beyond int32")
    return saturate(v, dtype, op)


def _fma(x, y, z):
    """float32 fma(x, y, z) for an integer-valued x: exact product, one rounding."""
    return (x.astype(_F64) * _F64(y) + np.asarray(z, _F64)).astype(_F32)


def _params(op, a, a_scale, a_zp, b_scale=None):
    check_q8(a, "A", op)
    s = scalar_param(a_scale, "scale", op, np.float32)
    z = _F32(0) if a_zp is None else _F32(scalar_param(a_zp, "zero point", op, a.dtype))
    return s, z


def _span_scalar(x, other):
    """onnxruntime's broadcast loops treat an input as a scalar per span when its
    innermost dimension is 1 while the other's is not."""
    return x.size == 1 or (x.ndim and x.shape[-1] == 1 and other.shape[-1:] != (1,))


@register("QLinearAdd", since=1, domain=MS)
def qlinear_add(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point=None):
    op = "QLinearAdd"
    sa, za = _params(op, a, a_scale, a_zero_point)
    check_q8(b, "B", op)
    if b.dtype != a.dtype:
        raise InvalidArgument(f"{op}: A is {a.dtype} but B is {b.dtype}")
    sb, zb = _params(op, b, b_scale, b_zero_point)
    sc, zc = _params(op, a, c_scale, c_zero_point)
    np.broadcast_shapes(a.shape, b.shape)
    # Non-finite or zero scales give inf/NaN ratios: computed as float math and
    # refused by mlas_codes wherever a result is not a finite int32 value.
    with np.errstate(all="ignore"):
        r_ac, r_bc = sa / sc, sb / sc
        const = zc - (r_ac * za + r_bc * zb)
        # MLAS (AVX2): fma(a, r_ac, fma(b, r_bc, const)); a scalar side is folded
        # into the constant with a separate multiply and add.
        if _span_scalar(a, b):
            v = _fma(b, r_bc, const + (a.astype(_F32) * r_ac))
        elif _span_scalar(b, a):
            v = _fma(a, r_ac, const + (b.astype(_F32) * r_bc))
        else:
            v = _fma(a, r_ac, _fma(b, r_bc, const))
    return mlas_codes(v, a.dtype, op)


@register("QLinearMul", since=1, domain=MS)
def qlinear_mul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point=None):
    op = "QLinearMul"
    sa, za = _params(op, a, a_scale, a_zero_point)
    check_q8(b, "B", op)
    if b.dtype != a.dtype:
        raise InvalidArgument(f"{op}: A is {a.dtype} but B is {b.dtype}")
    sb, zb = _params(op, b, b_scale, b_zero_point)
    sc, zc = _params(op, a, c_scale, c_zero_point)
    with np.errstate(all="ignore"):
        mult = sa * sb / sc  # C_scale 0 or an infinite scale: inf or NaN
        # MLAS: (a - za) * (b - zb) * (sa * sb / sc) in float32, then + zc.
        prod = (a.astype(_F32) - za) * (b.astype(_F32) - zb)
        v = prod * mult + zc
    return mlas_codes(v, a.dtype, op)


def _lookup(op, x, x_scale, x_zp, y_scale, y_zp, fn):
    """onnxruntime's 256-entry table: dequantize, fn in float32, quantize."""
    sx, zx = _params(op, x, x_scale, x_zp)
    sy, zy = _params(op, x, y_scale, y_zp)
    info = np.iinfo(x.dtype)
    codes = np.arange(info.min, info.max + 1, dtype=_F32)
    # MlasQuantizeLinear clamps in float before converting, so infinities
    # saturate; a NaN entry (0 * inf, inf / inf) is refused by saturate.
    with np.errstate(all="ignore"):
        table = saturate(fn((codes - zx) * sx) / sy + zy, x.dtype, op)
    return table[x.astype(np.int16) - info.min]


@register("QLinearSigmoid", since=1, domain=MS)
def qlinear_sigmoid(x, x_scale, x_zero_point, y_scale, y_zero_point=None):
    def sigmoid(v):
        return (_F32(1) / (_F32(1) + np.exp(-v))).astype(_F32)

    return _lookup("QLinearSigmoid", x, x_scale, x_zero_point, y_scale, y_zero_point, sigmoid)


@register("QLinearLeakyRelu", since=1, domain=MS)
def qlinear_leaky_relu(x, x_scale, x_zero_point, y_scale, y_zero_point=None, *, alpha=0.01):
    a = _F32(alpha)

    def leaky(v):
        return np.where(v >= 0, v, v * a)

    return _lookup("QLinearLeakyRelu", x, x_scale, x_zero_point, y_scale, y_zero_point, leaky)


@register("QLinearConcat", since=1, domain=MS)
def qlinear_concat(y_scale, y_zero_point, *inputs, axis=None):
    op = "QLinearConcat"
    if axis is None:
        raise InvalidArgument(f"{op}: attribute axis is required")
    if len(inputs) % 3 or not inputs:
        raise InvalidArgument(
            f"{op}: inputs after y_scale, y_zero_point come in (x, scale, zero point) "
            f"triples, got {len(inputs)}"
        )
    zy = scalar_param(y_zero_point, "y_zero_point", op)
    check_q8(zy, "y_zero_point", op)
    sy = scalar_param(y_scale, "y_scale", op, np.float32)
    parts = []
    for i in range(0, len(inputs), 3):
        x, sx, zx = inputs[i : i + 3]
        check_q8(x, f"input {i // 3}", op)
        sx = scalar_param(sx, f"scale of input {i // 3}", op, np.float32)
        zx = scalar_param(zx, f"zero point of input {i // 3}", op, x.dtype)
        if sx == sy and zx == zy:
            parts.append(x)  # onnxruntime copies inputs already in y's quantization
            continue
        parts.append(_lookup(op, x, sx, zx, sy, zy, lambda v: v))
    if any(p.dtype != zy.dtype for p in parts):
        raise InvalidArgument(f"{op}: every input must be {zy.dtype} like y_zero_point")
    return np.concatenate(parts, axis=axis)
