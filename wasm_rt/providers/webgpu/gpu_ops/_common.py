"""Helpers shared by GPU op modules."""

from __future__ import annotations

import numpy as np

from ..program import GTensor, Unsupported

FLOATS = (np.dtype("float32"), np.dtype("float16"))


def require_float(*xs) -> np.dtype:
    """The common float dtype of the tensor inputs; Unsupported otherwise."""
    dtype = None
    for x in xs:
        if x is None:
            continue
        d = x.dtype if isinstance(x, GTensor) else np.asarray(x).dtype
        if d not in FLOATS or (dtype is not None and d != dtype):
            raise Unsupported(f"dtype {d} (GPU kernels here take float32/float16)")
        dtype = d
    return dtype


def shape_of(x) -> tuple[int, ...]:
    return x.shape if isinstance(x, GTensor) else np.shape(x)


def dtype_of(x) -> np.dtype:
    return x.dtype if isinstance(x, GTensor) else np.asarray(x).dtype


def broadcast_layout(out_shape, in_shapes):
    """Collapsed dims and per-input strides (0 where broadcast) for a broadcast kernel."""
    rank = len(out_shape)
    strides = []
    for shape in in_shapes:
        shape = (1,) * (rank - len(shape)) + tuple(shape)
        s, acc = [0] * rank, 1
        for k in range(rank - 1, -1, -1):
            s[k] = 0 if shape[k] == 1 and out_shape[k] != 1 else acc
            acc *= shape[k]
        strides.append(s)
    dims = list(out_shape)
    # Merge dim k into k+1 when every input is contiguous across the pair.
    k = rank - 2
    while k >= 0:
        if all(s[k] == s[k + 1] * dims[k + 1] for s in strides):
            dims[k + 1] *= dims[k]
            del dims[k]
            for s in strides:
                del s[k]
        k -= 1
    if not dims:
        dims = [1]
        strides = [[0] for _ in strides]
    return dims, strides


def collapse_copy(dims, xs, ys):
    """Merge adjacent dims of a strided copy where both sides stay linear."""
    dims, xs, ys = list(dims), list(xs), list(ys)
    k = len(dims) - 2
    while k >= 0:
        if xs[k] == xs[k + 1] * dims[k + 1] and ys[k] == ys[k + 1] * dims[k + 1]:
            dims[k + 1] *= dims[k]
            del dims[k], xs[k], ys[k]
        k -= 1
    # Drop size-1 dims (they add nothing to addresses).
    keep = [i for i, d in enumerate(dims) if d != 1] or [0]
    return [dims[i] for i in keep], [xs[i] for i in keep], [ys[i] for i in keep]


def emit_copy(e, x: GTensor, y: GTensor, dims, xstrides, ystrides, xbase=0, ybase=0):
    """Strided copy of a view of ``x`` into ``y`` (data/copy.wgsl)."""
    n = int(np.prod(dims)) if len(dims) else 1
    if n == 0:
        return
    dims, xs, ys = collapse_copy(dims, xstrides, ystrides)
    if len(dims) > 8:
        raise Unsupported(f"copy of rank {len(dims)} > 8")
    rank = len(dims)
    pad = [0] * (8 - rank)
    params = [n, xbase, ybase, 0] + dims + [1] * (8 - rank) + xs + pad + ys + pad
    e.dispatch("data/copy", x.dtype, params, [x, y],
               defines={"RANK": rank}, threads=n)
