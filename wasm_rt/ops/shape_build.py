"""Kernels that build tensors of a new size: Pad, CenterCropPad, constants, Range."""

from __future__ import annotations

import math

import numpy as np

from .. import symbolic as sy
from ..dtypes import to_numpy
from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext, RuleError, as_dim
from ..shape_rules import INT64, T, _array_type, norm_axis, numel, unary
from ._common import as_int_list, normalize_axes, normalize_axis

# --- Pad ---------------------------------------------------------------------

_PAD_MODES = {
    "constant": "constant",
    "reflect": "reflect",
    "edge": "edge",
    "wrap": "wrap",
}


def _pad(x: np.ndarray, pads, mode: str, value, axes=None) -> np.ndarray:
    if x.ndim == 0:  # as onnxruntime: a scalar has no axes to pad
        raise ValueError("Pad: input must have rank >= 1, got a scalar")
    pads = as_int_list(pads)
    axes = (
        list(range(x.ndim))
        if axes is None
        else normalize_axes(as_int_list(axes), x.ndim)
    )
    if len(pads) != 2 * len(axes):
        raise ValueError(
            f"Pad: {len(pads)} pads for {len(axes)} axes (expected begins then ends, "
            f"{2 * len(axes)} values)"
        )
    if mode not in _PAD_MODES:
        raise ValueError(f"Pad: mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")
    begin, end = [0] * x.ndim, [0] * x.ndim
    for i, a in enumerate(axes):
        begin[a], end[a] = pads[i], pads[len(axes) + i]
    out_shape = [d + b + e for d, b, e in zip(x.shape, begin, end)]
    if any(d < 0 for d in out_shape):
        raise ValueError(f"Pad: pads {pads} crop more than the input shape {x.shape}")
    check_alloc(out_shape, x.dtype, "Pad output")
    # Negative pads crop; do that first so np.pad only ever grows.
    crop = tuple(
        slice(-min(b, 0), d + min(e, 0)) for d, b, e in zip(x.shape, begin, end)
    )
    x = x[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in zip(begin, end)]
    if mode != "constant":
        for d, (b, e) in zip(x.shape, width):
            if d == 0 and (b or e):
                raise ValueError(f"Pad: mode {mode!r} cannot pad an empty dimension")
        return np.pad(x, width, mode=_PAD_MODES[mode])
    if value is None:
        value = "" if x.dtype == object else 0
    else:
        value = np.asarray(value).reshape(-1)[0] if np.size(value) else 0
    return np.pad(x, width, mode="constant", constant_values=value).astype(
        x.dtype, copy=False
    )


@register("Pad", since=1)
def pad_1(x, *, paddings, mode="constant", value=0.0):
    return _pad(x, paddings, mode, value)


@register("Pad", since=2)
def pad_2(x, *, pads, mode="constant", value=0.0):
    return _pad(x, pads, mode, value)


@register("Pad", since=11)
def pad_11(x, pads, constant_value=None, *, mode="constant"):
    return _pad(x, pads, mode, constant_value)


@register("Pad", since=18)
def pad_18(x, pads, constant_value=None, axes=None, *, mode="constant"):
    return _pad(x, pads, mode, constant_value, axes)


@register("CenterCropPad", since=18)
def center_crop_pad(x, shape, *, axes=None):
    target = as_int_list(shape)
    axes = list(range(x.ndim)) if axes is None else normalize_axes(axes, x.ndim)
    if len(target) != len(axes):
        raise ValueError(
            f"CenterCropPad: shape {target} does not match axes {list(axes)}"
        )
    out_shape = list(x.shape)
    src = [slice(None)] * x.ndim
    dst = [slice(None)] * x.ndim
    for a, t in zip(axes, target):
        if t < 0:
            raise ValueError(f"CenterCropPad: negative target size {t}")
        d = x.shape[a]
        out_shape[a] = t
        # The extra element of an odd difference goes to the end, as in the spec.
        if t < d:
            off = (d - t) // 2
            src[a] = slice(off, off + t)
        elif t > d:
            off = (t - d) // 2
            dst[a] = slice(off, off + d)
    check_alloc(out_shape, x.dtype, "CenterCropPad output")
    out = np.zeros(out_shape, dtype=x.dtype)
    out[tuple(dst)] = x[tuple(src)]
    return out


# --- Constants ---------------------------------------------------------------


