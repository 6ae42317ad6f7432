"""Gather/scatter and other index-driven kernels.

Every index is range-checked before use: numpy would silently wrap negative
out-of-range values, and a model relying on that would give wrong answers.
"""

from __future__ import annotations

import numpy as np

from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext, RuleError
from ..shape_rules import INT64, T, norm_axis, numel, unary
from ._common import check_index_range, normalize_axis

# --- Gather family -----------------------------------------------------------


@register("Gather", since=1)
def gather(x, indices, *, axis=0):
    axis = normalize_axis(axis, x.ndim)
    idx = check_index_range(indices, x.shape[axis], "Gather")
    return np.take(x, idx, axis=axis)


def _element_index(indices: np.ndarray, axis: int) -> tuple:
    """Fancy index placing ``indices`` on ``axis`` and the position elsewhere."""
    grids = list(
        np.meshgrid(*[np.arange(d) for d in indices.shape], indexing="ij", sparse=True)
    )
    grids[axis] = indices
    return tuple(grids)


def _check_same_rank(data, indices, what: str):
    if indices.ndim != data.ndim:
        raise ValueError(
            f"{what}: indices rank {indices.ndim} differs from data rank {data.ndim}"
        )
    for i, (di, dd) in enumerate(zip(indices.shape, data.shape)):
        if di > dd and dd != 0:
            raise ValueError(
                f"{what}: indices shape {indices.shape} exceeds data shape {data.shape} "
                f"on axis {i}"
            )


@register("GatherElements", since=11)
def gather_elements(x, indices, *, axis=0):
    axis = normalize_axis(axis, x.ndim)
    _check_same_rank(x, indices, "GatherElements")
    idx = check_index_range(indices, x.shape[axis], "GatherElements")
    return x[_element_index(idx, axis)]


def _nd_index(data: np.ndarray, indices: np.ndarray, batch_dims: int, what: str):
    """(batch positions, per-dim indices) addressing ``data`` for GatherND/ScatterND."""
    k = indices.shape[-1] if indices.ndim else 0
    if indices.ndim < 1 or k > data.ndim - batch_dims:
        raise ValueError(
            f"{what}: last indices dimension {k} is too large for data rank {data.ndim} "
            f"with batch_dims={batch_dims}"
        )
    if data.shape[:batch_dims] != indices.shape[:batch_dims]:
        raise ValueError(
            f"{what}: batch dimensions of data {data.shape} and indices {indices.shape} differ"
        )
    cols = [
        check_index_range(indices[..., i], data.shape[batch_dims + i], what)
        for i in range(k)
    ]
    return cols


@register("GatherND", since=11)
def gather_nd(x, indices, *, batch_dims=0):
    if not 0 <= batch_dims < min(x.ndim, max(indices.ndim, 1)):
        raise ValueError(f"GatherND: batch_dims={batch_dims} is out of range")
    cols = _nd_index(x, indices, batch_dims, "GatherND")
    # The batch coordinates are the leading positions of the indices themselves.
    batch = list(
        np.meshgrid(
            *[np.arange(d) for d in indices.shape[:-1]], indexing="ij", sparse=True
        )
    )[:batch_dims]
    return x[tuple(batch + cols)]


# --- Scatter family ----------------------------------------------------------

_REDUCE = {
    "add": np.add,
    "mul": np.multiply,
    "max": np.maximum,
    "min": np.minimum,
}


def _scatter(
    out: np.ndarray, index: tuple, updates: np.ndarray, reduction: str, what: str
):
    if reduction == "none":
        out[index] = updates
    elif reduction in _REDUCE:
        # ufunc.at applies every duplicate index, unlike fancy assignment.
        _REDUCE[reduction].at(out, index, updates)
    else:
        raise ValueError(f"{what}: unknown reduction {reduction!r}")
    return out


@register("ScatterElements", since=11)
def scatter_elements(x, indices, updates, *, axis=0, reduction="none"):
    axis = normalize_axis(axis, x.ndim)
    _check_same_rank(x, indices, "ScatterElements")
    if updates.shape != indices.shape:
        raise ValueError(
            f"ScatterElements: updates shape {updates.shape} differs from indices "
            f"shape {indices.shape}"
        )
    idx = check_index_range(indices, x.shape[axis], "ScatterElements")
    return _scatter(
        x.copy(), _element_index(idx, axis), updates, reduction, "ScatterElements"
    )


@register("Scatter", since=9)
def scatter(x, indices, updates, *, axis=0):
    return scatter_elements(x, indices, updates, axis=axis)


@register("ScatterND", since=11)
def scatter_nd(x, indices, updates, *, reduction="none"):
    cols = _nd_index(x, indices, 0, "ScatterND")
    k = len(cols)
    expect = indices.shape[:-1] + x.shape[k:]
    if updates.shape != expect:
        raise ValueError(f"ScatterND: updates shape {updates.shape}, expected {expect}")
    return _scatter(x.copy(), tuple(cols), updates, reduction, "ScatterND")


# --- Selection ---------------------------------------------------------------


@register("NonZero", since=9)
def non_zero(x):
    # numpy refuses nonzero() on 0-d arrays; a scalar behaves as a 1-element vector
    # and has no coordinates to report.
    if x.ndim == 0:
        return np.zeros((0, int(bool(x))), dtype=np.int64)
    return np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)


@register("Compress", since=9)
def compress(x, condition, *, axis=None):
    cond = np.asarray(condition).astype(bool).reshape(-1)
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    axis = normalize_axis(axis, x.ndim)
    dim = x.shape[axis]
    if cond.size > dim:
        if cond[dim:].any():
            raise ValueError(
                f"Compress: condition selects index >= {dim}, the size of axis {axis}"
            )
        cond = cond[:dim]
    return np.compress(cond, x, axis=axis)


