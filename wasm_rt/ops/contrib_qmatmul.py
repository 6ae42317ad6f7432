"""onnxruntime's com.microsoft 8-bit matrix operators: QGemm,
DynamicQuantizeMatMul, MatMulIntegerToFloat, and the contrib QuantizeLinear /
DequantizeLinear that QDQ models use with ``use_qdq_contrib_ops``.

The integer products are exact (see ``_qgemm``); the float epilogue follows
MLAS: ``float32(acc) * multiplier + bias``, the multiplier folded in float32
(``a_scale * b_scale``, for QGemm ``alpha * a_scale * b_scale / y_scale``).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument
from ..registry import register
from ._qgemm import qgemm_i32, requantize
from .quantize import _dequantize, _quantize, dynamic_quantize_linear

_F32 = np.float32
_Q8 = (np.dtype(np.uint8), np.dtype(np.int8))
MS = "com.microsoft"


def _scalar(x, what, op):
    x = np.asarray(x)
    if x.size != 1 or x.ndim > 1:
        raise InvalidArgument(f"{op}: {what} must be a scalar or 1 element, got {x.shape}")
    return x.reshape(())


def _per_column(x, n, what, op):
    """A scalar, or a per-column vector of B's N columns, as a broadcastable array."""
    x = np.asarray(x)
    if x.size == 1 and x.ndim <= 1:
        return x.reshape(())
    if x.shape[-1:] == (n,) and all(d == 1 for d in x.shape[-2:-1]):
        return x.reshape(x.shape[:-2] + (1, n)) if x.ndim > 1 else x
    raise InvalidArgument(
        f"{op}: {what} must be a scalar or per column of B ([{n}]), got {x.shape}"
    )


def _check_q8(x, what, op):
    if x.dtype not in _Q8:
        raise InvalidArgument(f"{op}: {what} must be uint8 or int8, got {x.dtype}")


def _int_to_float(op, a_q, a_zp, a_scale, b, b_scale, b_zp, bias):
    """(a_q - a_zp) @ (b - b_zp) * (a_scale * b_scale) + bias, as MLAS does it."""
    _check_q8(b, "B", op)
    if a_q.ndim < 1 or b.ndim < 2 or a_q.shape[-1] != b.shape[-2]:
        raise InvalidArgument(f"{op}: A {a_q.shape} and B {b.shape} do not multiply")
    n = b.shape[-1]
    a2 = a_q[None] if a_q.ndim == 1 else a_q
    bzp = None if b_zp is None else _per_column(b_zp, n, "B zero point", op)
    if bzp is not None and bzp.dtype != b.dtype:
        raise InvalidArgument(f"{op}: B zero point is {bzp.dtype}, B is {b.dtype}")
    acc = qgemm_i32(a2, a_zp, b, bzp)
    if a_q.ndim == 1:
        acc = acc[..., 0, :]
    try:
        b_mult = _per_column(b_scale, n, "B scale", op).astype(_F32)
        late = None
    except InvalidArgument:
        # onnxruntime multiplies the finished output by any other B scale shape.
        b_mult, late = _F32(1), np.asarray(b_scale, _F32)
    mult = np.asarray(a_scale, _F32) * b_mult
    y = acc.astype(_F32) * mult
    if bias is not None:
        y += np.asarray(bias, _F32)
    return y if late is None else y * late


@register("DynamicQuantizeMatMul", since=1, domain=MS)
def dynamic_quantize_matmul(a, b, b_scale, b_zero_point=None, bias=None):
    op = "DynamicQuantizeMatMul"
    if a.dtype != _F32:
        raise InvalidArgument(f"{op}: A must be float32, got {a.dtype}")
    # A is quantized to uint8 over the whole tensor, as DynamicQuantizeLinear.
    a_q, a_scale, a_zp = dynamic_quantize_linear(a)
    return _int_to_float(op, a_q, a_zp, a_scale, b, b_scale, b_zero_point, bias)


@register("MatMulIntegerToFloat", since=1, domain=MS)
def matmul_integer_to_float(
    a, b, a_scale, b_scale, a_zero_point=None, b_zero_point=None, bias=None
):
    op = "MatMulIntegerToFloat"
    _check_q8(a, "A", op)
    a_zp = None if a_zero_point is None else _scalar(a_zero_point, "A zero point", op)
    a_scale = np.asarray(a_scale, _F32)
    if a_scale.size == 1:
        return _int_to_float(op, a, a_zp, a_scale.reshape(()), b, b_scale, b_zero_point, bias)
    # A per-row scale ([M, 1]) multiplies the finished output, as in onnxruntime.
    y = _int_to_float(op, a, a_zp, _F32(1), b, b_scale, b_zero_point, bias)
    return y * a_scale


@register("QGemm", since=1, domain=MS)
def qgemm(
    a,
    a_scale,
    a_zero_point,
    b,
    b_scale,
    b_zero_point,
    c=None,
    y_scale=None,
    y_zero_point=None,
    *,
    alpha=1.0,
    transA=0,  # noqa: N803 - onnxruntime's attribute names
    transB=0,  # noqa: N803
):
    op = "QGemm"
    _check_q8(a, "A", op)
    _check_q8(b, "B", op)
    if a.ndim != 2 or b.ndim != 2:
        raise InvalidArgument(f"{op}: A and B must be 2-D, got {a.shape} and {b.shape}")
    a = a.T if transA else a
    b = b.T if transB else b
    if a.shape[1] != b.shape[0]:
        raise InvalidArgument(f"{op}: A {a.shape} and B {b.shape} do not multiply")
    n = b.shape[1]
    b_zp = _per_column(b_zero_point, n, "B zero point", op)
    b_s = _per_column(b_scale, n, "B scale", op)
    if b_zp.shape != b_s.shape:
        raise InvalidArgument(
            f"{op}: B scale {b_s.shape} and B zero point {b_zp.shape} must match"
        )
    acc = qgemm_i32(a, _scalar(a_zero_point, "A zero point", op), b, b_zp)
    if c is not None:
        if c.dtype != np.int32:
            raise InvalidArgument(f"{op}: C must be int32, got {c.dtype}")
        acc = acc + np.broadcast_to(c, acc.shape)
    # Folded in float32 in onnxruntime's order: alpha * a_scale * b_scale / y_scale.
    scale = _F32(alpha) * _scalar(a_scale, "A scale", op).astype(_F32) * b_s.astype(_F32)
    if y_scale is not None:
        scale = scale / _scalar(y_scale, "y scale", op).astype(_F32)
    if y_zero_point is None:
        return acc.astype(_F32) * scale
    y_zp = _scalar(y_zero_point, "y zero point", op)
    _check_q8(y_zp, "y zero point", op)
    return requantize(acc, scale, y_zp, y_zp.dtype)


@register("QuantizeLinear", since=1, domain=MS)
def ms_quantize_linear(x, y_scale, y_zero_point=None, *, axis=1):
    # The contrib op is the ONNX-domain one per tensor or per axis (no blocks).
    return _quantize(x, y_scale, y_zero_point, axis, 0, 0, 0)


@register("DequantizeLinear", since=1, domain=MS)
def ms_dequantize_linear(x, x_scale, x_zero_point=None, *, axis=1):
    return _dequantize(x, x_scale, x_zero_point, axis, 0, 0)
