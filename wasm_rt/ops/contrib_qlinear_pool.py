"""onnxruntime's com.microsoft QLinearGlobalAveragePool, QLinearAveragePool,
QLinearSoftmax and QLinearWhere.

QLinearGlobalAveragePool sums the 8-bit codes exactly in int32 and
requantizes once as MLAS does: float32(sum - zp * L) * (x_scale / (y_scale *
L)), round half to even, add the zero point, saturate. QLinearAveragePool
dequantizes to float32 and sums each window in onnxruntime's order (windows
covering the whole input without pads take the global path, as there).
QLinearSoftmax reads exp from onnxruntime's 256-entry float table and sums it
sequentially in float32.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidArgument
from ..limits import check_alloc
from ..registry import register
from ._qgemm import requantize
from ._windows import pad_for_windows, plan_windows, window_view
from .contrib_qlinear import _lookup, check_q8, mlas_codes, scalar_param

_F32 = np.float32
MS = "com.microsoft"


@register("QLinearGlobalAveragePool", since=1, domain=MS)
def qlinear_global_average_pool(x, x_scale, x_zero_point, y_scale, y_zero_point, *, channels_last=0):
    op = "QLinearGlobalAveragePool"
    check_q8(x, "X", op)
    if x.ndim < 3:
        raise InvalidArgument(f"{op}: X must be [N, C, spatial...], got shape {x.shape}")
    sx = scalar_param(x_scale, "x_scale", op, np.float32)
    sy = scalar_param(y_scale, "y_scale", op, np.float32)
    zx = int(scalar_param(x_zero_point, "x_zero_point", op, x.dtype))
    zy = scalar_param(y_zero_point, "y_zero_point", op, x.dtype)
    axes = tuple(range(1, x.ndim - 1)) if channels_last else tuple(range(2, x.ndim))
    size = int(np.prod([x.shape[a] for a in axes]))
    acc = x.astype(np.int32).sum(axis=axes, keepdims=True, dtype=np.int64) - zx * size
    with np.errstate(all="ignore"):
        scale = sx / (sy * _F32(size))
    # MLAS refuses ratios whose output would be constant (and NaN passes its
    # check only to reach an undefined conversion): the same range here.
    if size >= 1 << 24 or not (_F32(2**-32) <= scale < _F32(256)):
        raise InvalidArgument(
            f"{op}: x_scale / (y_scale * {size} cells) = {scale} must lie in [2**-32, 256) "
            f"with fewer than 2**24 cells (x_scale {sx}, y_scale {sy}), as onnxruntime requires"
        )
    return requantize(acc.astype(np.int32), scale, zy, x.dtype)


@register("QLinearWhere", since=1, domain=MS)
def qlinear_where(condition, x, x_scale, x_zero_point, y, y_scale, y_zero_point, z_scale, z_zero_point):
    op = "QLinearWhere"
    if condition.dtype != np.bool_:
        raise InvalidArgument(f"{op}: condition must be bool, got {condition.dtype}")
    check_q8(x, "X", op)
    if y.dtype != x.dtype:
        raise InvalidArgument(f"{op}: X is {x.dtype} but Y is {y.dtype}")
    sz = scalar_param(z_scale, "z_scale", op, np.float32)
    zz = scalar_param(z_zero_point, "z_zero_point", op, x.dtype)
    parts = []
    for v, s, z, name in ((x, x_scale, x_zero_point, "x"), (y, y_scale, y_zero_point, "y")):
        s = scalar_param(s, f"{name}_scale", op, np.float32)
        z = scalar_param(z, f"{name}_zero_point", op, x.dtype)
        # Requantized to Z through onnxruntime's identity lookup table.
        same = s == sz and z == zz
        parts.append(v if same else _lookup(op, v, s, z, sz, zz, lambda t: t))
    return np.where(condition, parts[0], parts[1])


def _q_params(op, x, x_scale, x_zero_point, y_scale, y_zero_point):
    """Scalar scales (float32) and zero points (X's type, 0 when omitted)."""
    check_q8(x, "X", op)
    sx = scalar_param(x_scale, "x_scale", op, np.float32)
    sy = scalar_param(y_scale, "y_scale", op, np.float32)
    zx, zy = (
        np.zeros((), x.dtype) if z is None else scalar_param(z, name, op, x.dtype)
        for z, name in ((x_zero_point, "x_zero_point"), (y_zero_point, "y_zero_point"))
    )
    return sx, zx, sy, zy


@register("QLinearAveragePool", since=1, domain=MS)
def qlinear_average_pool(
    x,
    x_scale,
    x_zero_point,
    y_scale,
    y_zero_point=None,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    channels_last=0,
    count_include_pad=0,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    op = "QLinearAveragePool"
    sx, zx, sy, zy = _q_params(op, x, x_scale, x_zero_point, y_scale, y_zero_point)
    if x.ndim < 3:
        raise InvalidArgument(f"{op}: X must be [N, C, spatial...], got {x.shape}")
    nchw = np.moveaxis(x, -1, 1) if channels_last else x
    if kernel_shape is None or len(kernel_shape) != x.ndim - 2:
        raise InvalidArgument(
            f"{op}: kernel_shape {kernel_shape} needs one value per spatial axis of "
            f"{nchw.shape} (N, C, spatial...)"
        )
    try:
        win = plan_windows(
            nchw.shape[2:], kernel_shape, strides=strides, pads=pads,
            auto_pad=auto_pad, ceil_mode=ceil_mode,
        )
    except ValueError as e:
        raise InvalidArgument(f"{op}: {e}") from None
    spatial, kernel = nchw.shape[2:], win.kernel
    if any(p >= k for p, k in zip(win.pads_begin + win.pads_end, kernel + kernel)):
        raise InvalidArgument(
            f"{op}: pads {pads} must be smaller than kernel_shape {kernel}"
        )
    if kernel == spatial and not any(win.pads_begin + win.pads_end):
        # onnxruntime takes the exact integer global path for whole-input windows.
        return qlinear_global_average_pool(
            x, sx, zx, sy, zy, channels_last=channels_last
        )
    check_alloc(nchw.shape, _F32, f"{op} dequantized input")
    check_alloc(nchw.shape[:2] + win.out, _F32, f"{op} output")
    with np.errstate(all="ignore"):  # an infinite x_scale: inf, and NaN at the zero point
        # dequantize_array: x_scale * (x - zp) in float32.
        xf = (nchw.astype(np.int32) - np.int32(zx)).astype(_F32) * sx
        view = window_view(pad_for_windows(xf, win, 0, f"{op} padded input"), win)
        # onnxruntime adds a window's cells in row-major order from 0 in float32;
        # summing tap by tap adds the same cells in the same order (the pads add
        # exact zeros), so every partial sum rounds identically.
        taps = np.ndindex(*kernel)
        acc = np.array(view[(Ellipsis,) + next(taps)], dtype=_F32)
        for tap in taps:
            acc += view[(Ellipsis,) + tap]
    if count_include_pad:
        count = _F32(np.prod(kernel))  # the whole kernel, even past the end pads
    else:
        # Cells of each window inside the input, axis by axis (outer product).
        count = np.ones((), np.int64)
        for ax, (n, k, s, b, o) in enumerate(
            zip(spatial, kernel, win.strides, win.pads_begin, win.out)
        ):
            start = np.arange(o, dtype=np.int64) * s - b
            per_axis = np.minimum(start + k, n) - np.maximum(start, 0)
            count = count[..., None] * per_axis if ax else per_axis
        count = count.astype(_F32)
    # quantize_value: nearbyintf(avg / y_scale + y_zero_point), saturated. An
    # infinite x_scale or a zero y_scale makes it inf or NaN, which onnxruntime
    # converts to the x86 "integer indefinite" (+inf gives the lowest code, not
    # the highest): undefined, refused by mlas_codes.
    with np.errstate(all="ignore"):
        v = (acc / count) / sy + _F32(zy)
    y = mlas_codes(v, x.dtype, op)
    return np.moveaxis(y, 1, -1) if channels_last else y


def _softmax_table(x_scale: np.float32, reduce_len: int) -> np.ndarray:
    """onnxruntime's exp table: entry i is exp((i - 255 + shift) * x_scale) in
    float64 rounded to float32, the shift keeping the sum of ``reduce_len``
    entries below float32's max with 5 bits in reserve."""
    shift = np.log(np.float64(np.finfo(_F32).max) / reduce_len)
    codes = np.arange(256, dtype=np.float64)
    # IEEE float math for any x_scale: inf gives exp(0 * inf) = NaN in the last
    # entry and 0 elsewhere, 0 or NaN give NaN everywhere, a negative one
    # entries that overflow to inf; the caller refuses what reaches a conversion.
    with np.errstate(all="ignore"):
        shift = max(0.0, shift - 5) / np.float64(x_scale)
        return np.exp((codes - 255 + shift) * np.float64(x_scale)).astype(_F32)


def _check_softmax_codes(v, total, dtype, sx, sy):
    """onnxruntime casts nearbyintf(e * floor(1 / y_scale) / sum) to uint32 (uint8
    X) or int32 (int8 X), and leaves a row whose sum is 0 unwritten. A y_scale of
    inf gives 0 (every code is the zero point), defined; NaN (x_scale inf, 0 or
    NaN), inf (y_scale 0) or out-of-range values are undefined conversions
    (trapping in WebAssembly), and are refused."""
    op = "QLinearSoftmax"
    lo, hi = (-1.0, 2.0**32 - 256) if dtype == np.uint8 else (-(2.0**31) + 128, 2.0**31 - 128)
    with np.errstate(invalid="ignore"):
        bad = ~((v > lo) & (v < hi))  # NaN compares False
    if (total == 0).any() or bad.any():
        what = "a row whose exp sum is 0" if (total == 0).any() else (
            f"{int(bad.sum())} of {v.size} codes NaN, infinite or out of range")
        raise InvalidArgument(
            f"{op}: x_scale {sx} and y_scale {sy} give {what} before onnxruntime's conversion "
            f"to integers, where its result is undefined (machine-dependent); refused"
        )


@register("QLinearSoftmax", since=1, domain=MS)
def qlinear_softmax(
    x, x_scale, x_zero_point, y_scale, y_zero_point=None, *, axis=-1, opset=None
):
    op = "QLinearSoftmax"
    sx, _, sy, zy = _q_params(op, x, x_scale, x_zero_point, y_scale, y_zero_point)
    if opset is None:
        raise InvalidArgument(f"{op}: attribute opset is required")
    if x.size == 0:
        return x.copy()
    rank = max(x.ndim, 1)
    # The schema's default -1 applies at every opset: onnxruntime's opset-12
    # fallback to axis 1 never triggers because the attribute is always filled.
    axis = int(axis)
    if not -rank <= axis < rank:
        raise InvalidArgument(f"{op}: axis {axis} out of range for shape {x.shape}")
    axis %= rank
    # Before opset 13 the rows are the flattened dims from axis on; from 13
    # the single axis (onnxruntime transposes it last).
    moved = x.reshape(1) if x.ndim == 0 else x
    moved = moved if opset < 13 else np.moveaxis(moved, axis, -1)
    rows = moved.reshape(-1, math.prod(moved.shape[axis if opset < 13 else -1 :]))
    check_alloc(rows.shape, np.float64, f"{op} exp and sums")
    table = _softmax_table(sx, rows.shape[1])
    codes = rows.astype(np.int32)
    # Shifted so that each row's max reads the table's last entry.
    e = table[codes - codes.max(axis=1, keepdims=True) + 255]
    with np.errstate(all="ignore"):
        # Sequential float32 sums, as onnxruntime's loop (np.sum would pair them).
        total = np.add.accumulate(e, axis=1, dtype=_F32)[:, -1:]
        mult = np.floor(_F32(1) / sy)  # onnxruntime keeps only floor(1 / y_scale)
        v = np.rint((e * mult) / total)
    _check_softmax_codes(v, total, x.dtype, sx, sy)
    # Rounded before the zero point is added (in integers), then saturated.
    y = np.minimum(v, _F32(1 << 20)).astype(np.int64) + int(zy)
    info = np.iinfo(x.dtype)
    y = np.clip(y, info.min, info.max).astype(x.dtype)
    y = y.reshape(moved.shape)
    return (y if opset < 13 else np.moveaxis(y, -1, axis)).reshape(x.shape)
