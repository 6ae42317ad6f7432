"""Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.

Scales and zero points are per tensor (scalar), per axis (1-D along ``axis``,
opset 13+) or blocked (same rank as x, ``block_size`` elements of x share one
entry along ``axis``, opset 21+).  Quantized types: int8/uint8/int16/uint16,
the sub-byte integers int4/uint4/int2/uint2 (rounded, then saturated to their
range) and the float types float8e4m3fn/float8e4m3fnuz/float8e5m2/
float8e5m2fnuz/float4e2m1 (rounded to nearest even; ``saturate`` as in Cast).
Low-precision tensors are wasm_rt's structured dtypes (see wasm_rt.dtypes);
bfloat16 and float8e8m0 scales and bfloat16 inputs are computed in float32
and the result rounded once to the output type, as onnxruntime does.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes, lowprec
from ..errors import NotImplemented as NotImplementedErr
from ..registry import register
from ._common import normalize_axis

_RANGES = {
    np.dtype(np.uint8): (0, 255),
    np.dtype(np.int8): (-128, 127),
    np.dtype(np.uint16): (0, 65535),
    np.dtype(np.int16): (-32768, 32767),
    dtypes.uint4: (0, 15),
    dtypes.int4: (-8, 7),
    dtypes.uint2: (0, 3),
    dtypes.int2: (-2, 1),
}
_FLOAT_QUANT = frozenset(lowprec.FLOAT8_TYPES | {dtypes.float4e2m1})
_QUANT_NAMES = (
    "int8, uint8, int16, uint16, int4, uint4, int2, uint2, float8*, float4e2m1"
)


def _plain(a: np.ndarray) -> np.ndarray:
    """A low-precision array's values as float32 (int4 & co. as int8); numpy
    arrays unchanged."""
    if not dtypes.is_lowprec(a.dtype):
        return a
    if a.dtype in _RANGES:
        return lowprec.bits(a)
    return lowprec.to_float32(a)


def _broadcastable(param, x, axis, block_size, name):
    """Reshape a scale or zero point so it broadcasts against x."""
    param = np.asarray(param)
    if param.size == 1 and block_size == 0:
        return param.reshape(())
    axis = normalize_axis(axis, x.ndim)
    if block_size > 0:
        if param.ndim != x.ndim:
            raise ValueError(
                f"blocked {name} must have the rank of x ({x.ndim}), got shape {param.shape}"
            )
        expanded = np.repeat(param, block_size, axis=axis)
        expanded = np.take(expanded, np.arange(x.shape[axis]), axis=axis)
        if expanded.shape != x.shape:
            raise ValueError(
                f"blocked {name} shape {param.shape} with block_size {block_size} "
                f"does not cover x of shape {x.shape}"
            )
        return expanded
    if param.ndim != 1 or param.shape[0] != x.shape[axis]:
        raise ValueError(
            f"per-axis {name} must be 1-D of length {x.shape[axis]} (axis {axis} of "
            f"x {x.shape}), got shape {param.shape}"
        )
    shape = [1] * x.ndim
    shape[axis] = -1
    return param.reshape(shape)


def _quantized_dtype(zero_point, output_dtype) -> np.dtype:
    if zero_point is not None:
        target = zero_point.dtype
        if output_dtype and dtypes.to_numpy(int(output_dtype)) != target:
            raise ValueError(
                f"output_dtype {dtypes.type_name(int(output_dtype))} disagrees with "
                f"zero point type {target}"
            )
    elif output_dtype:
        try:
            target = dtypes.to_numpy(int(output_dtype))
        except NotImplementedErr:
            raise NotImplementedErr(
                f"quantizing to {dtypes.type_name(int(output_dtype))} is not "
                f"supported; expected one of {_QUANT_NAMES}"
            ) from None
    else:
        target = np.dtype(np.uint8)
    if target not in _RANGES and target not in _FLOAT_QUANT:
        raise TypeError(f"cannot quantize to {target}; expected one of {_QUANT_NAMES}")
    return target


def _quantize(
    x, scale, zero_point, axis, block_size, output_dtype, precision, saturate=1
):
    target = _quantized_dtype(zero_point, output_dtype)
    if (
        target in (np.uint8, np.int8)
        and x.dtype == np.float32
        and np.size(scale) == 1
        and np.asarray(scale).dtype == np.float32
        and not precision
        and (zero_point is None or zero_point.size == 1)
    ):
        # The per-tensor 8-bit case of every QDQ activation, without float64.
        zp = 0 if zero_point is None else zero_point.reshape(-1)[0]
        return _quantize_8bit(x, np.asarray(scale).reshape(-1)[0], zp, target)
    both_bf16 = x.dtype == dtypes.bfloat16 and scale.dtype == dtypes.bfloat16
    x, scale = _plain(x), _plain(np.asarray(scale))
    scale = _broadcastable(scale, x, axis, block_size, "y_scale")
    if precision:
        work = dtypes.to_numpy(int(precision))
        if dtypes.is_lowprec(work):  # bfloat16 precision: float32, rounded below
            work, both_bf16 = np.dtype(np.float32), True
        x, scale = x.astype(work), scale.astype(work)
    with np.errstate(all="ignore"):
        # Divide in the input's precision, as onnxruntime does (bfloat16 in
        # float32, rounded to bfloat16 when both operands are bfloat16).
        q = x / scale
        if both_bf16:
            q = lowprec.to_float32(lowprec.from_float(q, dtypes.bfloat16))
        zp = None
        if zero_point is not None:
            zp = _broadcastable(_plain(zero_point), x, axis, block_size, "y_zero_point")
        if target in _FLOAT_QUANT:
            # Float targets round once, to nearest even, in the cast.
            q = q.astype(np.float32) + (0 if zp is None else zp.astype(np.float32))
            return lowprec.from_float(q, target, saturate=bool(saturate))
        # Round half to even, then add the zero point in float64 (exact here).
        q = np.rint(q).astype(np.float64)
        if zp is not None:
            q = q + zp
        lo, hi = _RANGES[target]
        if dtypes.is_lowprec(target):
            # int4/uint4/int2/uint2: onnxruntime and ONNX's reference convert to
            # int32 before clamping, so NaN and +-inf all land on the low end.
            q = np.where(np.isfinite(q), q, lo)
        # NaN saturates to the low end, matching onnxruntime's clamp.
        q = np.nan_to_num(np.clip(q, lo, hi), nan=lo)
    if dtypes.is_lowprec(target):
        return lowprec.saturate_int(q.astype(np.int64), target)
    return q.astype(target)


def _dequantize(x, scale, zero_point, axis, block_size, output_dtype):
    scale = np.asarray(scale)
    out_dtype = dtypes.to_numpy(int(output_dtype)) if output_dtype else scale.dtype
    if out_dtype not in (np.float32, np.float16, dtypes.bfloat16):
        raise TypeError(
            f"DequantizeLinear output must be float, float16 or bfloat16, got "
            f"{dtypes.type_name(dtypes.from_numpy(out_dtype))} (set output_dtype when "
            "x_scale is float8e8m0)"
        )
    if zero_point is not None and zero_point.dtype != x.dtype:
        raise TypeError(
            f"x_zero_point type {zero_point.dtype} differs from x type {x.dtype}"
        )
    known = x.dtype in _RANGES or x.dtype in _FLOAT_QUANT
    if x.dtype.kind not in "iu" and not known:
        raise NotImplementedErr(
            f"DequantizeLinear of {x.dtype} is not supported; x must be one of "
            f"{_QUANT_NAMES} or int32"
        )
    is_float = x.dtype in _FLOAT_QUANT
    scale_b = _broadcastable(_plain(scale), x, axis, block_size, "x_scale")
    shifted = _plain(x).astype(np.float32 if is_float else np.int64)
    if zero_point is not None:
        shifted = shifted - _broadcastable(
            _plain(zero_point), x, axis, block_size, "x_zero_point"
        )
    # float16, bfloat16 and float8e8m0 scales are applied in float32, then the
    # product is rounded once to the output type.
    work = np.float64 if scale_b.dtype == np.float64 else np.float32
    y = shifted.astype(work) * scale_b.astype(work)
    if dtypes.is_lowprec(out_dtype):
        return lowprec.from_float(y, out_dtype)
    return y.astype(out_dtype)


@register("QuantizeLinear", since=10)
def quantize_linear_10(x, y_scale, y_zero_point=None):
    return _quantize(x, y_scale, y_zero_point, 1, 0, 0, 0)


@register("QuantizeLinear", since=13)
def quantize_linear_13(x, y_scale, y_zero_point=None, *, axis=1, saturate=1):
    # saturate only concerns float8 outputs (opset 19 added them and the attribute).
    return _quantize(x, y_scale, y_zero_point, axis, 0, 0, 0, saturate)


@register("QuantizeLinear", since=21)
def quantize_linear(
    x,
    y_scale,
    y_zero_point=None,
    *,
    axis=1,
    saturate=1,
    block_size=0,
    output_dtype=0,
    precision=0,
):
    return _quantize(
        x, y_scale, y_zero_point, axis, block_size, output_dtype, precision, saturate
    )


@register("DequantizeLinear", since=10)
def dequantize_linear_10(x, x_scale, x_zero_point=None):
    return _dequantize(x, x_scale, x_zero_point, 1, 0, 0)


@register("DequantizeLinear", since=13)
def dequantize_linear_13(x, x_scale, x_zero_point=None, *, axis=1):
    return _dequantize(x, x_scale, x_zero_point, axis, 0, 0)


@register("DequantizeLinear", since=21)
def dequantize_linear(
    x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0
):
    return _dequantize(x, x_scale, x_zero_point, axis, block_size, output_dtype)


def _quantize_8bit(x: np.ndarray, scale, zero_point: float, dtype) -> np.ndarray:
    """float32 x -> uint8/int8 with one scale: MLAS's QuantizeLinear, in place.

    x / scale in float32, round half to even, + zero point, saturate; NaN goes
    to the low end (fmax, like MLAS's max instruction). One float32 buffer.
    """
    lo, hi = (0, 255) if dtype == np.uint8 else (-128, 127)
    q = np.divide(x, np.float32(scale), dtype=np.float32)
    q = q if isinstance(q, np.ndarray) else np.array(q)  # 0-d x gives a scalar
    with np.errstate(invalid="ignore"):
        np.rint(q, out=q)
        q += np.float32(zero_point)
        np.fmax(q, np.float32(lo), out=q)
        np.fmin(q, np.float32(hi), out=q)
    return q.astype(dtype)


@register("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x):
    if x.dtype != np.float32:
        raise TypeError(f"DynamicQuantizeLinear takes float32, got {x.dtype}")
    # The range always includes 0 so that 0 is exactly representable; all
    # arithmetic stays in float32 like onnxruntime's.
    lo = np.minimum(np.min(x, initial=np.float32(0)), np.float32(0))
    hi = np.maximum(np.max(x, initial=np.float32(0)), np.float32(0))
    # onnxruntime uses scale 1 for an all-zero (or empty) input instead of 0.
    scale = (hi - lo) / np.float32(255) if hi != lo else np.float32(1)
    zero_point = np.uint8(np.clip(np.rint(np.float32(0) - lo / scale), 0, 255))
    q = _quantize_8bit(x, scale, zero_point, np.uint8)
    return q, np.asarray(scale), np.asarray(zero_point)