def _densify(sparse) -> np.ndarray:
    """A sparse_value attribute (values, indices, dims) as a dense array."""
    if isinstance(sparse, np.ndarray):
        return sparse
    values = np.asarray(sparse.values)
    indices = np.asarray(sparse.indices, dtype=np.int64)
    dims = [int(d) for d in sparse.dims]
    check_alloc(dims, values.dtype, "Constant sparse_value")
    out = np.zeros(dims, dtype=values.dtype)
    if indices.ndim == 1:
        # Linearised indices into the flattened tensor.
        out.reshape(-1)[indices] = values.reshape(-1)
    else:
        out[tuple(indices.T)] = values.reshape(-1)
    return out


@register("Constant", since=1)
def constant(
    *,
    value=None,
    sparse_value=None,
    value_float=None,
    value_floats=None,
    value_int=None,
    value_ints=None,
    value_string=None,
    value_strings=None,
):
    given = {
        k: v
        for k, v in {
            "value": value,
            "sparse_value": sparse_value,
            "value_float": value_float,
            "value_floats": value_floats,
            "value_int": value_int,
            "value_ints": value_ints,
            "value_string": value_string,
            "value_strings": value_strings,
        }.items()
        if v is not None
    }
    if len(given) != 1:
        raise ValueError(
            f"Constant needs exactly one value attribute, got {sorted(given)}"
        )
    ((name, v),) = given.items()
    if name == "value":
        return np.asarray(v).copy()
    if name == "sparse_value":
        return _densify(v)
    if name in ("value_float", "value_floats"):
        return np.array(v, dtype=np.float32)
    if name in ("value_int", "value_ints"):
        return np.array(v, dtype=np.int64)
    strings = [
        s.decode() if isinstance(s, bytes) else s for s in np.ravel(np.array(v, object))
    ]
    arr = np.empty(len(strings), dtype=object)
    arr[:] = strings
    return arr.reshape(()) if name == "value_string" else arr


@register("ConstantOfShape", since=9)
def constant_of_shape(shape, *, value=None):
    dims = as_int_list(shape)
    fill = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    if fill.size != 1:
        raise ValueError(
            f"ConstantOfShape: value must hold one element, got {fill.size}"
        )
    check_alloc(dims, fill.dtype, "ConstantOfShape output")
    return np.full(dims, fill[0], dtype=fill.dtype)


@register("EyeLike", since=9)
def eye_like(x, *, dtype=None, k=0):
    if x.ndim != 2:
        raise ValueError(f"EyeLike: expected a 2-D input, got shape {x.shape}")
    out_dtype = x.dtype if dtype is None else to_numpy(dtype)
    check_alloc(x.shape, out_dtype, "EyeLike output")
    return np.eye(x.shape[0], x.shape[1], k=k, dtype=out_dtype)


@register("Range", since=11)
def range_(start, limit, delta):
    return _range(start, limit, delta, stash_float=False)


@register("Range", since=27)
def range_27(start, limit, delta, *, stash_type=1):
    return _range(start, limit, delta, stash_float=stash_type == 1)


