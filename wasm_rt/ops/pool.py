"""Pooling: MaxPool, AveragePool, LpPool, their Global forms, MaxUnpool.

Windows are strided views of the padded input (see ``_windows``); the
reduction loops over the handful of kernel taps, each step a vectorized op
over the whole output.
"""

from __future__ import annotations

import math

import numpy as np

from ..limits import check_alloc
from ..registry import register
from ._windows import Windows, pad_for_windows, plan_windows, window_view


def _plan(
    x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, op
) -> Windows:
    if x.ndim < 3:
        raise ValueError(
            f"{op} needs an input of rank >= 3 (N, C, spatial...), got {x.shape}"
        )
    if kernel_shape is None or len(kernel_shape) != x.ndim - 2:
        raise ValueError(
            f"{op}: kernel_shape {kernel_shape} must have one value per spatial axis of {x.shape}"
        )
    win = plan_windows(
        x.shape[2:],
        kernel_shape,
        strides=strides,
        dilations=dilations,
        pads=pads,
        auto_pad=auto_pad,
        ceil_mode=ceil_mode,
    )
    check_alloc(x.shape[:2] + win.out, x.dtype, f"{op} output")
    return win


def _taps(view: np.ndarray, nd: int):
    """Yield the (N, C, *out) slice of each kernel tap of a window view."""
    kernel = view.shape[view.ndim - nd :]
    for tap in np.ndindex(*kernel):
        yield view[(Ellipsis,) + tap]


def _window_sum(xp: np.ndarray, win: Windows, dtype) -> np.ndarray:
    taps = _taps(window_view(xp, win), len(win.kernel))
    acc = np.array(next(taps), dtype=dtype)
    for t in taps:
        acc += t
    return acc


def _lowest(dtype) -> float | int:
    dtype = np.dtype(dtype)
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _max_indices(
    view: np.ndarray, win: Windows, x_shape, storage_order: int
) -> np.ndarray:
    """Flat input index of each window's first maximum, as onnxruntime reports it."""
    nd = len(win.kernel)
    lead = view.shape[: 2 + nd]
    flat = view.reshape(lead + (-1,))  # copies the windows once
    arg = flat.argmax(axis=-1)
    taps = np.unravel_index(arg, win.kernel)
    spatial = x_shape[2:]
    coords = []
    for i in range(nd):
        grid = np.arange(win.out[i]).reshape((-1,) + (1,) * (nd - 1 - i))
        coords.append(
            grid * win.strides[i] - win.pads_begin[i] + taps[i] * win.dilations[i]
        )
    if storage_order:
        # Column-major over the spatial axes: the first axis varies fastest.
        offset = sum(c * math.prod(spatial[:i]) for i, c in enumerate(coords))
    else:
        offset = sum(c * math.prod(spatial[i + 1 :]) for i, c in enumerate(coords))
    n, c = x_shape[:2]
    plane = np.arange(n * c).reshape(n, c, *([1] * nd)) * math.prod(spatial)
    return (plane + offset).astype(np.int64)


def _maxpool(
    ctx, x, auto_pad, ceil_mode, dilations, kernel_shape, pads, storage_order, strides
):
    win = _plan(
        x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "MaxPool"
    )
    xp = pad_for_windows(x, win, _lowest(x.dtype), "MaxPool padded input")
    view = window_view(xp, win)
    taps = _taps(view, len(win.kernel))
    y = np.array(next(taps))
    for t in taps:
        np.maximum(y, t, out=y)
    if ctx.num_outputs < 2:
        return y
    return y, _max_indices(view, win, x.shape, storage_order)


@register("MaxPool", since=1, context=True)
def maxpool_1(ctx, x, *, auto_pad="NOTSET", kernel_shape=None, pads=None, strides=None):
    return _maxpool(ctx, x, auto_pad, 0, None, kernel_shape, pads, 0, strides)


@register("MaxPool", since=8, context=True)
def maxpool_8(
    ctx,
    x,
    *,
    auto_pad="NOTSET",
    kernel_shape=None,
    pads=None,
    storage_order=0,
    strides=None,
):
    return _maxpool(
        ctx, x, auto_pad, 0, None, kernel_shape, pads, storage_order, strides
    )


@register("MaxPool", since=10, context=True)
def maxpool_10(
    ctx,
    x,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    storage_order=0,
    strides=None,
):
    return _maxpool(
        ctx,
        x,
        auto_pad,
        ceil_mode,
        dilations,
        kernel_shape,
        pads,
        storage_order,
        strides,
    )


def _avgpool(
    x, auto_pad, ceil_mode, count_include_pad, dilations, kernel_shape, pads, strides
):
    win = _plan(
        x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "AveragePool"
    )
    acc_dtype = np.float32 if x.dtype == np.float16 else x.dtype
    total = _window_sum(
        pad_for_windows(x, win, 0, "AveragePool padded input"), win, acc_dtype
    )
    # The divisor counts the input cells of each window, plus the explicit
    # pads when count_include_pad; the overhang ceil_mode adds never counts.
    inside = np.ones((1, 1) + x.shape[2:], dtype=acc_dtype)
    if count_include_pad:
        inside = pad_for_windows(inside, _explicit_only(win), 1, "AveragePool mask")
        mask_win = _shifted(win)
    else:
        mask_win = win
    count = _window_sum(
        pad_for_windows(inside, mask_win, 0, "AveragePool mask"), mask_win, acc_dtype
    )
    return (total / count).astype(x.dtype, copy=False)


def _explicit_only(win: Windows) -> Windows:
    """``win`` with only its explicit pads and no windows (used to pad a mask)."""
    ext = win.extent
    out = tuple(1 for _ in ext)
    kernel = tuple(1 for _ in ext)
    ones = (1,) * len(ext)
    return Windows(kernel, ones, ones, win.pads_begin, win.pads_end, out)


