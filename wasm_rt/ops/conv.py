"""Convolutions: Conv, ConvTranspose, ConvInteger.

Conv is im2col + one batched matmul over groups: the windows are a strided
view of the padded input, copied once into a (N, group, C/group*K, L) buffer,
so BLAS (or, inside Pyodide, wasm_rt.native's SIMD GEMM) does the arithmetic
and Python never loops over pixels.
ConvTranspose is the adjoint: one matmul to (N, group, M/group*K, L), then a
col2im that loops only over the K kernel taps.
"""

from __future__ import annotations

import math

import numpy as np

from .. import native
from ..errors import InvalidArgument
from ..limits import check_alloc
from ..registry import register
from ._qgemm import qgemm_i32, requantize
from ._windows import Windows, pad_for_windows, plan_windows, window_view


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    # numpy has no BLAS path for float16; float32 is faster and more accurate.
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _check_conv_shapes(x, w, group: int, op: str) -> None:
    if x.ndim < 3 or w.ndim != x.ndim:
        raise ValueError(
            f"{op} needs X of rank >= 3 and W of the same rank, got X {x.shape} and W {w.shape}"
        )
    if group < 1 or x.shape[1] % group:
        raise ValueError(
            f"{op}: {x.shape[1]} input channels do not split into {group} groups"
        )


