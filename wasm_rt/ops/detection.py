"""Detection and sampling: NonMaxSuppression, RoiAlign, GridSample.

Sampling follows onnxruntime's CPU kernels (themselves PyTorch's): RoiAlign
averages (or maxes) a grid of bilinear samples per output bin, GridSample
denormalizes grid coordinates per ``align_corners`` and fetches out-of-range
pixels per ``padding_mode``.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import INT64, T
from ._common import as_int_list


def _acc(dtype) -> np.dtype:
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


# --------------------------------------------------------------------------
# NonMaxSuppression
# --------------------------------------------------------------------------


def _corners(boxes: np.ndarray, center_point_box: int):
    """(y_min, x_min, y_max, x_max) columns of (n, 4) boxes in either format."""
    if center_point_box:
        xc, yc, w, h = boxes.T
        return yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2
    y1, x1, y2, x2 = boxes.T
    # Corners may come in either order ("flipped" boxes).
    return np.minimum(y1, y2), np.minimum(x1, x2), np.maximum(y1, y2), np.maximum(x1, x2)


def _suppression_matrix(boxes: np.ndarray, center_point_box: int, iou_threshold) -> np.ndarray:
    """suppress[i, j]: box j is removed once box i is selected."""
    y0, x0, y1, x1 = _corners(boxes, center_point_box)
    ih = np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None])
    iw = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
    area = (y1 - y0) * (x1 - x0)
    inter = np.where((ih > 0) & (iw > 0), ih * iw, 0)
    union = area[:, None] + area[None] - inter
    ok = (inter > 0) & (area[:, None] > 0) & (area[None] > 0) & (union > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(ok, inter / np.where(ok, union, 1), 0)
    return ok & (iou > iou_threshold)


@register("NonMaxSuppression", since=10)
def non_max_suppression(boxes, scores, max_output_boxes_per_class=None, iou_threshold=None, score_threshold=None, *, center_point_box=0):
    if boxes.ndim != 3 or boxes.shape[2] != 4 or scores.ndim != 3 or scores.shape[0] != boxes.shape[0] or scores.shape[2] != boxes.shape[1]:
        raise ValueError(
            f"NonMaxSuppression: boxes must be (batch, n, 4) and scores (batch, classes, n), "
            f"got {boxes.shape} and {scores.shape}"
        )
    max_out = 0 if max_output_boxes_per_class is None or np.size(max_output_boxes_per_class) == 0 else int(np.ravel(max_output_boxes_per_class)[0])
    iou_thr = 0.0 if iou_threshold is None or np.size(iou_threshold) == 0 else float(np.ravel(iou_threshold)[0])
    has_score_thr = score_threshold is not None and np.size(score_threshold) > 0
    n_boxes = boxes.shape[1]
    check_alloc((n_boxes, n_boxes), np.float64, "NonMaxSuppression IoU matrix")
    dt = _acc(boxes.dtype)
    selected = []
    for b in range(boxes.shape[0] if max_out > 0 else 0):
        suppress = _suppression_matrix(boxes[b].astype(dt), center_point_box, iou_thr)
        for c in range(scores.shape[1]):
            s = scores[b, c].astype(dt)
            # Highest score first; equal scores keep the lower box index first.
            order = np.argsort(-s, kind="stable")
            if has_score_thr:
                order = order[s[order] > float(np.ravel(score_threshold)[0])]
            alive = np.ones(order.size, dtype=bool)
            sup = suppress[np.ix_(order, order)]
            # Greedy selection is sequential by definition; each pass is one
            # selected box, its suppression applied to all candidates at once.
            kept = 0
            pos = 0
            while kept < max_out:
                rest = np.flatnonzero(alive[pos:])
                if rest.size == 0:
                    break
                pos += int(rest[0])
                selected.append((b, c, int(order[pos])))
                kept += 1
                alive &= ~sup[pos]
                alive[pos] = False
    return np.array(selected, dtype=np.int64).reshape(-1, 3)


# --------------------------------------------------------------------------
# RoiAlign
# --------------------------------------------------------------------------


def _bilinear_taps(pos: np.ndarray, size: int):
    """Low/high indices and their weights along one axis, zero outside [-1, size]."""
    inside = (pos >= -1.0) & (pos <= size)
    p = np.maximum(pos, 0)
    low = np.floor(p).astype(np.int64)
    at_end = low >= size - 1
    low = np.where(at_end, size - 1, low)
    high = np.where(at_end, size - 1, low + 1)
    p = np.where(at_end, low.astype(p.dtype), p)
    frac = p - low
    return low, high, (1 - frac) * inside, frac * inside


def _roi_align(x, rois, batch_indices, *, mode, output_height, output_width, sampling_ratio, spatial_scale, half_pixel):
    if mode not in ("avg", "max"):
        raise ValueError(f"RoiAlign: mode must be 'avg' or 'max', got {mode!r}")
    if x.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 4:
        raise ValueError(f"RoiAlign: X must be (N, C, H, W) and rois (R, 4), got {x.shape}, {rois.shape}")
    n, c, h, w = x.shape
    r = rois.shape[0]
    bi = np.asarray(batch_indices).astype(np.int64).reshape(-1)
    if bi.shape != (r,) or np.any((bi < 0) | (bi >= n)):
        raise ValueError(f"RoiAlign: batch_indices {bi.tolist()} must be {r} indices in [0, {n})")
    ph, pw = output_height, output_width
    check_alloc((r, c, ph, pw), x.dtype, "RoiAlign output")
    dt = _acc(x.dtype)
    xa = x.astype(dt, copy=False)
    out = np.zeros((r, c, ph, pw), dtype=dt)
    offset = dt.type(0.5 if half_pixel else 0.0)
    boxes = rois.astype(dt) * dt.type(spatial_scale) - offset
    # The sampling grid adapts to each roi's size, so rois are handled one at a
    # time; everything inside a roi (channels, bins, samples) is vectorized.
    for k in range(r):
        x0, y0, x1, y1 = boxes[k]
        rh, rw = y1 - y0, x1 - x0
        if not half_pixel:
            rh, rw = max(rh, dt.type(1)), max(rw, dt.type(1))
        bh, bw = rh / dt.type(ph), rw / dt.type(pw)
        gh = sampling_ratio if sampling_ratio > 0 else int(np.ceil(rh / ph))
        gw = sampling_ratio if sampling_ratio > 0 else int(np.ceil(rw / pw))
        if gh <= 0 or gw <= 0:
            continue
        check_alloc((c, ph, gh, pw, gw), dt, "RoiAlign samples")
        ys = y0 + np.arange(ph, dtype=dt)[:, None] * bh + (np.arange(gh, dtype=dt) + dt.type(0.5)) * bh / dt.type(gh)
        xs = x0 + np.arange(pw, dtype=dt)[:, None] * bw + (np.arange(gw, dtype=dt) + dt.type(0.5)) * bw / dt.type(gw)
        yl, yh, wyl, wyh = (a[:, :, None, None] for a in _bilinear_taps(ys, h))
        xl, xh, wxl, wxh = (a[None, None] for a in _bilinear_taps(xs, w))
        img = xa[bi[k]]
        terms = [
            (wyl * wxl) * img[:, yl, xl],
            (wyl * wxh) * img[:, yl, xh],
            (wyh * wxl) * img[:, yh, xl],
            (wyh * wxh) * img[:, yh, xh],
        ]
        if mode == "avg":
            out[k] = sum(terms).sum(axis=(2, 4)) / dt.type(max(gh * gw, 1))
        else:
            # onnxruntime's max mode takes the largest weighted corner, not the
            # interpolated value.
            out[k] = np.maximum.reduce(terms).max(axis=(2, 4))
    return out.astype(x.dtype, copy=False)


@register("RoiAlign", since=10)
def roi_align_10(x, rois, batch_indices, *, mode="avg", output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0):
    return _roi_align(x, rois, batch_indices, mode=mode, output_height=output_height, output_width=output_width, sampling_ratio=sampling_ratio, spatial_scale=spatial_scale, half_pixel=False)


@register("RoiAlign", since=16)
def roi_align_16(x, rois, batch_indices, *, coordinate_transformation_mode="half_pixel", mode="avg", output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0):
    if coordinate_transformation_mode not in ("half_pixel", "output_half_pixel"):
        raise ValueError(
            "RoiAlign: coordinate_transformation_mode must be 'half_pixel' or "
            f"'output_half_pixel', got {coordinate_transformation_mode!r}"
        )
    return _roi_align(x, rois, batch_indices, mode=mode, output_height=output_height, output_width=output_width, sampling_ratio=sampling_ratio, spatial_scale=spatial_scale, half_pixel=coordinate_transformation_mode == "half_pixel")


# --------------------------------------------------------------------------
# GridSample
# --------------------------------------------------------------------------


def _reflect(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold coordinates back into [lo, hi] by repeated mirroring at the borders."""
    span = hi - lo
    if span <= 0:
        return np.full_like(v, lo)
    below = v < lo
    d = np.where(below, lo - v, v - hi)
    flips = np.floor(d / span)
    rem = d - flips * span
    even = flips % 2 == 0
    from_lo = np.where(even, lo + rem, hi - rem)
    from_hi = np.where(even, hi - rem, lo + rem)
    return np.where(below, from_lo, np.where(v > hi, from_hi, v))


