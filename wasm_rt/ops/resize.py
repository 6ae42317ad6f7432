"""Resize (opsets 10, 11, 13, 18, 19) and the deprecated Upsample.

Interpolation is separable: each resized axis gets an (out, taps) table of
source indices and weights, applied with one ``take`` and multiply-add per
tap. Nearest is a single ``take``. Index rules follow the ONNX reference:
neighbours outside the input clamp to the edge (unless ``exclude_outside``),
and an exactly integral source coordinate counts as the right end of the
interval to its left.
"""

from __future__ import annotations

import numpy as np

from .. import symbolic as sy
from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import T, norm_axis
from ._common import normalize_axes


def _text(s) -> str:
    return s.decode() if isinstance(s, bytes) else str(s)


def _source_coords(mode, y, scale, in_len, out_len, roi):
    """Source coordinate of every output index ``y`` along one axis.

    half_pixel_symmetric and tf_crop_and_resize divide by the unrounded
    ``scale * in_len`` as the ONNX reference does; align_corners divides by
    the integer output length as onnxruntime, PyTorch and TensorFlow do (the
    reference uses the unrounded length there too, see tests/ops/test_resize.py).
    """
    out_f = scale * in_len
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        adjustment = out_len / out_f
        offset = in_len / 2 * (1 - adjustment)
        return offset + (y + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (y + 0.5) / scale - 0.5 if out_len > 1 else np.zeros_like(y)
    if mode == "align_corners":
        return y * (in_len - 1) / (out_len - 1) if out_len > 1 else np.zeros_like(y)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_half_pixel_for_nn":
        return (y + 0.5) / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        if out_f != 1:
            return start * (in_len - 1) + y * (end - start) * (in_len - 1) / (out_f - 1)
        return np.full_like(y, 0.5 * (start + end) * (in_len - 1))
    raise ValueError(f"Resize: unknown coordinate_transformation_mode {mode!r}")


def _nearest_index(x, nearest_mode, downsampling):
    if nearest_mode == "round_prefer_floor":
        return np.ceil(x - 0.5)
    if nearest_mode == "round_prefer_ceil":
        return np.floor(x + 0.5)
    if nearest_mode == "floor":
        return np.floor(x)
    if nearest_mode == "ceil":
        return np.ceil(x)
    if nearest_mode == "simple":
        # Resize-10 and Upsample: truncate when enlarging, ceil when shrinking
        # (onnxruntime's rule for those opsets).
        return np.ceil(x) if downsampling else np.trunc(x)
    raise ValueError(f"Resize: unknown nearest_mode {nearest_mode!r}")


def _cubic(d, a):
    d = np.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _taps(x, mode, scale, in_len, antialias, cubic_a, exclude_outside):
    """(out, n) source indices (unclamped) and weights for linear/cubic."""
    # Antialiasing widens the kernel by 1/scale when shrinking.
    s = min(scale, 1.0) if antialias else 1.0
    reach = 1.0 if mode == "linear" else 2.0
    start = int(np.floor(-reach / s)) + 1
    n = 2 - 2 * start
    x0 = np.floor(x)
    ratio = x - x0
    exact = ratio == 0
    x0 = np.where(exact, x0 - 1, x0)
    ratio = np.where(exact, 1.0, ratio)
    t = np.arange(start, start + n)
    dist = (t[None, :] - ratio[:, None]) * s
    weights = (
        np.clip(1 - np.abs(dist), 0, 1) if mode == "linear" else _cubic(dist, cubic_a)
    )
    idx = x0.astype(np.int64)[:, None] + t[None, :]
    if exclude_outside:
        weights = np.where((idx < 0) | (idx >= in_len), 0.0, weights)
    total = weights.sum(axis=1, keepdims=True)
    weights = weights / np.where(total == 0, 1.0, total)
    return idx, weights


def _resize_axis(data, axis, scale, out_len, roi, p):
    in_len = data.shape[axis]
    y = np.arange(out_len, dtype=np.float64)
    x = _source_coords(p["coord"], y, scale, in_len, out_len, roi)
    if p["mode"] == "nearest":
        idx = _nearest_index(x, p["nearest_mode"], scale < 1).astype(np.intp)
        result = np.take(data, np.clip(idx, 0, in_len - 1), axis=axis)
    else:
        idx, weights = _taps(
            x,
            p["mode"],
            scale,
            in_len,
            p["antialias"],
            p["cubic_a"],
            p["exclude_outside"],
        )
        # np.take wants np.intp, which is int32 in Pyodide (wasm32).
        idx = np.clip(idx, 0, in_len - 1).astype(np.intp)
        weights = weights.astype(data.dtype)
        wshape = (-1,) + (1,) * (data.ndim - axis - 1)
        result = None
        for t in range(idx.shape[1]):
            term = np.take(data, idx[:, t], axis=axis) * weights[:, t].reshape(wshape)
            result = term if result is None else result + term
    if p["coord"] == "tf_crop_and_resize":
        # roi arrives as float32 and onnxruntime decides in float32, so a
        # coordinate within float32 rounding of the edge is still inside.
        slack = 4 * np.finfo(np.float32).eps * max(in_len, 1)
        outside = (x < -slack) | (x > in_len - 1 + slack)
        if outside.any():
            shape = (-1,) + (1,) * (data.ndim - axis - 1)
            fill = np.asarray(p["extrapolation_value"], dtype=result.dtype)
            result = np.where(outside.reshape(shape), fill, result)
    return result


def _present(t) -> bool:
    return t is not None and np.size(t) > 0


def _resize(x, roi, scales, sizes, axes=None, policy="stretch", **p):
    rank = x.ndim
    axes = (
        list(normalize_axes(axes, rank))
        if axes is not None and len(axes)
        else list(range(rank))
    )
    if len(set(axes)) != len(axes):
        raise ValueError(f"Resize: repeated axes {axes}")
    if _present(scales) == _present(sizes):
        raise ValueError("Resize needs exactly one of 'scales' and 'sizes'")
    out = list(x.shape)
    factor = [1.0] * rank
    if _present(scales):
        sc = np.asarray(scales, dtype=np.float32).reshape(-1).astype(np.float64)
        if sc.size != len(axes) or (sc <= 0).any():
            raise ValueError(
                f"Resize: scales {sc.tolist()} must be {len(axes)} positive values"
            )
        for a, s in zip(axes, sc):
            factor[a] = float(s)
            # float32 product, as onnxruntime computes it: 1.3f * 10 is 13, not 12.
            out[a] = int(np.floor(np.float32(s) * np.float32(x.shape[a])))
    else:
        sz = [int(v) for v in np.asarray(sizes).reshape(-1)]
        if len(sz) != len(axes) or min(sz) < 0:
            raise ValueError(
                f"Resize: sizes {sz} must be {len(axes)} non-negative values"
            )
        ratios = [s / x.shape[a] for a, s in zip(axes, sz)]
        policy = _text(policy)
        if policy in ("not_larger", "not_smaller"):
            r = min(ratios) if policy == "not_larger" else max(ratios)
            ratios = [r] * len(axes)
            sz = [int(r * x.shape[a] + 0.5) for a in axes]
        elif policy != "stretch":
            raise ValueError(f"Resize: unknown keep_aspect_ratio_policy {policy!r}")
        for a, s, r in zip(axes, sz, ratios):
            factor[a], out[a] = r, s
    check_alloc(out, x.dtype, "Resize output")
    roi_pairs = [(0.0, 1.0)] * rank
    if _present(roi):
        rv = np.asarray(roi, dtype=np.float64).reshape(-1)
        if rv.size != 2 * len(axes):
            raise ValueError(
                f"Resize: roi has {rv.size} values, expected {2 * len(axes)}"
            )
        for i, a in enumerate(axes):
            roi_pairs[a] = (rv[i], rv[len(axes) + i])
    p["coord"] = _text(p["coord"])
    p["mode"] = _text(p["mode"])
    p["nearest_mode"] = _text(p["nearest_mode"])
    if p["mode"] not in ("nearest", "linear", "cubic"):
        raise ValueError(
            f"Resize: mode must be nearest, linear or cubic, got {p['mode']!r}"
        )
    integer = x.dtype.kind in "iub"
    work = x
    if p["mode"] != "nearest":
        work = x.astype(np.float64 if x.dtype == np.float64 else np.float32)
    for a in axes:
        identity = (
            out[a] == x.shape[a] and factor[a] == 1.0 and roi_pairs[a] == (0.0, 1.0)
        )
        if not identity or p["coord"] == "tf_crop_and_resize":
            work = _resize_axis(work, a, factor[a], out[a], roi_pairs[a], p)
    if integer and work.dtype != x.dtype:
        info = np.iinfo(x.dtype)
        work = np.clip(np.rint(work), info.min, info.max)
    return work.astype(x.dtype, copy=False)


def _legacy_resize(x, scales, mode):
    """Resize-10 and Upsample: scales only, asymmetric coordinates, 'simple' nearest."""
    return _resize(
        x,
        None,
        scales,
        None,
        coord="asymmetric",
        mode=mode,
        nearest_mode="simple",
        cubic_a=-0.75,
        exclude_outside=0,
        extrapolation_value=0.0,
        antialias=0,
    )


@register("Resize", since=10)
def resize_10(x, scales, *, mode="nearest"):
    return _legacy_resize(x, scales, mode)


@register("Resize", since=11)
def resize_11(
    x,
    roi=None,
    scales=None,
    sizes=None,
    *,
    coordinate_transformation_mode="half_pixel",
    cubic_coeff_a=-0.75,
    exclude_outside=0,
    extrapolation_value=0.0,
    mode="nearest",
    nearest_mode="round_prefer_floor",
):
    return _resize(
        x,
        roi,
        scales,
        sizes,
        coord=coordinate_transformation_mode,
        mode=mode,
        nearest_mode=nearest_mode,
        cubic_a=cubic_coeff_a,
        exclude_outside=exclude_outside,
        extrapolation_value=extrapolation_value,
        antialias=0,
    )


@register("Resize", since=18)
def resize_18(
    x,
    roi=None,
    scales=None,
    sizes=None,
    *,
    antialias=0,
    axes=None,
    coordinate_transformation_mode="half_pixel",
    cubic_coeff_a=-0.75,
    exclude_outside=0,
    extrapolation_value=0.0,
    keep_aspect_ratio_policy="stretch",
    mode="nearest",
    nearest_mode="round_prefer_floor",
):
    return _resize(
        x,
        roi,
        scales,
        sizes,
        axes,
        keep_aspect_ratio_policy,
        coord=coordinate_transformation_mode,
        mode=mode,
        nearest_mode=nearest_mode,
        cubic_a=cubic_coeff_a,
        exclude_outside=exclude_outside,
        extrapolation_value=extrapolation_value,
        antialias=antialias,
    )


@register("Upsample", since=7)
def upsample_7(x, *, mode="nearest", scales):
    return _legacy_resize(x, scales, mode)


@register("Upsample", since=9)
def upsample_9(x, scales, *, mode="nearest"):
    return _legacy_resize(x, scales, mode)


# --- shape rules -----------------------------------------------------------


@shape_rule(("Resize", "Upsample"))
def _resize_shape(ctx: RuleContext):
    x = ctx.shape(0)
    elem = ctx.elem(0)
    if x is None:
        return T(elem, None)
    rank = len(x)
    if ctx.node.op_type == "Upsample" or ctx.opset < 11:
        scales = ctx.attr("scales") if ctx.opset < 9 else _floats(ctx, 1)
        sizes = None
    else:
        scales = _floats(ctx, 2) if ctx.has(2) else None
        sizes = ctx.dims(3) if ctx.has(3) else None
        if scales is not None and not scales:
            scales = None
        if ctx.has(3) and sizes is None:
            touched = ctx.attr("axes") or range(rank)
            touched = {norm_axis(a, rank) for a in touched}
            return T(
                elem, [ctx.fresh() if k in touched else d for k, d in enumerate(x)]
            )
        if ctx.has(2) and scales is None and ctx.value(2) is None and not ctx.has(3):
            return T(elem, ctx.fresh_shape(rank))
    axes = ctx.attr("axes") or list(range(rank))
    axes = [norm_axis(a, rank) for a in axes]
    out = list(x)
    policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
    if sizes is not None:
        if (
            policy != "stretch"
            and all(isinstance(x[a], int) for a in axes)
            and all(isinstance(s, int) for s in sizes)
        ):
            ratios = [s / x[a] for s, a in zip(sizes, axes)]
            r = min(ratios) if policy == "not_larger" else max(ratios)
            for a in axes:
                out[a] = int(x[a] * r + 0.5)
        else:
            for s, a in zip(sizes, axes):
                out[a] = s
    elif scales is not None:
        for s, a in zip(scales, axes):
            d = x[a]
            if isinstance(d, int):
                out[a] = int(d * s)
            elif float(s).is_integer():
                out[a] = sy.mul(d, int(s))
            else:
                out[a] = ctx.fresh()
    else:
        return T(elem, ctx.fresh_shape(rank))
    return T(elem, out)


def _floats(ctx: RuleContext, i: int):
    v = ctx.value(i)
    return None if v is None else [float(x) for x in v.reshape(-1)]
