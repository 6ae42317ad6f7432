"""Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.

Scales and zero points are per tensor (scalar), per axis (1-D along ``axis``,
opset 13+) or blocked (same rank as x, ``block_size`` elements of x share one
entry along ``axis``, opset 21+).  Only integer quantized types exist here:
numpy has no float8/int4, so those raise NotImplemented.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import NotImplemented as NotImplementedErr
from ..registry import register
from ._common import normalize_axis

_RANGES = {
    np.dtype(np.uint8): (0, 255),
    np.dtype(np.int8): (-128, 127),
    np.dtype(np.uint16): (0, 65535),
    np.dtype(np.int16): (-32768, 32767),
}


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
                f"quantizing to {dtypes.type_name(int(output_dtype))} is not supported: "
                "numpy has no such dtype; use int8, uint8, int16 or uint16"
            ) from None
    else:
        target = np.dtype(np.uint8)
    if target not in _RANGES:
        raise TypeError(
            f"cannot quantize to {target}; expected int8, uint8, int16 or uint16"
        )
    return target


def _quantize(x, scale, zero_point, axis, block_size, output_dtype, precision):
    target = _quantized_dtype(zero_point, output_dtype)
    scale = _broadcastable(scale, x, axis, block_size, "y_scale")
    if precision:
        work = dtypes.to_numpy(int(precision))
        x, scale = x.astype(work), scale.astype(work)
    with np.errstate(all="ignore"):
        # Divide in the input's precision, as onnxruntime does, then round half
        # to even; adding the zero point in float64 is exact for these ranges.
        q = np.rint(x / scale).astype(np.float64)
        if zero_point is not None:
            q = q + _broadcastable(zero_point, x, axis, block_size, "y_zero_point")
        lo, hi = _RANGES[target]
        # NaN saturates to the low end, matching onnxruntime's clamp.
        q = np.nan_to_num(np.clip(q, lo, hi), nan=lo)
    return q.astype(target)


def _dequantize(x, scale, zero_point, axis, block_size, output_dtype):
    scale = np.asarray(scale)
    if output_dtype and dtypes.to_numpy(int(output_dtype)) != scale.dtype:
        raise ValueError(
            f"output_dtype {dtypes.type_name(int(output_dtype))} disagrees with "
            f"scale type {scale.dtype}"
        )
    if zero_point is not None and zero_point.dtype != x.dtype:
        raise TypeError(
            f"x_zero_point type {zero_point.dtype} differs from x type {x.dtype}"
        )
    if x.dtype.kind not in "iu":
        raise NotImplementedErr(
            f"DequantizeLinear of {x.dtype} is not supported; x must be an integer type"
        )
    scale_b = _broadcastable(scale, x, axis, block_size, "x_scale")
    shifted = x.astype(np.int64)
    if zero_point is not None:
        shifted = shifted - _broadcastable(
            zero_point, x, axis, block_size, "x_zero_point"
        )
    # float16 scales are applied in float32, then rounded once.
    work = np.float32 if scale.dtype == np.float16 else scale.dtype
    return (shifted.astype(work) * scale_b.astype(work)).astype(scale.dtype)


@register("QuantizeLinear", since=10)
def quantize_linear_10(x, y_scale, y_zero_point=None):
    return _quantize(x, y_scale, y_zero_point, 1, 0, 0, 0)


@register("QuantizeLinear", since=13)
def quantize_linear_13(x, y_scale, y_zero_point=None, *, axis=1, saturate=1):
    # saturate only concerns float8 outputs, which numpy cannot hold.
    return _quantize(x, y_scale, y_zero_point, axis, 0, 0, 0)


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
        x, y_scale, y_zero_point, axis, block_size, output_dtype, precision
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
    with np.errstate(all="ignore"):
        q = np.clip(np.rint(x / scale) + np.float32(zero_point), 0, 255).astype(
            np.uint8
        )
    return q, np.asarray(scale), np.asarray(zero_point)