def _im2col(x: np.ndarray, win: Windows, group: int, dtype, pad=0) -> np.ndarray:
    """(N, group, C/group * K, L) columns for the windows ``win`` over ``x``,
    padding with ``pad``."""
    n, c = x.shape[:2]
    nd = x.ndim - 2
    k = math.prod(win.kernel)
    length = math.prod(win.out)
    trivial = all(v == 1 for v in win.kernel + win.strides) and not any(
        win.pads_begin + win.pads_end
    )
    if trivial:
        # 1x1 stride-1 unpadded conv: the input already is its column matrix.
        return x.reshape(n, group, c // group, length).astype(dtype, copy=False)
    check_alloc((n, c * k, length), dtype, "Conv im2col buffer")
    xp = pad_for_windows(x, win, pad, "Conv padded input")
    view = window_view(xp, win)  # (N, C, *out, *kernel)
    perm = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    cols = np.empty((n, c) + win.kernel + win.out, dtype=dtype)
    np.copyto(cols, view.transpose(perm), casting="unsafe")
    return cols.reshape(n, group, (c // group) * k, length)


def _plan(x, w, *, auto_pad, dilations, group, kernel_shape, pads, strides, op):
    """Checked shapes and the output windows of a convolution."""
    _check_conv_shapes(x, w, group, op)
    c, m = x.shape[1], w.shape[0]
    if w.shape[1] * group != c or m % group:
        raise ValueError(
            f"{op}: W of shape {w.shape} does not fit X with {c} channels in {group} groups "
            f"(expected W[1] == {c // group} and W[0] divisible by {group})"
        )
    if (
        kernel_shape is not None
        and len(kernel_shape)
        and tuple(kernel_shape) != w.shape[2:]
    ):
        raise ValueError(
            f"{op}: kernel_shape {tuple(kernel_shape)} disagrees with W {w.shape}"
        )
    return plan_windows(
        x.shape[2:],
        w.shape[2:],
        strides=strides,
        dilations=dilations,
        pads=pads,
        auto_pad=auto_pad,
    )


def conv_core(
    x, w, b, *, auto_pad, dilations, group, kernel_shape, pads, strides, op="Conv"
):
    """Conv in the input's dtype (or float32 for float16); returns (N, M, *out)."""
    win = _plan(
        x, w, auto_pad=auto_pad, dilations=dilations, group=group,
        kernel_shape=kernel_shape, pads=pads, strides=strides, op=op,
    )  # fmt: skip
    n, m = x.shape[0], w.shape[0]
    dtype = _compute_dtype(x.dtype)
    check_alloc((n, m) + win.out, dtype, f"{op} output")
    cols = _im2col(x, win, group, dtype)
    wm = w.reshape(group, m // group, -1).astype(dtype, copy=False)
    y = native.matmul(wm, cols)  # (N, group, M/group, L)
    y = y.reshape((n, m) + win.out)
    if b is not None:
        y += b.astype(dtype, copy=False).reshape((1, m) + (1,) * len(win.out))
    return y


@register("Conv", since=1)
def conv(
    x,
    w,
    b=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    y = conv_core(
        x,
        w,
        b,
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )
    return y.astype(x.dtype, copy=False)


def _int_conv(x, w, x_zero_point, w_zero_point, op, **geometry) -> np.ndarray:
    """Exact int32 (X - x_zp) * (W - w_zp) of 8-bit tensors, (N, M, *out).

    im2col on the raw 8-bit X, padded with x_zp so padding contributes 0 after
    the shift, then one integer GEMM per (image, group): W as A with its
    per-output-channel zero points per row, the columns as B.
    """
    for t, what in ((x, "X"), (w, "W")):
        if t.dtype not in (np.uint8, np.int8):
            raise InvalidArgument(f"{op}: {what} must be uint8 or int8, got {t.dtype}")
    win = _plan(x, w, op=op, **geometry)
    group = geometry["group"]
    n, m = x.shape[0], w.shape[0]
    xz = 0 if x_zero_point is None else np.asarray(x_zero_point)
    if np.size(xz) != 1:
        raise InvalidArgument(
            f"{op}: x_zero_point must be a scalar, got shape {np.shape(xz)}"
        )
    xz = int(np.asarray(xz).reshape(-1)[0])
    cols = _im2col(x, win, group, x.dtype, pad=xz)  # (N, group, C/group * K, L)
    wm = w.reshape(group, m // group, -1)
    wz = None
    if w_zero_point is not None:
        wz = np.asarray(w_zero_point).reshape(-1)
        if wz.size not in (1, m):
            raise InvalidArgument(
                f"{op}: w_zero_point must be a scalar or one per output channel "
                f"({m}), got shape {np.shape(w_zero_point)}"
            )
        wz = wz.reshape(()) if wz.size == 1 else wz.reshape(group, m // group, 1)
    y = qgemm_i32(wm, wz, cols, xz)  # (N, group, M/group, L)
    return y.reshape((n, m) + win.out)


@register("ConvInteger", since=10)
def conv_integer(
    x,
    w,
    x_zero_point=None,
    w_zero_point=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    return _int_conv(
        x, w, x_zero_point, w_zero_point, "ConvInteger", auto_pad=auto_pad,
        dilations=dilations, group=group, kernel_shape=kernel_shape, pads=pads,
        strides=strides,
    )  # fmt: skip


def _transpose_geometry(
    in_sp, kernel, strides, dilations, pads, auto_pad, output_padding, output_shape
):
    """Begin pads and output sizes of ConvTranspose, per the spec's rules."""
    nd = len(in_sp)
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    ext = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    full = [
        s * (n - 1) + op + e for n, s, op, e in zip(in_sp, strides, output_padding, ext)
    ]
    if output_shape is not None and len(output_shape):
        out = [int(v) for v in output_shape][-nd:]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER") and not (
        pads is not None and len(pads)
    ):
        out = [n * s for n, s in zip(in_sp, strides)]
    else:
        p = [int(v) for v in pads] if pads is not None and len(pads) else [0] * (2 * nd)
        if len(p) != 2 * nd:
            raise ValueError(f"pads has {len(p)} values, expected {2 * nd}")
        return p[:nd], [f - p[i] - p[nd + i] for i, f in enumerate(full)]
    total = [f - o for f, o in zip(full, out)]
    # The odd pixel goes at the end for SAME_UPPER, at the start otherwise.
    if auto_pad == "SAME_UPPER":
        begin = [t // 2 for t in total]
    else:
        begin = [t - t // 2 for t in total]
    return begin, out


@register("ConvTranspose", since=1)
def conv_transpose(
    x,
    w,
    b=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    output_padding=None,
    output_shape=None,
    pads=None,
    strides=None,
):
    _check_conv_shapes(x, w, group, "ConvTranspose")
    n, c = x.shape[:2]
    in_sp = x.shape[2:]
    nd = len(in_sp)
    if w.shape[0] != c:
        raise ValueError(
            f"ConvTranspose: W of shape {w.shape} needs W[0] == {c} input channels"
        )
    kernel = w.shape[2:]
    mg = w.shape[1]
    m = mg * group
    cg = c // group
    strides = tuple(strides) if strides is not None and len(strides) else (1,) * nd
    dilations = (
        tuple(dilations) if dilations is not None and len(dilations) else (1,) * nd
    )
    output_padding = (
        tuple(output_padding)
        if output_padding is not None and len(output_padding)
        else (0,) * nd
    )
    begin, out = _transpose_geometry(
        in_sp, kernel, strides, dilations, pads, auto_pad, output_padding, output_shape
    )
    if any(o < 0 for o in out):
        raise ValueError(
            f"ConvTranspose: negative output size {out}; check pads and output_shape"
        )
    dtype = _compute_dtype(x.dtype)
    k = math.prod(kernel)
    length = math.prod(in_sp)
    check_alloc((n, m * k, length), dtype, "ConvTranspose column buffer")
    check_alloc((n, m) + tuple(out), dtype, "ConvTranspose output")
    # (group, M/group*K, C/group) @ (N, group, C/group, L) -> (N, group, M/group*K, L)
    wm = w.reshape(group, cg, mg * k).transpose(0, 2, 1).astype(dtype, copy=False)
    cols = native.matmul(wm, x.reshape(n, group, cg, length).astype(dtype, copy=False))
    cols = cols.reshape((n, m) + kernel + in_sp)
    # col2im into a buffer covering both the full result and the requested
    # window [begin, begin + out); positions outside either stay zero.
    lo = [min(0, bg) for bg in begin]
    hi = [
        max(s * (n_ - 1) + (kk - 1) * d + 1, bg + o)
        for n_, s, kk, d, bg, o in zip(in_sp, strides, kernel, dilations, begin, out)
    ]
    buf_shape = (n, m) + tuple(h - l_ for h, l_ in zip(hi, lo))
    check_alloc(buf_shape, dtype, "ConvTranspose accumulation buffer")
    buf = np.zeros(buf_shape, dtype=dtype)
    for tap in np.ndindex(*kernel):
        dst = tuple(
            slice(t * d - l_, t * d - l_ + s * (n_ - 1) + 1, s)
            for t, d, l_, s, n_ in zip(tap, dilations, lo, strides, in_sp)
        )
        buf[(slice(None), slice(None)) + dst] += cols[(slice(None), slice(None)) + tap]
    crop = tuple(slice(bg - l_, bg - l_ + o) for bg, l_, o in zip(begin, lo, out))
    y = buf[(slice(None), slice(None)) + crop]
    if b is not None:
        y = y + b.astype(dtype, copy=False).reshape((1, m) + (1,) * nd)
    return np.ascontiguousarray(y).astype(x.dtype, copy=False)


@register("QLinearConv", since=10)
def qlinear_conv(
    x,
    x_scale,
    x_zero_point,
    w,
    w_scale,
    w_zero_point,
    y_scale,
    y_zero_point,
    b=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    acc = _int_conv(
        x, x_zero_point=x_zero_point, w=w, w_zero_point=w_zero_point, op="QLinearConv",
        auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
        pads=pads, strides=strides,
    )  # fmt: skip
    m = w.shape[0]
    spread = (1, m) + (1,) * (x.ndim - 2)
    if b is not None:
        # MLAS adds the int32 bias to the accumulator before scaling.
        acc += np.asarray(b).astype(np.int32).reshape(spread)
    ws = np.asarray(w_scale, dtype=np.float32).reshape(-1)
    ws = ws.reshape(spread) if ws.size > 1 else ws.reshape(())
    # onnxruntime folds the scales in float32: x_scale * w_scale / y_scale.
    xs = np.asarray(x_scale, np.float32).reshape(())
    scale = xs * ws / np.asarray(y_scale, np.float32).reshape(())
    y_zp = np.asarray(y_zero_point)
    if y_zp.dtype not in (np.uint8, np.int8) or y_zp.size != 1:
        raise InvalidArgument(
            f"QLinearConv: y_zero_point must be one uint8 or int8, got "
            f"{y_zp.dtype}{list(y_zp.shape)}"
        )
    return requantize(acc, scale, y_zp, y_zp.dtype)
