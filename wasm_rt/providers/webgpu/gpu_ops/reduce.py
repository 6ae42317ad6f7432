"""Reduce* and ArgMax/ArgMin on reduce/reduce.wgsl."""

from __future__ import annotations

import math

import numpy as np

from ..program import Unsupported, contiguous_strides, host_value
from . import gpu_op
from ._common import require_float, shape_of

REDUCE_OPS = {
    "ReduceSum": 0, "ReduceMean": 1, "ReduceMax": 2, "ReduceMin": 3, "ReduceProd": 4,
    "ReduceL1": 5, "ReduceL2": 6, "ReduceLogSum": 7, "ReduceLogSumExp": 8, "ReduceSumSquare": 9,
}
# Opset from which `axes` is an input rather than an attribute.
AXES_INPUT_SINCE = {"ReduceSum": 13}
AXES_INPUT_SINCE_OTHERS = 18


def emit_reduce(e, x, axes, op, *, keepdims=True, out_shape=None, select_last=False):
    x = e.gpu(x)
    xs = list(x.shape)
    rank = len(xs)
    axes = sorted({a % rank for a in axes}) if rank else []
    if rank > 8:
        raise Unsupported("reduce of rank > 8")
    strides = contiguous_strides(xs)
    kept = [1 if k in axes else xs[k] for k in range(rank)]
    red = [xs[k] if k in axes else 1 for k in range(rank)]
    if out_shape is None:
        out_shape = kept if keepdims else [xs[k] for k in range(rank) if k not in axes]
    out_dtype = np.dtype("int64") if op >= 10 else x.dtype
    y = e.new(out_shape, out_dtype)
    n_red = math.prod(red)
    if y.size == 0:
        return y
    if n_red == 0 and op >= 10:
        raise Unsupported("ArgMax of an empty axis")
    r = max(rank, 1)
    pad = [0] * (8 - r)
    kept = kept or [1]
    red = red or [1]
    strides = strides or [1]
    params = [y.size, n_red, 0, 0] + kept + [1] * (8 - r) + strides + pad + red + [1] * (8 - r) + strides + pad
    e.dispatch("reduce/reduce", x.dtype, params, [x, y],
               defines={"RANK": r, "OP": op, "SELECT_LAST": select_last, "TY": y.storage},
               threads=y.size)
    return y


@gpu_op(*REDUCE_OPS)
def reduce(e, node, inputs, opset):
    x = inputs[0]
    require_float(x)
    rank = len(shape_of(x))
    since = AXES_INPUT_SINCE.get(node.op_type, AXES_INPUT_SINCE_OTHERS)
    if opset >= since:
        axes_v = host_value(inputs[1] if len(inputs) > 1 else None, "axes")
        axes = [] if axes_v is None else [int(a) for a in axes_v.reshape(-1)]
    else:
        axes = list(node.attrs.get("axes", []))
    if not axes:
        if node.attrs.get("noop_with_empty_axes", 0):
            return [e.gpu(x)]
        axes = list(range(rank))
    return [emit_reduce(e, x, axes, REDUCE_OPS[node.op_type], keepdims=bool(node.attrs.get("keepdims", 1)))]


@gpu_op("ArgMax", "ArgMin")
def argreduce(e, node, inputs, opset):
    x = inputs[0]
    require_float(x)
    axis = int(node.attrs.get("axis", 0))
    op = 10 if node.op_type == "ArgMax" else 11
    return [emit_reduce(e, x, [axis], op, keepdims=bool(node.attrs.get("keepdims", 1)),
                        select_last=bool(node.attrs.get("select_last_index", 0)))]
