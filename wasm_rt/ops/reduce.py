"""Reductions: Reduce*, ArgMax/ArgMin, TopK and CumSum.

Every Reduce* op exists in two forms: ``axes`` as an attribute (old opsets) and
``axes`` as an optional input (opset 13 for ReduceSum, 18 for the others).
Both forms share one table of reducers ``(x, axes, keepdims) -> y`` where
``axes`` is a tuple of non-negative axes; ``()`` reduces nothing, which is how
``noop_with_empty_axes`` falls out naturally (ReduceSumSquare then squares,
ReduceL1 takes abs, exactly like onnxruntime).
"""

from __future__ import annotations

import numpy as np

from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import INT64, T, norm_axis, reduce_rule, reduce_shape, unary
from ._common import as_int_list, normalize_axes, normalize_axis


def _accumulator(dtype: np.dtype) -> np.dtype:
    # float16 sums lose too much precision accumulating in float16.
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _sum(x, axes, keepdims):
    return np.sum(x, axis=axes, keepdims=keepdims, dtype=_accumulator(x.dtype))


def _lowest(dtype):
    if dtype == np.bool_:
        return False
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    if dtype == np.bool_:
        return True
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _count(x, axes):
    return int(np.prod([x.shape[a] for a in axes], dtype=np.int64))


def reduce_sum(x, axes, keepdims):
    return _sum(x, axes, keepdims)


