"""Data movement: views for shape-only ops, strided copies, Gather, Pad, Resize."""

from __future__ import annotations

import math

import numpy as np

from ..program import Unsupported, contiguous_strides, host_value
from . import gpu_op
from ._common import dtype_of, emit_copy, shape_of


def _ints(v):
    return [int(i) for i in np.asarray(v).reshape(-1)]


# --- views -------------------------------------------------------------------


@gpu_op("Reshape", view=True)
def reshape(e, node, inputs, opset):
    x = inputs[0]
    xs = shape_of(x)
    if opset < 5:
        shape = list(node.attrs["shape"])
    else:
        shape = _ints(host_value(inputs[1], "Reshape shape"))
    allow_zero = node.attrs.get("allowzero", 0)
    shape = [xs[i] if d == 0 and not allow_zero else d for i, d in enumerate(shape)]
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        shape[shape.index(-1)] = math.prod(xs) // known if known else 0
    return [e.view(e.gpu(x), shape)]


@gpu_op("Flatten", view=True)
def flatten(e, node, inputs, opset):
    xs = shape_of(inputs[0])
    axis = node.attrs.get("axis", 1) % (len(xs) + 1) if xs else 0
    return [e.view(e.gpu(inputs[0]), (math.prod(xs[:axis]), math.prod(xs[axis:])))]


@gpu_op("Squeeze", view=True)
def squeeze(e, node, inputs, opset):
    xs = shape_of(inputs[0])
    if opset >= 13:
        axes_v = host_value(inputs[1] if len(inputs) > 1 else None, "Squeeze axes")
        axes = None if axes_v is None else _ints(axes_v)
    else:
        axes = node.attrs.get("axes")
    if axes is None:
        shape = [d for d in xs if d != 1]
    else:
        drop = {a % len(xs) for a in axes}
        shape = [d for i, d in enumerate(xs) if i not in drop]
    return [e.view(e.gpu(inputs[0]), shape)]


@gpu_op("Unsqueeze", view=True)
def unsqueeze(e, node, inputs, opset):
    xs = list(shape_of(inputs[0]))
    axes = _ints(host_value(inputs[1], "Unsqueeze axes")) if opset >= 13 else list(node.attrs["axes"])
    rank = len(xs) + len(axes)
    for a in sorted(a % rank for a in axes):
        xs.insert(a, 1)
    return [e.view(e.gpu(inputs[0]), xs)]


# --- host-only results (no dispatch) ------------------------------------------


@gpu_op("Shape")
def shape(e, node, inputs, opset):
    dims = list(shape_of(inputs[0]))
    start, end = node.attrs.get("start", 0), node.attrs.get("end")
    return [np.array(dims[start:end], np.int64)]


@gpu_op("Size")
def size(e, node, inputs, opset):
    return [np.array(math.prod(shape_of(inputs[0])), np.int64)]


@gpu_op("Constant")
def constant(e, node, inputs, opset):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in node.attrs:
            v = node.attrs[key]
            dtype = np.float32 if "float" in key else (np.int64 if "int" in key else None)
            return [np.asarray(v, dtype=dtype) if dtype else np.asarray(v)]
    raise Unsupported("Constant with a string or sparse value")


# --- strided copies ----------------------------------------------------------


@gpu_op("Transpose")
def transpose(e, node, inputs, opset):
    x = e.gpu(inputs[0])
    rank = len(x.shape)
    perm = list(node.attrs.get("perm", range(rank - 1, -1, -1)))
    out = [x.shape[p] for p in perm]
    y = e.new(out, x.dtype)
    xs = contiguous_strides(x.shape)
    emit_copy(e, x, y, out, [xs[p] for p in perm], contiguous_strides(out))
    return [y]


@gpu_op("Concat")
def concat(e, node, inputs, opset):
    xs = [x for x in inputs if x is not None]
    rank = len(shape_of(xs[0]))
    axis = node.attrs["axis"] % rank
    out = list(shape_of(xs[0]))
    out[axis] = sum(shape_of(x)[axis] for x in xs)
    y = e.new(out, dtype_of(xs[0]))
    ys = contiguous_strides(out)
    offset = 0
    for x in xs:
        x = e.gpu(x)
        emit_copy(e, x, y, x.shape, contiguous_strides(x.shape), ys, 0, offset * ys[axis])
        offset += x.shape[axis]
    return [y]


