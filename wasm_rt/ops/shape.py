"""Kernels that only rearrange or reinterpret a tensor's shape.

Pad-like and constant-building ops live in ``shape_build.py``.
"""

from __future__ import annotations

import numpy as np

from .. import symbolic as sy
from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext, RuleError
from ..shape_rules import BIG, INT64, T, broadcast_shapes, known_array, norm_axis, numel
from ..symbolic import DimLike
from ._common import as_int_list, normalize_axes, normalize_axis

# --- Reshape -----------------------------------------------------------------


def _reshape(x: np.ndarray, shape, allowzero: int) -> np.ndarray:
    dims = as_int_list(shape)
    if dims.count(-1) > 1:
        raise ValueError(f"Reshape: at most one -1 is allowed in shape {dims}")
    if any(d < -1 for d in dims):
        raise ValueError(f"Reshape: invalid dimension in shape {dims}")
    if allowzero:
        if 0 in dims and -1 in dims:
            raise ValueError(
                f"Reshape: shape {dims} has both 0 and -1 with allowzero=1"
            )
    else:
        # 0 means "copy this dimension from the input", so it needs one there.
        for i, d in enumerate(dims):
            if d == 0:
                if i >= x.ndim:
                    raise ValueError(
                        f"Reshape: shape {dims} has 0 at position {i} but the input "
                        f"{x.shape} has only {x.ndim} dimensions"
                    )
                dims[i] = x.shape[i]
    try:
        return x.reshape(dims)
    except ValueError:
        raise ValueError(f"Reshape: cannot reshape {x.shape} into {dims}") from None


@register("Reshape", since=1)
def reshape_1(x, *, shape):
    return _reshape(x, shape, 0)


@register("Reshape", since=5)
def reshape_5(x, shape):
    return _reshape(x, shape, 0)


@register("Reshape", since=14)
def reshape_14(x, shape, *, allowzero=0):
    return _reshape(x, shape, allowzero)


@register("Flatten", since=1)
def flatten(x, *, axis=1):
    # axis may equal the rank here (everything goes into the first dimension).
    if not -x.ndim <= axis <= x.ndim:
        raise ValueError(f"Flatten: axis {axis} is out of range for rank {x.ndim}")
    if axis < 0:
        axis += x.ndim
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    return x.reshape(outer, int(np.prod(x.shape[axis:], dtype=np.int64)))


# --- Squeeze / Unsqueeze -----------------------------------------------------