def reduce_mean(x, axes, keepdims):
    total = _sum(x, axes, keepdims)
    # An empty reduction is 0 in onnxruntime, not NaN.
    n = max(_count(x, axes), 1)
    if x.dtype.kind in "iu":
        # Integer mean truncates toward zero, like C division.
        return (np.abs(total) // n) * np.sign(total)
    return total / np.asarray(n, dtype=total.dtype)


def reduce_max(x, axes, keepdims):
    # The max of an empty set is the dtype's lowest value (-inf for floats).
    return np.max(x, axis=axes, keepdims=keepdims, initial=_lowest(x.dtype))


def reduce_min(x, axes, keepdims):
    return np.min(x, axis=axes, keepdims=keepdims, initial=_highest(x.dtype))


def reduce_prod(x, axes, keepdims):
    return np.prod(x, axis=axes, keepdims=keepdims, dtype=_accumulator(x.dtype))


def reduce_l1(x, axes, keepdims):
    return _sum(np.abs(x), axes, keepdims)


def reduce_l2(x, axes, keepdims):
    total = _sum(x * x, axes, keepdims)
    if x.dtype.kind in "iu":
        # Integer L2 is sqrt in double truncated back, as in onnxruntime.
        return np.sqrt(total.astype(np.float64))
    return np.sqrt(total)


def reduce_sum_square(x, axes, keepdims):
    return _sum(x * x, axes, keepdims)


def reduce_log_sum(x, axes, keepdims):
    return np.log(_sum(x, axes, keepdims))


def reduce_log_sum_exp(x, axes, keepdims):
    # Shift by the max for stability; an all -inf (or empty) slice keeps shift 0.
    xf = x.astype(_accumulator(x.dtype), copy=False)
    if xf.dtype.kind != "f":
        xf = xf.astype(np.float64)
    m = np.max(xf, axis=axes, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    total = np.sum(np.exp(xf - m), axis=axes, keepdims=True)
    out = np.log(total) + m
    return out if keepdims else np.squeeze(out, axis=axes)


# op -> (reducer, opset where axes became an input)
REDUCERS = {
    "ReduceSum": (reduce_sum, 13),
    "ReduceMean": (reduce_mean, 18),
    "ReduceMax": (reduce_max, 18),
    "ReduceMin": (reduce_min, 18),
    "ReduceProd": (reduce_prod, 18),
    "ReduceL1": (reduce_l1, 18),
    "ReduceL2": (reduce_l2, 18),
    "ReduceSumSquare": (reduce_sum_square, 18),
    "ReduceLogSum": (reduce_log_sum, 18),
    "ReduceLogSumExp": (reduce_log_sum_exp, 18),
}


def _run_reducer(op_type, reducer, x, axes, keepdims, noop_with_empty_axes):
    if axes is None or len(axes) == 0:
        axes = () if noop_with_empty_axes else tuple(range(x.ndim))
    else:
        axes = normalize_axes(axes, x.ndim)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{op_type}: axes {list(axes)} repeat an axis")
    with np.errstate(all="ignore"):
        out = reducer(x, axes, bool(keepdims))
    return np.asarray(out).astype(x.dtype, copy=False)


def _reduce_kernels(op_type, reducer):
    def with_attr_axes(data, *, axes=None, keepdims=1):
        return _run_reducer(op_type, reducer, data, axes, keepdims, 0)

    def with_input_axes(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        axes = None if axes is None else as_int_list(axes)
        return _run_reducer(
            op_type, reducer, data, axes, keepdims, noop_with_empty_axes
        )

    with_attr_axes.__name__ = with_input_axes.__name__ = reducer.__name__
    return with_attr_axes, with_input_axes


for _op, (_reducer, _input_since) in REDUCERS.items():
    _attr_kernel, _input_kernel = _reduce_kernels(_op, _reducer)
    register(_op, since=1)(_attr_kernel)
    register(_op, since=_input_since)(_input_kernel)


# --- ArgMax / ArgMin ---------------------------------------------------------


def _arg_reduce(fn, x, axis, keepdims, select_last_index):
    if x.ndim == 0:  # normalize_axis lets axis 0 through for a scalar
        raise ValueError("ArgMax/ArgMin: input must have rank >= 1, got a scalar")
    axis = normalize_axis(axis, x.ndim)
    if x.shape[axis] == 0:
        raise ValueError(
            f"cannot take the arg-extreme over empty axis {axis} of {x.shape}"
        )
    if select_last_index:
        # numpy returns the first extreme; on the flipped axis that is the last.
        idx = x.shape[axis] - 1 - fn(np.flip(x, axis), axis=axis)
    else:
        idx = fn(x, axis=axis)
    if keepdims:
        idx = np.expand_dims(idx, axis)
    return np.asarray(idx, dtype=np.int64)


@register("ArgMax", since=1)
def arg_max_1(data, *, axis=0, keepdims=1):
    return _arg_reduce(np.argmax, data, axis, keepdims, 0)


@register("ArgMax", since=12)
def arg_max(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg_reduce(np.argmax, data, axis, keepdims, select_last_index)


@register("ArgMin", since=1)
def arg_min_1(data, *, axis=0, keepdims=1):
    return _arg_reduce(np.argmin, data, axis, keepdims, 0)


@register("ArgMin", since=12)
def arg_min(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg_reduce(np.argmin, data, axis, keepdims, select_last_index)


# --- TopK --------------------------------------------------------------------


def _top_k(x, k, axis, largest):
    axis = normalize_axis(axis, x.ndim)
    n = x.shape[axis]
    if not 0 <= k <= n:
        raise ValueError(
            f"TopK k={k} must be in [0, {n}] for axis {axis} of shape {x.shape}"
        )
    if largest:
        # Descending order with ties broken by the smaller index: a stable
        # ascending sort of the reversed axis, read backwards.
        order = np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)
        order = n - 1 - order
    else:
        order = np.argsort(x, axis=axis, kind="stable")
    indices = np.take(order, np.arange(k), axis=axis).astype(np.int64)
    return np.take_along_axis(x, indices, axis=axis), indices


def _k_from_input(k) -> int:
    values = as_int_list(k)
    if len(values) != 1:
        raise ValueError(f"TopK K must hold exactly one value, got {len(values)}")
    return values[0]


@register("TopK", since=1)
def top_k_1(x, *, k, axis=-1):
    return _top_k(x, int(k), axis, True)


@register("TopK", since=10)
def top_k_10(x, k, *, axis=-1):
    return _top_k(x, _k_from_input(k), axis, True)


@register("TopK", since=11)
def top_k(x, k, *, axis=-1, largest=1, sorted=1):
    # sorted=0 allows any order; returning the sorted order is always valid.
    return _top_k(x, _k_from_input(k), axis, largest)


# --- CumSum ------------------------------------------------------------------


@register("CumSum", since=11)
def cum_sum(x, axis, *, exclusive=0, reverse=0):
    axis_values = as_int_list(axis)
    if len(axis_values) != 1:
        raise ValueError(f"CumSum axis must be a scalar, got {len(axis_values)} values")
    axis = normalize_axis(axis_values[0], x.ndim)
    y = np.flip(x, axis) if reverse else x
    with np.errstate(all="ignore"):
        out = np.cumsum(y, axis=axis, dtype=x.dtype)
    if exclusive and x.shape[axis]:
        # Shift by one rather than subtract x, so floats match a running sum.
        pad = np.zeros_like(np.take(out, [0], axis=axis))
        out = np.concatenate(
            [pad, np.take(out, np.arange(x.shape[axis] - 1), axis=axis)], axis
        )
    return np.flip(out, axis) if reverse else out


# --- shape rules -----------------------------------------------------------


for _op, (_, _axes_input_since) in REDUCERS.items():
    shape_rule(_op)(reduce_rule(_axes_input_since))


@shape_rule("TopK")
def _topk_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return [T(ctx.elem(0), None), T(INT64, None)]
    axis = norm_axis(ctx.attr("axis", -1), len(shape))
    if ctx.opset >= 10:
        k = ctx.dims(1)
        kd = k[0] if k else ctx.fresh()
    else:
        kd = ctx.attr("k")
    out = shape[:axis] + (kd,) + shape[axis + 1 :]
    return [T(ctx.elem(0), out), T(INT64, out)]


@shape_rule(("ArgMax", "ArgMin"))
def _argmax_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return T(INT64, None)
    axis = ctx.attr("axis", 0)
    return T(INT64, reduce_shape(shape, [axis], bool(ctx.attr("keepdims", 1))))
shape_rule(("CumSum",))(unary)