def _cubic_weights(t: np.ndarray):
    """Keys cubic convolution weights (alpha = -0.75) for taps at -1, 0, 1, 2."""
    a = -0.75
    t1, t2, t3 = t + 1, 1 - t, 2 - t
    return (
        ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a,
        ((a + 2) * t - (a + 3)) * t * t + 1,
        ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1,
        ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a,
    )


def _grid_sample(x, grid, *, mode, padding_mode, align_corners):
    r = x.ndim - 2
    if r < 1 or grid.ndim != r + 2 or grid.shape[-1] != r or grid.shape[0] != x.shape[0]:
        raise ValueError(
            f"GridSample: grid must be (N, *out, {r}) for X of shape {x.shape}, got {grid.shape}"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"GridSample: padding_mode must be zeros, border or reflection, got {padding_mode!r}")
    n, c = x.shape[:2]
    dims = x.shape[2:]
    out_sp = grid.shape[1:-1]
    check_alloc((n, c) + out_sp, x.dtype, "GridSample output")
    dt = _acc(x.dtype)
    g = grid.astype(dt, copy=False)
    lo = [0.0 if align_corners else -0.5 for _ in dims]
    hi = [d - 1.0 if align_corners else d - 0.5 for d in dims]

    coords = []
    for i, size in enumerate(dims):
        # The grid's last axis lists coordinates innermost-first (x, y, z).
        u = g[..., r - 1 - i]
        v = (u + 1) / 2 * (size - 1) if align_corners else ((u + 1) * size - 1) / 2
        if mode == "nearest":
            v = np.rint(v)  # half to even, as PyTorch and onnxruntime round
        # Cubic keeps the unclamped position and clamps each of its taps
        # instead (onnxruntime and PyTorch); clamping first would shift the weights.
        if padding_mode == "border" and mode != "cubic":
            v = np.clip(v, 0, size - 1)
        elif padding_mode == "reflection":
            v = _reflect(v, lo[i], hi[i])
        coords.append(v)

    def taps(i, idx):
        """Index along axis i made fetchable, plus a 0/1 mask for zeros padding."""
        size = dims[i]
        if padding_mode == "zeros":
            inside = (idx >= 0) & (idx < size)
            return np.clip(idx, 0, size - 1), inside
        if padding_mode == "border":
            return np.clip(idx, 0, size - 1), None
        return np.clip(_reflect(idx.astype(dt), lo[i], hi[i]).astype(np.int64), 0, size - 1), None

    batch = np.arange(n).reshape((n,) + (1,) * len(out_sp))

    def fetch(indices):
        """X at integer positions (one array per axis) -> (N, C, *out)."""
        fixed, mask = [], None
        for i, idx in enumerate(indices):
            j, m = taps(i, idx)
            fixed.append(j)
            if m is not None:
                mask = m if mask is None else mask & m
        vals = np.moveaxis(x[(batch, slice(None), *fixed)], -1, 1).astype(dt, copy=False)
        return vals if mask is None else vals * mask[:, None]

    if mode == "nearest":
        y = fetch([v.astype(np.int64) for v in coords])
        return y.astype(x.dtype, copy=False)
    if mode == "linear":
        offsets, weight_fn = (0, 1), lambda t: (1 - t, t)
    elif mode == "cubic":
        offsets, weight_fn = (-1, 0, 1, 2), _cubic_weights
    else:
        raise ValueError(f"GridSample: unsupported mode {mode!r}")
    base = [np.floor(v) for v in coords]
    weights = [weight_fn(v - b) for v, b in zip(coords, base)]
    base = [b.astype(np.int64) for b in base]
    y = np.zeros((n, c) + out_sp, dtype=dt)
    for combo in itertools.product(range(len(offsets)), repeat=r):
        wgt = np.prod([weights[i][k] for i, k in enumerate(combo)], axis=0)
        y += wgt[:, None] * fetch([base[i] + offsets[k] for i, k in enumerate(combo)])
    return y.astype(x.dtype, copy=False)