def _squeeze(x: np.ndarray, axes) -> np.ndarray:
    if axes is None:
        return x.reshape([d for d in x.shape if d != 1])
    axes = as_int_list(axes)
    if x.ndim == 0 and axes:  # normalize_axes lets axis 0 through for a scalar
        raise ValueError(f"Squeeze: axes {axes} given for a scalar input")
    axes = normalize_axes(axes, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(
                f"Squeeze: dimension {a} of {x.shape} is {x.shape[a]}, not 1"
            )
    return np.squeeze(x, axis=axes)


@register("Squeeze", since=1)
def squeeze_1(x, *, axes=None):
    return _squeeze(x, axes)


@register("Squeeze", since=13)
def squeeze_13(x, axes=None):
    return _squeeze(x, axes)


def _unsqueeze(x: np.ndarray, axes) -> np.ndarray:
    axes = as_int_list(axes)
    out_rank = x.ndim + len(axes)
    norm = normalize_axes(axes, out_rank)
    if len(set(norm)) != len(norm):
        raise ValueError(f"Unsqueeze: repeated axes {axes}")
    return np.expand_dims(x, norm)


@register("Unsqueeze", since=1)
def unsqueeze_1(x, *, axes):
    return _unsqueeze(x, axes)


@register("Unsqueeze", since=13)
def unsqueeze_13(x, axes):
    return _unsqueeze(x, axes)


@register("Transpose", since=1)
def transpose(x, *, perm=None):
    if perm is None:
        return np.transpose(x)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(
            f"Transpose: perm {list(perm)} is not a permutation of rank {x.ndim}"
        )
    return np.transpose(x, perm)


# --- Concat / Split ----------------------------------------------------------


def _concat(inputs, axis: int) -> np.ndarray:
    if not inputs:
        raise ValueError("Concat needs at least one input")
    rank = inputs[0].ndim
    axis = normalize_axis(axis, rank)
    for t in inputs:
        if t.ndim != rank or t.shape[:axis] + t.shape[axis + 1 :] != (
            inputs[0].shape[:axis] + inputs[0].shape[axis + 1 :]
        ):
            raise ValueError(
                f"Concat: shapes {[i.shape for i in inputs]} differ outside axis {axis}"
            )
    return np.concatenate(inputs, axis=axis)


@register("Concat", since=1)
def concat_1(*inputs, axis=1):
    return _concat(inputs, axis)


@register("Concat", since=4)
def concat_4(*inputs, axis):
    return _concat(inputs, axis)


def split_sizes(dim: int, n: int, what: str, uneven: bool = False) -> list[int]:
    """Chunk sizes splitting ``dim`` into ``n`` parts (the last smaller if ``uneven``)."""
    if n < 1:
        raise ValueError(f"{what}: cannot split into {n} parts")
    if uneven:
        chunk = -(-dim // n)
        sizes = [min(chunk, max(dim - i * chunk, 0)) for i in range(n)]
        return sizes
    if dim % n:
        raise ValueError(
            f"{what}: dimension {dim} does not split evenly into {n} parts"
        )
    return [dim // n] * n


def _split(x, sizes, axis: int, what: str):
    if x.ndim == 0:  # normalize_axis lets axis 0 through for a scalar
        raise ValueError(f"{what}: input must have rank >= 1, got a scalar")
    axis = normalize_axis(axis, x.ndim)
    sizes = [int(s) for s in sizes]
    if any(s < 0 for s in sizes) or sum(sizes) != x.shape[axis]:
        raise ValueError(
            f"{what}: split sizes {sizes} do not add up to dimension {x.shape[axis]} "
            f"of axis {axis}"
        )
    bounds = np.cumsum(sizes)[:-1]
    return tuple(np.split(x, bounds, axis=axis))


def _split_by_count(x, axis: int, n: int, uneven: bool = False):
    if x.ndim == 0:  # normalize_axis lets axis 0 through for a scalar
        raise ValueError("Split: input must have rank >= 1, got a scalar")
    dim = x.shape[normalize_axis(axis, x.ndim)]
    return _split(x, split_sizes(dim, n, "Split", uneven), axis, "Split")


@register("Split", since=1, context=True)
def split_1(ctx, x, split_input=None, *, axis=0, split=None):
    # Opset 1 took the sizes either as the second input or as an attribute.
    sizes = split_input if split_input is not None else split
    if sizes is None:
        return _split_by_count(x, axis, ctx.num_outputs)
    return _split(x, as_int_list(sizes), axis, "Split")


@register("Split", since=2, context=True)
def split_2(ctx, x, *, axis=0, split=None):
    if split is None:
        return _split_by_count(x, axis, ctx.num_outputs)
    return _split(x, split, axis, "Split")


@register("Split", since=13, context=True)
def split_13(ctx, x, split=None, *, axis=0):
    if split is None or np.size(split) == 0:
        return _split_by_count(x, axis, ctx.num_outputs)
    return _split(x, as_int_list(split), axis, "Split")


@register("Split", since=18, context=True)
def split_18(ctx, x, split=None, *, axis=0, num_outputs=None):
    if split is not None and np.size(split) and num_outputs is not None:
        raise ValueError("Split: give either the split input or num_outputs, not both")
    if num_outputs is not None:
        if num_outputs != ctx.num_outputs:
            raise ValueError(
                f"Split: num_outputs={num_outputs} but the node has {ctx.num_outputs} outputs"
            )
        return _split_by_count(x, axis, num_outputs, uneven=True)
    return split_13(ctx, x, split, axis=axis)


# --- Slice -------------------------------------------------------------------


_INT32_MAX, _INT64_MAX = 2**31 - 1, 2**63 - 1


def _slice(x, starts, ends, axes=None, steps=None) -> np.ndarray:
    starts, ends = as_int_list(starts), as_int_list(ends)
    if len(starts) != len(ends):
        raise ValueError(f"Slice: {len(starts)} starts but {len(ends)} ends")
    axes = list(range(len(starts))) if axes is None else as_int_list(axes)
    steps = [1] * len(starts) if steps is None else as_int_list(steps)
    if not len(axes) == len(steps) == len(starts):
        raise ValueError(
            "Slice: starts, ends, axes and steps must have the same length"
        )
    axes = normalize_axes(axes, x.ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"Slice: repeated axes {axes}")
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        dim = x.shape[axis]
        if step == 0:
            raise ValueError("Slice: steps must not be 0")
        # onnxruntime reads an INT_MAX end as "no end" (numpy's None) in either
        # direction, which for a negative step means "through index 0".
        if end in (_INT32_MAX, _INT64_MAX) and step < 0:
            end = -1 - dim
        start = start + dim if start < 0 else start
        end = end + dim if end < 0 else end
        # ONNX clamps; a negative step may run to "before index 0", which a
        # Python slice can only express as None.
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
            if dim == 0:
                start, end = 0, 0
        index[axis] = slice(start, None if end < 0 else end, step)
    return x[tuple(index)]


@register("Slice", since=1)
def slice_1(x, *, starts, ends, axes=None):
    return _slice(x, starts, ends, axes)


@register("Slice", since=10)
def slice_10(x, starts, ends, axes=None, steps=None):
    return _slice(x, starts, ends, axes, steps)


# --- Expand / Tile -----------------------------------------------------------


@register("Expand", since=8)
def expand(x, shape):
    dims = as_int_list(shape)
    try:
        out_shape = np.broadcast_shapes(x.shape, tuple(dims))
    except ValueError:
        raise ValueError(
            f"Expand: input {x.shape} cannot broadcast to {dims}"
        ) from None
    check_alloc(out_shape, x.dtype, "Expand output")
    # A copy, not a broadcast view: later kernels may write into their inputs' buffers.
    return np.broadcast_to(x, out_shape).copy()


@register("Tile", since=6)
def tile(x, repeats):
    reps = as_int_list(repeats)
    if len(reps) != x.ndim:
        raise ValueError(f"Tile: {len(reps)} repeats for an input of rank {x.ndim}")
    if any(r < 0 for r in reps):
        raise ValueError(f"Tile: negative repeats {reps}")
    check_alloc([d * r for d, r in zip(x.shape, reps)], x.dtype, "Tile output")
    return np.tile(x, reps)


# --- Shape / Size ------------------------------------------------------------


@register("Shape", since=1)
def shape_1(x):
    return np.array(x.shape, dtype=np.int64)


@register("Shape", since=15)
def shape_15(x, *, start=0, end=None):
    rank = x.ndim
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = rank if end is None else end
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return np.array(x.shape[start:end], dtype=np.int64)


@register("Size", since=1)
def size(x):
    return np.array(x.size, dtype=np.int64)


# --- SpaceToDepth / DepthToSpace --------------------------------------------


def _nchw(x, what: str):
    if x.ndim != 4:
        raise ValueError(f"{what}: expected a 4-D NCHW input, got shape {x.shape}")
    return x.shape


@register("SpaceToDepth", since=1)
def space_to_depth(x, *, blocksize):
    return space_to_depth_28(x, blocksize=blocksize)


@register("SpaceToDepth", since=28)
def space_to_depth_28(x, *, blocksize, mode="DCR"):
    n, c, h, w = _nchw(x, "SpaceToDepth")
    b = blocksize
    if b < 1 or h % b or w % b:
        raise ValueError(f"SpaceToDepth: blocksize {b} does not divide H={h}, W={w}")
    t = x.reshape(n, c, h // b, b, w // b, b)
    if mode == "DCR":
        t = t.transpose(0, 3, 5, 1, 2, 4)
    elif mode == "CRD":
        t = t.transpose(0, 1, 3, 5, 2, 4)
    else:
        raise ValueError(f"SpaceToDepth: mode must be 'DCR' or 'CRD', got {mode!r}")
    return t.reshape(n, c * b * b, h // b, w // b)


@register("DepthToSpace", since=1)
def depth_to_space(x, *, blocksize, mode="DCR"):
    n, c, h, w = _nchw(x, "DepthToSpace")
    b = blocksize
    if b < 1 or c % (b * b):
        raise ValueError(f"DepthToSpace: blocksize {b}**2 does not divide C={c}")
    if mode == "DCR":
        t = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        t = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        raise ValueError(f"DepthToSpace: mode must be 'DCR' or 'CRD', got {mode!r}")
    return t.reshape(n, c // (b * b), h * b, w * b)


# --- shape rules -----------------------------------------------------------


def _axes(ctx: RuleContext, since_input: int) -> list[int] | None | str:
    if ctx.opset >= since_input:
        if not ctx.has(1):
            return "none"
        return ctx.ints(1)
    a = ctx.attr("axes")
    return "none" if a is None else list(a)


def _slice_dim(d: DimLike, start: DimLike, end: DimLike, step: int) -> DimLike:
    if isinstance(d, int) and isinstance(start, int) and isinstance(end, int):
        return len(range(*slice(start, end, step).indices(d)))
    # Symbolic: clamp what we can; symbolic bounds are taken as in range.
    if step > 0:
        s = start if not isinstance(start, int) or start >= 0 else sy.add(d, start)
        if isinstance(end, int):
            e = d if end >= BIG else (sy.add(d, end) if end < 0 else sy.dmin(d, end))
        else:
            e = end
        if isinstance(s, int) and s == 0:
            length = e
        else:
            length = sy.add(e, sy.neg(s))
        return length if step == 1 else sy.ceildiv(length, step)
    if (
        isinstance(start, int)
        and start >= BIG - 1
        and isinstance(end, int)
        and end <= -BIG
    ):
        return sy.ceildiv(d, -step)
    return sy.sym("unk__slice")


def _slice_apply(ctx, shape, elem, starts, ends, axes, steps):
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    out = list(shape)
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = norm_axis(a, len(shape))
        if st == 0:
            raise RuleError("Slice step is 0")
        out[a] = _slice_dim(shape[a], s, e, st)
        if isinstance(out[a], sy.Dim) and "unk__slice" in out[a].symbols:
            out[a] = ctx.fresh()
    v = ctx.value(0)
    if v is not None and all(isinstance(x, int) for x in list(starts) + list(ends)):
        idx = [slice(None)] * v.ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            idx[norm_axis(a, v.ndim)] = slice(s, e, st)
        ctx.set_value(0, v[tuple(idx)])
    return T(elem, out)


@shape_rule("Reshape", since=5)
def _reshape_shape(ctx: RuleContext):
    elem, shape = ctx.elem(0), ctx.shape(0)
    target = ctx.dims(1)
    if target is None:
        n = ctx.shape(1)
        return T(elem, ctx.fresh_shape(n[0]) if n and isinstance(n[0], int) else None)
    allowzero = ctx.attr("allowzero", 0)
    out: list = []
    unknown = None
    for k, d in enumerate(target):
        if d == 0 and not allowzero:
            if shape is None or k >= len(shape):
                out.append(ctx.fresh())
            else:
                out.append(shape[k])
        elif d == -1:
            if unknown is not None:
                raise RuleError("Reshape shape has more than one -1")
            unknown = k
            out.append(None)
        else:
            out.append(d)
    if unknown is not None:
        if shape is None:
            out[unknown] = ctx.fresh()
        else:
            rest = numel([d for d in out if d is not None])
            total = numel(shape)
            if (
                isinstance(rest, int)
                and isinstance(total, int)
                and rest
                and total % rest
            ):
                raise RuleError(f"cannot reshape {list(shape)} into {target}")
            out[unknown] = sy.floordiv(total, rest) if rest != 0 else 0
    elif shape is not None:
        a, b = numel(shape), numel(out)
        if isinstance(a, int) and isinstance(b, int) and a != b:
            raise RuleError(
                f"cannot reshape {list(shape)} ({a} elements) into {target}"
            )
    if ctx.value(0) is not None and all(isinstance(d, int) for d in out):
        ctx.set_value(0, ctx.value(0).reshape(out))
    return T(elem, out)


@shape_rule("Reshape", since=1)
def _reshape_1_shape(ctx: RuleContext):
    shape = ctx.attr("shape")
    src = ctx.shape(0)
    out = []
    for k, d in enumerate(shape or []):
        out.append(src[k] if d == 0 and src is not None else d)
    if -1 in out and src is not None:
        rest = numel([d for d in out if d != -1])
        out[out.index(-1)] = sy.floordiv(numel(src), rest)
    return T(ctx.elem(0), [ctx.fresh() if d == -1 else d for d in out])


@shape_rule("Flatten")
def _flatten_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return T(ctx.elem(0), (ctx.fresh(), ctx.fresh()))
    axis = ctx.attr("axis", 1)
    axis = axis + len(shape) if axis < 0 else axis
    return T(ctx.elem(0), (numel(shape[:axis]), numel(shape[axis:])))


@shape_rule("Squeeze")
def _squeeze_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    axes = _axes(ctx, 13)
    if shape is None or axes is None:
        return T(ctx.elem(0), None)
    if axes == "none":
        if not all(isinstance(d, int) for d in shape):
            return T(ctx.elem(0), None)
        keep = [d for d in shape if d != 1]
        out = keep
    else:
        ax = {norm_axis(a, len(shape)) for a in axes}
        for a in ax:
            if isinstance(shape[a], int) and shape[a] != 1:
                raise RuleError(f"cannot squeeze axis {a} of size {shape[a]}")
        out = [d for k, d in enumerate(shape) if k not in ax]
    v = ctx.value(0)
    if v is not None:
        ctx.set_value(
            0,
            v.reshape([int(d) for d in out])
            if all(isinstance(d, int) for d in out)
            else v.reshape(-1),
        )
    return T(ctx.elem(0), out)


@shape_rule("Unsqueeze")
def _unsqueeze_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    axes = _axes(ctx, 13)
    if axes == "none":
        raise RuleError("Unsqueeze needs axes")
    if shape is None or axes is None:
        if shape is not None and ctx.shape(1) and isinstance(ctx.shape(1)[0], int):
            return T(ctx.elem(0), ctx.fresh_shape(len(shape) + ctx.shape(1)[0]))
        return T(ctx.elem(0), None)
    rank = len(shape) + len(axes)
    ax = sorted(norm_axis(a, rank) for a in axes)
    out: list = list(shape)
    for a in ax:
        out.insert(a, 1)
    v = ctx.value(0)
    if v is not None:
        ctx.set_value(0, v.reshape([int(d) for d in out]))
    return T(ctx.elem(0), out)


@shape_rule("Transpose")
def _transpose_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return T(ctx.elem(0), None)
    perm = ctx.attr("perm") or list(range(len(shape)))[::-1]
    if sorted(perm) != list(range(len(shape))):
        raise RuleError(f"perm {perm} is not a permutation of rank {len(shape)}")
    return T(ctx.elem(0), [shape[p] for p in perm])


@shape_rule("Concat")
def _concat_shape(ctx: RuleContext):
    shapes = [ctx.shape(i) for i in range(len(ctx.inputs)) if ctx.has(i)]
    elem = next(
        (ctx.elem(i) for i in range(len(ctx.inputs)) if ctx.elem(i) != "unknown"),
        "unknown",
    )
    known = [s for s in shapes if s is not None]
    if not known:
        return T(elem, None)
    rank = len(known[0])
    if any(len(s) != rank for s in known):
        raise RuleError(
            f"Concat inputs have different ranks: {[len(s) for s in known]}"
        )
    axis = norm_axis(ctx.attr("axis", 0), rank)
    out: list = []
    for k in range(rank):
        if k == axis:
            if len(known) != len(shapes):
                out.append(ctx.fresh())
            else:
                total: DimLike = 0
                for s in known:
                    total = sy.add(total, s[k])
                out.append(total)
        else:
            dims = [s[k] for s in known]
            ints = {d for d in dims if isinstance(d, int)}
            if len(ints) > 1:
                raise RuleError(f"Concat inputs differ on axis {k}: {sorted(ints)}")
            out.append(ints.pop() if ints else dims[0])
    vals = [ctx.value(i) for i in range(len(ctx.inputs)) if ctx.has(i)]
    if all(v is not None for v in vals) and vals:
        ctx.set_value(0, np.concatenate([v.astype(object) for v in vals], axis=axis))
    return T(elem, out)


@shape_rule("Split")
def _split_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    n = ctx.num_outputs
    elem = ctx.elem(0)
    if shape is None:
        return [T(elem, None)] * n
    axis = norm_axis(ctx.attr("axis", 0), len(shape))
    if ctx.opset >= 13:
        split = ctx.ints(1) if ctx.has(1) else None
        if ctx.has(1) and split is None:
            return [
                T(elem, shape[:axis] + (ctx.fresh(),) + shape[axis + 1 :])
                for _ in range(n)
            ]
    else:
        split = ctx.attr("split")
    d = shape[axis]
    if split is None:
        if ctx.opset >= 18 and "num_outputs" in ctx.attrs:
            chunk = sy.ceildiv(d, n)
            sizes = [chunk] * (n - 1) + [sy.add(d, sy.neg(sy.mul(chunk, n - 1)))]
        else:
            if isinstance(d, int) and d % n:
                raise RuleError(f"cannot split {d} into {n} equal parts")
            sizes = [sy.floordiv(d, n)] * n
    else:
        sizes = list(split)
    return [T(elem, shape[:axis] + (s,) + shape[axis + 1 :]) for s in sizes]


@shape_rule("Slice", since=10)
def _slice_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    elem = ctx.elem(0)
    starts, ends = ctx.dims(1), ctx.dims(2)
    axes = ctx.ints(3) if ctx.has(3) else None
    steps = ctx.ints(4) if ctx.has(4) else None
    if shape is None:
        return T(elem, None)
    if (
        starts is None
        or ends is None
        or (ctx.has(3) and axes is None)
        or (ctx.has(4) and steps is None)
    ):
        n = ctx.shape(1)
        if axes is not None:
            touched = {norm_axis(a, len(shape)) for a in axes}
        elif n and n[0] == len(shape) or len(shape) == 1:
            touched = set(range(len(shape)))
        else:
            return T(elem, ctx.fresh_shape(len(shape)))
        return T(
            elem, [ctx.fresh() if k in touched else d for k, d in enumerate(shape)]
        )
    return _slice_apply(ctx, shape, elem, starts, ends, axes, steps)


@shape_rule("Slice", since=1)
def _slice_1_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return T(ctx.elem(0), None)
    return _slice_apply(
        ctx,
        shape,
        ctx.elem(0),
        ctx.attr("starts"),
        ctx.attr("ends"),
        ctx.attr("axes"),
        None,
    )


@shape_rule("Expand")
def _expand_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    target = ctx.dims(1)
    if target is None:
        n = ctx.shape(1)
        if shape is not None and n and isinstance(n[0], int):
            # An input dim other than 1 survives whatever the target says there.
            r = max(len(shape), n[0])
            padded = (1,) * (r - len(shape)) + tuple(shape)
            return T(ctx.elem(0), [ctx.fresh() if d == 1 else d for d in padded])
        return T(ctx.elem(0), None)
    if shape is None:
        return T(ctx.elem(0), None)
    return T(ctx.elem(0), broadcast_shapes(shape, tuple(target)))


@shape_rule("Tile")
def _tile_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    reps = ctx.dims(1)
    if shape is None:
        return T(ctx.elem(0), None)
    if reps is None:
        return T(ctx.elem(0), ctx.fresh_shape(len(shape)))
    if len(reps) != len(shape):
        raise RuleError(f"Tile repeats {reps} do not match rank {len(shape)}")
    return T(ctx.elem(0), [sy.mul(d, r) for d, r in zip(shape, reps)])


@shape_rule("DepthToSpace")
def _depth_to_space_shape(ctx: RuleContext):
    s = ctx.shape(0)
    b = ctx.attr("blocksize")
    if s is None or len(s) != 4:
        return T(ctx.elem(0), None)
    n, c, h, w = s
    return T(ctx.elem(0), (n, sy.floordiv(c, b * b), sy.mul(h, b), sy.mul(w, b)))


@shape_rule("SpaceToDepth")
def _space_to_depth_shape(ctx: RuleContext):
    s = ctx.shape(0)
    b = ctx.attr("blocksize")
    if s is None or len(s) != 4:
        return T(ctx.elem(0), None)
    n, c, h, w = s
    return T(ctx.elem(0), (n, sy.mul(c, b * b), sy.floordiv(h, b), sy.floordiv(w, b)))


@shape_rule("Shape")
def _shape_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return T(INT64, (ctx.fresh(),))
    rank = len(shape)
    start = ctx.attr("start", 0)
    end = ctx.attr("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    dims = shape[start:end]
    ctx.set_value(0, known_array(list(dims)) if dims else np.zeros(0, np.int64))
    return T(INT64, (len(dims),))


@shape_rule("Size")
def _size_shape(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is not None:
        ctx.set_value(0, known_array(numel(shape)))
    return T(INT64, ())
