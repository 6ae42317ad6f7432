"""Kernels that only rearrange or reinterpret a tensor's shape.

Pad-like and constant-building ops live in ``shape_build.py``.
"""

from __future__ import annotations

import numpy as np

from ..limits import check_alloc
from ..registry import register
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
    axes = normalize_axes(as_int_list(axes), x.ndim)
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