@gpu_op("Split")
def split(e, node, inputs, opset):
    x = e.gpu(inputs[0])
    rank = len(x.shape)
    axis = node.attrs.get("axis", 0) % rank
    n_out = len(node.outputs)
    if opset >= 13:
        sv = host_value(inputs[1] if len(inputs) > 1 else None, "Split sizes")
        sizes = _ints(sv) if sv is not None else None
    else:
        sizes = node.attrs.get("split")
    if not sizes:
        d = x.shape[axis]
        num = node.attrs.get("num_outputs", n_out)
        chunk = -(-d // num)
        sizes = [min(chunk, d - i * chunk) for i in range(num)]
    xs = contiguous_strides(x.shape)
    outs, offset = [], 0
    for s in sizes:
        shape = list(x.shape)
        shape[axis] = s
        y = e.new(shape, x.dtype)
        emit_copy(e, x, y, shape, xs, contiguous_strides(shape), offset * xs[axis], 0)
        offset += s
        outs.append(y)
    return outs


@gpu_op("Slice")
def slice_(e, node, inputs, opset):
    x = e.gpu(inputs[0])
    rank = len(x.shape)
    if opset < 10:
        starts, ends = node.attrs["starts"], node.attrs["ends"]
        axes, steps = node.attrs.get("axes"), None
    else:
        starts = _ints(host_value(inputs[1], "starts"))
        ends = _ints(host_value(inputs[2], "ends"))
        a = host_value(inputs[3] if len(inputs) > 3 else None, "axes")
        s = host_value(inputs[4] if len(inputs) > 4 else None, "steps")
        axes, steps = (None if a is None else _ints(a)), (None if s is None else _ints(s))
    axes = list(range(len(starts))) if axes is None else [a % rank for a in axes]
    steps = steps or [1] * len(starts)
    xs = contiguous_strides(x.shape)
    out, xstr, base = list(x.shape), list(xs), 0
    for ax, st, en, sp in zip(axes, starts, ends, steps):
        idx = range(x.shape[ax])[slice(st, en, sp)]
        out[ax] = len(idx)
        if len(idx):
            base += idx.start * xs[ax]
        xstr[ax] = xs[ax] * sp
    y = e.new(out, x.dtype)
    emit_copy(e, x, y, out, xstr, contiguous_strides(out), base, 0)
    return [y]


@gpu_op("Expand")
def expand(e, node, inputs, opset):
    x = e.gpu(inputs[0])
    shape = _ints(host_value(inputs[1], "Expand shape"))
    out = list(np.broadcast_shapes(tuple(x.shape), tuple(shape)))
    rank = len(out)
    xsh = [1] * (rank - len(x.shape)) + list(x.shape)
    cs = contiguous_strides(xsh)
    xstr = [0 if xsh[k] == 1 and out[k] != 1 else cs[k] for k in range(rank)]
    y = e.new(out, x.dtype)
    emit_copy(e, x, y, out, xstr, contiguous_strides(out))
    return [y]


@gpu_op("Tile")
def tile(e, node, inputs, opset):
    x = e.gpu(inputs[0])
    reps = _ints(host_value(inputs[1], "Tile repeats"))
    out = [d * r for d, r in zip(x.shape, reps)]
    y = e.new(out, x.dtype)
    # out viewed as (r0, d0, r1, d1, ...): x strides are 0 on the repeat dims.
    dims, xstr, ystr = [], [], []
    xs, ys = contiguous_strides(x.shape), contiguous_strides(out)
    for k, (d, r) in enumerate(zip(x.shape, reps)):
        dims += [r, d]
        xstr += [0, xs[k]]
        ystr += [ys[k] * d, ys[k]]
    emit_copy(e, x, y, dims, xstr, ystr)
    return [y]


@gpu_op("Gather", "GatherElements")
def gather(e, node, inputs, opset):
    x, idx = inputs
    xs = shape_of(x)
    if dtype_of(idx) not in (np.dtype("int64"), np.dtype("int32")):
        raise Unsupported("indices must be int32/int64")
    axis = node.attrs.get("axis", 0) % len(xs)
    ish = shape_of(idx)
    x = e.gpu(x)
    # Host indices upload by name (re-sent each run when fed), int64 -> int32 on the way.
    idx_t = e.gpu(idx)
    D, inner = xs[axis], math.prod(xs[axis + 1:])
    if node.op_type == "Gather":
        out = list(xs[:axis]) + list(ish) + list(xs[axis + 1:])
        nidx = math.prod(ish)
    else:
        if any(ish[k] != xs[k] for k in range(len(xs)) if k != axis):
            raise Unsupported("GatherElements with indices smaller than data off-axis")
        out, nidx = list(ish), ish[axis]
    y = e.new(out, x.dtype)
    e.dispatch("data/gather", x.dtype, [y.size, D, inner, nidx], [x, idx_t, y],
               defines={"ELEMENTS": node.op_type == "GatherElements"}, threads=y.size)
    return [y]


PAD_MODES = {"constant": 0, "reflect": 1, "edge": 2, "wrap": 3}


@gpu_op("Pad")
def pad(e, node, inputs, opset):
    x = e.gpu(inputs[0])
    rank = len(x.shape)
    mode = node.attrs.get("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if opset < 11:
        pads, value = list(node.attrs["pads"]), float(node.attrs.get("value", 0.0))
        axes = list(range(rank))
    else:
        pads = _ints(host_value(inputs[1], "pads"))
        v = host_value(inputs[2] if len(inputs) > 2 else None, "constant_value")
        value = float(v.reshape(-1)[0]) if v is not None and v.size else 0.0
        a = host_value(inputs[3] if len(inputs) > 3 else None, "axes")
        axes = list(range(rank)) if a is None else [int(i) % rank for i in a.reshape(-1)]
    begin, end = [0] * rank, [0] * rank
    for i, ax in enumerate(axes):
        begin[ax], end[ax] = pads[i], pads[i + len(axes)]
    if rank > 8 or x.dtype not in (np.float32, np.float16):
        raise Unsupported("Pad on GPU takes float tensors of rank <= 8")
    out = [d + b + en for d, b, en in zip(x.shape, begin, end)]
    y = e.new(out, x.dtype)
    pad8 = [0] * (8 - rank)
    params = [y.size, value, 0, 0] + out + [1] * (8 - rank) + list(x.shape) + [1] * (8 - rank)
    params += begin + pad8 + contiguous_strides(x.shape) + pad8
    e.dispatch("data/pad", x.dtype, params, [x, y], defines={"RANK": rank, "MODE": PAD_MODES[mode]},
               threads=y.size)
    return [y]


NEAREST = {"round_prefer_floor": 0, "round_prefer_ceil": 1, "floor": 2, "ceil": 3}


@gpu_op("Resize", "Upsample")
def resize(e, node, inputs, opset):
    x = e.gpu(inputs[0])
    xs = x.shape
    if len(xs) != 4 or x.dtype not in (np.float32, np.float16):
        raise Unsupported("Resize on GPU takes float NCHW")
    attr = lambda k, d: (lambda v: v.decode() if isinstance(v, bytes) else v)(node.attrs.get(k, d))  # noqa: E731
    mode = attr("mode", "nearest")
    if mode not in ("nearest", "linear"):
        raise Unsupported(f"Resize mode {mode}")
    ctm = attr("coordinate_transformation_mode", "half_pixel" if opset >= 11 else "asymmetric")
    if node.op_type == "Upsample" or opset < 11:
        scales = list(node.attrs["scales"]) if opset < 9 else [float(v) for v in host_value(inputs[1], "scales").reshape(-1)]
        sizes = None
        ctm = "asymmetric"
    else:
        sv = host_value(inputs[2] if len(inputs) > 2 else None, "scales")
        zv = host_value(inputs[3] if len(inputs) > 3 else None, "sizes")
        if node.attrs.get("axes") is not None or node.attrs.get("keep_aspect_ratio_policy", "stretch") not in ("stretch", b"stretch"):
            raise Unsupported("Resize axes / keep_aspect_ratio_policy")
        scales = [float(v) for v in sv.reshape(-1)] if sv is not None and sv.size else None
        sizes = _ints(zv) if zv is not None and zv.size else None
    if sizes is not None:
        scales = [o / i for o, i in zip(sizes, xs)]
    else:
        sizes = [int(math.floor(d * s)) for d, s in zip(xs, scales)]
    if sizes[0] != xs[0] or sizes[1] != xs[1]:
        raise Unsupported("Resize of N or C")
    if ctm not in ("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "half_pixel_symmetric"):
        raise Unsupported(f"coordinate_transformation_mode {ctm}")
    if ctm == "half_pixel_symmetric":
        raise Unsupported(ctm)
    sc_off = []
    for ax in (2, 3):
        s, n_in, n_out = scales[ax], xs[ax], sizes[ax]
        if ctm == "asymmetric":
            sc_off += [1.0 / s, 0.0]
        elif ctm == "align_corners":
            sc_off += [(n_in - 1) / (n_out - 1) if n_out > 1 else 0.0, 0.0]
        elif ctm == "pytorch_half_pixel" and n_out == 1:
            sc_off += [0.0, -0.5 + 0.0]
        else:
            sc_off += [1.0 / s, 0.5 / s - 0.5]
    y = e.new(sizes, x.dtype)
    nm = NEAREST.get(attr("nearest_mode", "round_prefer_floor"), 0)
    if node.op_type == "Upsample" or opset < 11:
        nm = 2
    params = [y.size, xs[2], xs[3], sizes[2], sizes[3]] + [float(v) for v in sc_off]
    e.dispatch("data/resize", x.dtype, params, [x, y],
               defines={"MODE": 0 if mode == "nearest" else 1, "NEAREST": nm}, threads=y.size)
    return [y]
