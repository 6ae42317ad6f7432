"""TensorScatter: the functional KV-cache write of attention decoders."""

from __future__ import annotations

import numpy as np

from ..registry import register, shape_rule
from ..shape_rules import unary
from ._common import normalize_axis


@register("TensorScatter", since=24)
def tensor_scatter(past_cache, update, write_indices=None, *, axis=-2, mode="linear"):
    """Write ``update`` into a copy of ``past_cache`` along ``axis`` from each
    batch row's write index (modulo the cache length when ``mode='circular'``)."""
    if mode not in ("linear", "circular"):
        raise ValueError(
            f"TensorScatter: mode must be 'linear' or 'circular', got {mode!r}"
        )
    rank = past_cache.ndim
    axis = normalize_axis(axis, rank)
    if axis == 0:
        raise ValueError("TensorScatter: axis must not be the batch axis 0")
    if update.ndim != rank or any(
        u != c
        for i, (u, c) in enumerate(zip(update.shape, past_cache.shape))
        if i != axis
    ):
        raise ValueError(
            f"TensorScatter: update {update.shape} must match past_cache {past_cache.shape} "
            f"except along axis {axis}"
        )
    max_len, seq_len = past_cache.shape[axis], update.shape[axis]
    if seq_len > max_len:
        raise ValueError(
            f"TensorScatter: update length {seq_len} exceeds the cache length {max_len}"
        )
    batch = past_cache.shape[0]
    if write_indices is None:
        start = np.zeros(batch, dtype=np.int64)
    else:
        start = np.asarray(write_indices, dtype=np.int64).reshape(-1)
        if start.shape != (batch,):
            raise ValueError(
                f"TensorScatter: write_indices needs one index per batch row ({batch}), "
                f"got shape {np.shape(write_indices)}"
            )
    pos = start[:, None] + np.arange(seq_len)  # (batch, seq_len)
    if mode == "circular":
        pos = pos % max_len if max_len else pos
    elif seq_len and (pos.min() < 0 or pos.max() >= max_len):
        raise ValueError(
            f"TensorScatter: write positions {int(pos.min())}..{int(pos.max())} fall outside "
            f"a cache of length {max_len} (use mode='circular' to wrap)"
        )
    present = past_cache.copy()
    # Move the sequence axis next to batch so one fancy index writes every row.
    view = np.moveaxis(present, axis, 1)
    upd = np.moveaxis(update, axis, 1)
    view[np.arange(batch)[:, None], pos] = upd
    return present


# --- shape rules -----------------------------------------------------------


shape_rule(("TensorScatter",))(unary)