_MODE_16 = {"bilinear": "linear", "bicubic": "cubic", "nearest": "nearest"}


@register("GridSample", since=16)
def grid_sample_16(x, grid, *, align_corners=0, mode="bilinear", padding_mode="zeros"):
    if mode not in _MODE_16 or x.ndim != 4:
        raise ValueError(
            f"GridSample-16 takes 4-D input and mode bilinear, nearest or bicubic; got {x.ndim}-D, {mode!r}"
        )
    return _grid_sample(x, grid, mode=_MODE_16[mode], padding_mode=padding_mode, align_corners=align_corners)


@register("GridSample", since=20)
def grid_sample_20(x, grid, *, align_corners=0, mode="linear", padding_mode="zeros"):
    if mode == "cubic" and x.ndim != 4:
        raise ValueError(f"GridSample: cubic mode supports only 4-D input, got {x.ndim}-D")
    return _grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)


# --------------------------------------------------------------------------
# AffineGrid
# --------------------------------------------------------------------------


@register("AffineGrid", since=20)
def affine_grid(theta, size, *, align_corners=0):
    dims = as_int_list(size)[2:]
    r = len(dims)
    if r not in (2, 3) or theta.shape[1:] != (r, r + 1):
        raise ValueError(f"AffineGrid: theta must be (N, {r}, {r + 1}) for size {dims}, got {theta.shape}")
    n = theta.shape[0]
    check_alloc((n, *dims, r), theta.dtype, "AffineGrid output")
    dt = _acc(theta.dtype)
    axes = []
    for d in dims:
        if align_corners:
            axes.append(np.linspace(-1, 1, d, dtype=dt))
        else:
            axes.append(((2 * np.arange(d) + 1) / d - 1).astype(dt))
    mesh = np.meshgrid(*axes, indexing="ij")
    # Homogeneous base points list coordinates innermost-first: (x, y[, z], 1).
    base = np.stack([*mesh[::-1], np.ones(dims, dt)], axis=-1).reshape(-1, r + 1)
    grid = np.einsum("pk,nck->npc", base, theta.astype(dt, copy=False))
    return grid.reshape(n, *dims, r).astype(theta.dtype, copy=False)