def _shifted(win: Windows) -> Windows:
    """``win`` over an input that already carries its explicit pads."""
    zeros = (0,) * len(win.kernel)
    return Windows(win.kernel, win.strides, win.dilations, zeros, win.pads_end, win.out)


@register("AveragePool", since=1)
def averagepool_1(x, *, auto_pad="NOTSET", kernel_shape=None, pads=None, strides=None):
    return _avgpool(x, auto_pad, 0, 0, None, kernel_shape, pads, strides)


@register("AveragePool", since=7)
def averagepool_7(
    x,
    *,
    auto_pad="NOTSET",
    count_include_pad=0,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    return _avgpool(
        x, auto_pad, 0, count_include_pad, None, kernel_shape, pads, strides
    )


@register("AveragePool", since=10)
def averagepool_10(
    x,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    count_include_pad=0,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    return _avgpool(
        x, auto_pad, ceil_mode, count_include_pad, None, kernel_shape, pads, strides
    )


@register("AveragePool", since=19)
def averagepool_19(
    x,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    count_include_pad=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    return _avgpool(
        x,
        auto_pad,
        ceil_mode,
        count_include_pad,
        dilations,
        kernel_shape,
        pads,
        strides,
    )


def _lppool(x, p, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides):
    win = _plan(
        x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "LpPool"
    )
    acc_dtype = np.float32 if x.dtype == np.float16 else x.dtype
    powered = np.power(np.abs(x.astype(acc_dtype, copy=False)), acc_dtype.type(p))
    total = _window_sum(
        pad_for_windows(powered, win, 0, "LpPool padded input"), win, acc_dtype
    )
    return np.power(total, acc_dtype.type(1.0 / p)).astype(x.dtype, copy=False)


@register("LpPool", since=1)
def lppool_1(
    x, *, auto_pad="NOTSET", kernel_shape=None, p=2.0, pads=None, strides=None
):
    return _lppool(x, p, auto_pad, 0, None, kernel_shape, pads, strides)


@register("LpPool", since=2)
def lppool_2(x, *, auto_pad="NOTSET", kernel_shape=None, p=2, pads=None, strides=None):
    return _lppool(x, p, auto_pad, 0, None, kernel_shape, pads, strides)


@register("LpPool", since=18)
def lppool_18(
    x,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    dilations=None,
    kernel_shape=None,
    p=2,
    pads=None,
    strides=None,
):
    return _lppool(x, p, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)


def _spatial_axes(x, op) -> tuple[int, ...]:
    if x.ndim < 2:
        raise ValueError(f"{op} needs an input of rank >= 2 (N, C, ...), got {x.shape}")
    return tuple(range(2, x.ndim))


@register("GlobalAveragePool", since=1)
def global_average_pool(x):
    axes = _spatial_axes(x, "GlobalAveragePool")
    acc = np.float32 if x.dtype == np.float16 else x.dtype
    return x.mean(axis=axes, keepdims=True, dtype=acc).astype(x.dtype, copy=False)


@register("GlobalMaxPool", since=1)
def global_max_pool(x):
    return x.max(axis=_spatial_axes(x, "GlobalMaxPool"), keepdims=True)


def _global_lp(x, p):
    axes = _spatial_axes(x, "GlobalLpPool")
    acc = np.dtype(np.float32 if x.dtype == np.float16 else x.dtype)
    xa = np.abs(x.astype(acc, copy=False))
    total = np.power(xa, acc.type(p)).sum(axis=axes, keepdims=True)
    return np.power(total, acc.type(1.0 / p)).astype(x.dtype, copy=False)


@register("GlobalLpPool", since=1)
def global_lp_pool_1(x, *, p=2.0):
    return _global_lp(x, p)


@register("GlobalLpPool", since=2)
def global_lp_pool_2(x, *, p=2):
    return _global_lp(x, p)


@register("MaxUnpool", since=9)
def max_unpool(
    x, indices, output_shape=None, *, kernel_shape=None, pads=None, strides=None
):
    nd = x.ndim - 2
    if kernel_shape is None or len(kernel_shape) != nd:
        raise ValueError(
            f"MaxUnpool: kernel_shape {kernel_shape} must have {nd} values"
        )
    strides = list(strides) if strides is not None and len(strides) else [1] * nd
    pads = list(pads) if pads is not None and len(pads) else [0] * (2 * nd)
    inferred = x.shape[:2] + tuple(
        (x.shape[2 + i] - 1) * strides[i] + kernel_shape[i] - pads[i] - pads[nd + i]
        for i in range(nd)
    )
    check_alloc(inferred, x.dtype, "MaxUnpool output")
    y = np.zeros(inferred, dtype=x.dtype)
    idx = np.asarray(indices).astype(np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= y.size):
        raise ValueError(
            f"MaxUnpool: indices must lie in [0, {y.size}) for shape {inferred}"
        )
    y.reshape(-1)[idx] = x.reshape(-1)
    if output_shape is None or not np.size(output_shape):
        return y
    # Indices address the inferred shape; a larger output_shape (the shape
    # before a pooling that dropped a border) gets the result at its origin.
    shape = tuple(int(v) for v in np.asarray(output_shape).reshape(-1))
    if len(shape) != y.ndim or any(s < i for s, i in zip(shape, inferred)):
        raise ValueError(f"MaxUnpool: output_shape {shape} is smaller than {inferred}")
    check_alloc(shape, x.dtype, "MaxUnpool output")
    out = np.zeros(shape, dtype=x.dtype)
    out[tuple(slice(0, i) for i in inferred)] = y
    return out