@register("OneHot", since=9)
def one_hot(indices, depth, values, *, axis=-1):
    if np.size(depth) != 1:
        raise ValueError(f"OneHot: depth must be a single value, got shape {np.shape(depth)}")
    depth = int(np.asarray(depth).reshape(-1)[0])
    if depth < 1:
        raise ValueError(f"OneHot: depth must be positive, got {depth}")
    values = np.asarray(values).reshape(-1)
    if values.size != 2:
        raise ValueError(
            f"OneHot: values must be [off_value, on_value], got {values.size}"
        )
    rank = indices.ndim + 1
    axis = normalize_axis(axis, rank)
    out_shape = indices.shape[:axis] + (depth,) + indices.shape[axis:]
    check_alloc(out_shape, values.dtype, "OneHot output")
    idx = np.asarray(indices).astype(np.int64)
    # The spec maps [-depth, -1] up by depth; anything outside [-depth, depth)
    # matches no class and yields an all-off row, as documented.
    idx = np.where(idx < 0, idx + depth, idx)
    hot = np.expand_dims(idx, axis) == np.arange(depth).reshape(
        [depth if i == axis else 1 for i in range(rank)]
    )
    return np.where(hot, values[1], values[0]).astype(values.dtype, copy=False)


@register("Trilu", since=14)
def trilu(x, k=None, *, upper=1):
    if x.ndim < 2:
        raise ValueError(f"Trilu: input must have rank >= 2, got shape {x.shape}")
    if k is not None and np.size(k) != 1:
        raise ValueError(f"Trilu: k must be a single value, got shape {np.shape(k)}")
    k = 0 if k is None else int(np.asarray(k).reshape(-1)[0])
    return np.triu(x, k) if upper else np.tril(x, k)


@register("Unique", since=11, context=True)
def unique(ctx, x, *, axis=None, sorted=1):
    if axis is not None:
        axis = normalize_axis(axis, x.ndim)
    y, first, inverse, counts = np.unique(
        x, return_index=True, return_inverse=True, return_counts=True, axis=axis
    )
    inverse = inverse.reshape(-1)
    if not sorted:
        # Order by first occurrence instead of by value.
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        y = np.take(y, order, axis=0 if axis is None else axis)
        first, counts, inverse = first[order], counts[order], rank[inverse]
    outs = (
        y,
        first.astype(np.int64),
        inverse.astype(np.int64),
        counts.astype(np.int64),
    )
    return outs[: max(ctx.num_outputs, 1)]


# --- shape rules -----------------------------------------------------------


@shape_rule("Gather")
def _gather_shape(ctx: RuleContext):
    data, idx = ctx.shape(0), ctx.shape(1)
    if data is None or idx is None:
        return T(ctx.elem(0), None)
    axis = norm_axis(ctx.attr("axis", 0), len(data))
    v, iv = ctx.value(0), ctx.ints(1)
    if v is not None and iv is not None and ctx.value(1) is not None:
        try:
            ctx.set_value(
                0, np.take(v, np.array(iv).reshape(ctx.value(1).shape), axis=axis)
            )
        except IndexError as e:
            raise RuleError(f"Gather indices out of range: {e}") from None
    return T(ctx.elem(0), data[:axis] + tuple(idx) + data[axis + 1 :])


@shape_rule("GatherElements")
def _gather_elements_shape(ctx: RuleContext):
    return T(ctx.elem(0), ctx.shape(1))


@shape_rule("GatherND")
def _gather_nd_shape(ctx: RuleContext):
    data, idx = ctx.shape(0), ctx.shape(1)
    b = ctx.attr("batch_dims", 0)
    if data is None or idx is None:
        return T(ctx.elem(0), None)
    last = idx[-1]
    if not isinstance(last, int):
        return T(ctx.elem(0), None)
    return T(ctx.elem(0), tuple(idx[:-1]) + tuple(data[b + last :]))


@shape_rule("OneHot")
def _one_hot_shape(ctx: RuleContext):
    idx = ctx.shape(0)
    depth = ctx.ints(1)
    elem = ctx.elem(2)
    if idx is None:
        return T(elem, None)
    d = depth[0] if depth else ctx.fresh()
    axis = ctx.attr("axis", -1)
    rank = len(idx) + 1
    axis = norm_axis(axis, rank)
    out = list(idx)
    out.insert(axis, d)
    return T(elem, out)


@shape_rule("NonZero")
def _nonzero_shape(ctx: RuleContext):
    r = ctx.rank(0)
    return T(INT64, (r if r is not None else ctx.fresh(), ctx.fresh()))


@shape_rule("Compress")
def _compress_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    axis = ctx.attr("axis")
    if axis is None or shape is None:
        return T(ctx.elem(0), (ctx.fresh(),))
    a = norm_axis(axis, len(shape))
    return T(ctx.elem(0), shape[:a] + (ctx.fresh(),) + shape[a + 1 :])


@shape_rule("Unique")
def _unique_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    axis = ctx.attr("axis")
    n = ctx.fresh()
    if axis is None or shape is None:
        y = T(ctx.elem(0), (n,))
    else:
        a = norm_axis(axis, len(shape))
        y = T(ctx.elem(0), shape[:a] + (n,) + shape[a + 1 :])
    if axis is None:
        inverse = numel(shape) if shape is not None else ctx.fresh()
    else:
        inverse = (
            shape[norm_axis(axis, len(shape))] if shape is not None else ctx.fresh()
        )
    return [y, T(INT64, (n,)), T(INT64, (inverse,)), T(INT64, (n,))]
shape_rule(("Trilu", "Scatter", "ScatterElements", "ScatterND"))(unary)
