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
    """An int64 tensor input (shape, axes, pads ...) as a list of Python ints."""
    return [int(v) for v in np.asarray(t).reshape(-1)]