def _range(start, limit, delta, stash_float: bool):
    dtype = np.asarray(start).dtype
    calc = np.dtype(np.float32) if stash_float and dtype == np.float16 else dtype
    s, lim, d = (np.asarray(v).reshape(-1)[0] for v in (start, limit, delta))
    if d == 0:
        raise ValueError("Range: delta must not be 0")
    n = max(math.ceil((float(lim) - float(s)) / float(d)), 0)
    if dtype.kind in "iu":
        # Exact integer arithmetic: a float division can be off by one for big values.
        n = max(-((int(s) - int(lim)) // int(d)), 0)
    check_alloc([n], calc, "Range output")
    return (calc.type(s) + np.arange(n, dtype=calc) * calc.type(d)).astype(
        dtype, copy=False
    )


# --- ReverseSequence ---------------------------------------------------------


@register("ReverseSequence", since=10)
def reverse_sequence(x, sequence_lens, *, batch_axis=1, time_axis=0):
    if x.ndim < 2:
        raise ValueError(f"ReverseSequence: input must have rank >= 2, got {x.shape}")
    batch_axis = normalize_axis(batch_axis, x.ndim)
    time_axis = normalize_axis(time_axis, x.ndim)
    if batch_axis == time_axis:
        raise ValueError("ReverseSequence: batch_axis and time_axis must differ")
    lens = np.asarray(sequence_lens, dtype=np.int64).reshape(-1)
    steps = x.shape[time_axis]
    if lens.shape[0] != x.shape[batch_axis]:
        raise ValueError(
            f"ReverseSequence: {lens.shape[0]} sequence_lens for batch size {x.shape[batch_axis]}"
        )
    if lens.size and (lens.min() < 0 or lens.max() > steps):
        raise ValueError(f"ReverseSequence: sequence_lens must be within 0 .. {steps}")
    shape = [1] * x.ndim
    shape[time_axis] = steps
    t = np.arange(steps).reshape(shape)
    shape = [1] * x.ndim
    shape[batch_axis] = lens.shape[0]
    n = lens.reshape(shape)
    src = np.where(t < n, n - 1 - t, t)
    src = np.broadcast_to(src, x.shape[:])
    return np.take_along_axis(x, src, axis=time_axis)


# --- shape rules -----------------------------------------------------------


@shape_rule("Constant")
def _constant_shape(ctx: RuleContext):
    a = ctx.attrs
    if "value" in a or "sparse_value" in a:
        arr = a.get("value", a.get("sparse_value"))
        elem, shape = _array_type(arr)
        if isinstance(arr, np.ndarray) and arr.dtype.kind in "biuf":
            ctx.set_value(0, arr)
        return T(elem, shape)
    for key, elem in (
        ("value_float", "float"),
        ("value_int", INT64),
        ("value_string", "string"),
    ):
        if key in a:
            if key == "value_int":
                ctx.set_value(0, np.array(a[key], dtype=np.int64))
            return T(elem, ())
    for key, elem in (
        ("value_floats", "float"),
        ("value_ints", INT64),
        ("value_strings", "string"),
    ):
        if key in a:
            if key == "value_ints":
                ctx.set_value(0, np.array(a[key], dtype=np.int64))
            return T(elem, (len(a[key]),))
    raise RuleError("Constant has no value attribute")


@shape_rule("ConstantOfShape")
def _constant_of_shape_shape(ctx: RuleContext):
    value = ctx.attr("value")
    elem = _array_type(value)[0] if value is not None else "float"
    dims = ctx.dims(0)
    if dims is None:
        n = ctx.shape(0)
        return T(elem, ctx.fresh_shape(n[0]) if n and isinstance(n[0], int) else None)
    small = all(isinstance(d, int) for d in dims) and numel(dims) <= 256
    if small and isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        ctx.set_value(0, np.full(dims, value.reshape(-1)[0], dtype=value.dtype))
    return T(elem, dims)


@shape_rule("Pad")
def _pad_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return T(ctx.elem(0), None)
    rank = len(shape)
    if ctx.opset >= 11:
        pads = ctx.dims(1)
        axes = ctx.ints(3) if ctx.has(3) else list(range(rank))
    else:
        pads = ctx.attr("pads", ctx.attr("paddings"))
        axes = list(range(rank))
    if pads is None or axes is None:
        return T(ctx.elem(0), ctx.fresh_shape(rank))
    axes = [norm_axis(a, rank) for a in axes]
    n = len(axes)
    if len(pads) != 2 * n:
        raise RuleError(f"Pad has {len(pads)} pads for {n} axes")
    out = list(shape)
    for k, a in enumerate(axes):
        out[a] = sy.add(sy.add(out[a], pads[k]), pads[k + n])
    return T(ctx.elem(0), out)


@shape_rule("Range")
def _range_shape(ctx: RuleContext):
    elem = ctx.elem(0)
    vals = [ctx.value(i) for i in range(3)]
    if all(v is not None for v in vals):
        start, limit, delta = (v.reshape(-1)[0] for v in vals)
        if all(isinstance(x, (int, np.integer)) for x in (start, limit, delta)):
            if delta == 0:
                raise RuleError("Range delta is 0")
            n = max(int(-(-(int(limit) - int(start)) // int(delta))), 0)
            if n <= 256:
                ctx.set_value(0, np.arange(int(start), int(limit), int(delta)))
            return T(elem, (n,))
        if all(isinstance(x, (int, float, np.number)) for x in (start, limit, delta)):
            if delta == 0:
                raise RuleError("Range delta is 0")
            return T(
                elem,
                (max(int(np.ceil((float(limit) - float(start)) / float(delta))), 0),),
            )
        if int(delta) == 1 and start == 0:
            return T(elem, (as_dim(limit),))
        return T(elem, (sy.ceildiv(as_dim(limit) - as_dim(start), as_dim(delta)),))
    return T(elem, (ctx.fresh(),))


@shape_rule("CenterCropPad")
def _center_crop_pad_shape(ctx: RuleContext):
    x = ctx.shape(0)
    size = ctx.dims(1)
    if x is None:
        return T(ctx.elem(0), None)
    if size is None:
        return T(ctx.elem(0), ctx.fresh_shape(len(x)))
    axes = ctx.attr("axes") or list(range(len(x)))
    out = list(x)
    for s, a in zip(size, axes):
        out[norm_axis(a, len(x))] = s
    return T(ctx.elem(0), out)
shape_rule(("ReverseSequence", "EyeLike"))(unary)
