"""Helpers shared by kernel modules."""

from __future__ import annotations

import numpy as np


def normalize_axis(axis: int, rank: int) -> int:
    """Map a possibly negative axis into [0, rank)."""
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def normalize_axes(axes, rank: int) -> tuple[int, ...]:
    return tuple(normalize_axis(int(a), rank) for a in axes)


def as_int_list(t) -> list[int]:
    """An integer tensor input (shape, axes, pads ...) as a list of Python ints.

    A float, complex or string tensor here is a malformed model; int() would
    silently truncate it (or warn and drop the imaginary part).
    """
    arr = np.asarray(t)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"expected an integer tensor (shape, axes, pads ...), got {arr.dtype}")
    return [int(v) for v in arr.reshape(-1)]


def check_index_range(indices: np.ndarray, dim: int, what: str) -> np.ndarray:
    """Indices in [-dim, dim) mapped to [0, dim); anything else raises.

    numpy would wrap or raise IndexError deep inside fancy indexing; a model
    with a bad index deserves a message naming the op and the bound instead.
    """
    indices = np.asarray(indices).astype(np.int64, copy=False)
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < -dim or hi >= dim:
            bad = lo if lo < -dim else hi
            raise ValueError(
                f"{what}: index {bad} is out of range for a dimension of size {dim} "
                f"(valid indices are {-dim} .. {dim - 1})"
            )
    # np.intp is int32 in Pyodide (wasm32), and np.take refuses int64 there;
    # after the range check every index fits.
    return np.where(indices < 0, indices + dim, indices).astype(np.intp, copy=False)