# --- shape rules -----------------------------------------------------------


@shape_rule("NonMaxSuppression")
def _nms_shape(ctx: RuleContext):
    return T(INT64, (ctx.fresh(), 3))


@shape_rule("RoiAlign")
def _roi_align_shape(ctx: RuleContext):
    x, rois = ctx.shape(0), ctx.shape(1)
    c = x[1] if x is not None else ctx.fresh()
    n = rois[0] if rois is not None else ctx.fresh()
    return T(
        ctx.elem(0), (n, c, ctx.attr("output_height", 1), ctx.attr("output_width", 1))
    )


@shape_rule("GridSample")
def _grid_sample_shape(ctx: RuleContext):
    x, g = ctx.shape(0), ctx.shape(1)
    if x is None or g is None:
        return T(ctx.elem(0), None)
    return T(ctx.elem(0), (x[0], x[1], *g[1:-1]))


@shape_rule("AffineGrid")
def _affine_grid_shape(ctx: RuleContext):
    size = ctx.dims(1)
    if size is None:
        k = ctx.shape(1)
        if k is None or not isinstance(k[0], int):
            return T(ctx.elem(0), None)
        return T(ctx.elem(0), (*ctx.fresh_shape(k[0] - 1), k[0] - 2))
    n, _, *spatial = size
    return T(ctx.elem(0), (n, *spatial, len(spatial)))
