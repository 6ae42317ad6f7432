"""onnxruntime's com.microsoft RotaryEmbedding.

The rotation itself is the ONNX-domain RotaryEmbedding-23 kernel
(``attention.rotary_embedding``); this module maps the contrib op's inputs onto
it: position ids as a scalar start offset or a (batch, seq) table, the head size
taken from the cache when ``rotary_embedding_dim`` is 0, and float32 arithmetic
for float16 inputs (onnxruntime's MLAS rotary kernel converts each element to
float32 and rounds once at the end).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument, NotImplemented
from ..registry import register
from .attention import rotary_embedding as _onnx_rotary


def rotary_positions(position_ids, batch: int, seq: int, max_pos: int) -> np.ndarray:
    """A (batch, seq) int64 table from a scalar start offset or a (batch, seq) table."""
    pos = np.asarray(position_ids)
    if pos.dtype.kind not in "iu":
        raise InvalidArgument(
            f"RotaryEmbedding: position_ids must be int64, got {pos.dtype}"
        )
    if pos.size == 1 and pos.ndim <= 1:
        # onnxruntime's "format 0": one start offset, token s sits at start + s.
        table = np.broadcast_to(int(pos.reshape(-1)[0]) + np.arange(seq), (batch, seq))
    elif pos.shape == (batch, seq):
        table = pos.astype(np.int64, copy=False)
    else:
        raise InvalidArgument(
            f"RotaryEmbedding: position_ids must be a scalar, [1] or [batch, seq] = "
            f"[{batch}, {seq}], got shape {list(pos.shape)}"
        )
    if table.size and (table.min() < 0 or table.max() >= max_pos):
        raise InvalidArgument(
            f"RotaryEmbedding: position ids must lie in [0, {max_pos}) (the cos/sin "
            f"cache length), got {int(table.min())} .. {int(table.max())}"
        )
    return table


def rotate_bnsh(x, cos_cache, sin_cache, positions, *, interleaved, rotary_dim):
    """Rotate (batch, heads, seq, head) ``x`` at (batch, seq) ``positions``, in float32.

    The first ``rotary_dim`` channels of each head rotate, the rest pass through.
    """
    f32 = np.float32
    out = _onnx_rotary(
        x.astype(f32, copy=False),
        cos_cache.astype(f32, copy=False),
        sin_cache.astype(f32, copy=False),
        positions,
        interleaved=int(interleaved),
        rotary_embedding_dim=rotary_dim,
    )
    return out.astype(x.dtype, copy=False)


@register("RotaryEmbedding", since=1, domain="com.microsoft")
def rotary_embedding(
    x,
    position_ids,
    cos_cache,
    sin_cache,
    *,
    interleaved=0,
    is_packed_batching=0,
    num_heads=0,
    rotary_embedding_dim=0,
    scale=1.0,
):
    # ``scale`` only matters when onnxruntime would regenerate the caches for a
    # sequence longer than them, which it refuses on CPU (refused below too).
    del scale
    if is_packed_batching:
        raise NotImplemented(
            "RotaryEmbedding: is_packed_batching=1 (a CUDA-only packed token layout) "
            "is not supported"
        )
    if x.ndim not in (3, 4):
        raise InvalidArgument(
            f"RotaryEmbedding: input must be 3-D or 4-D, got shape {list(x.shape)}"
        )
    if cos_cache.ndim != 2 or cos_cache.shape != sin_cache.shape:
        raise InvalidArgument(
            f"RotaryEmbedding: cos_cache and sin_cache must be 2-D of one shape, got "
            f"{list(cos_cache.shape)} and {list(sin_cache.shape)}"
        )
    if rotary_embedding_dim > 0 and num_heads <= 0:
        raise InvalidArgument(
            "RotaryEmbedding: num_heads must be given with rotary_embedding_dim"
        )
    if x.ndim == 4:  # (batch, heads, seq, head_size)
        batch, heads, seq, head_size = x.shape
        hidden = heads * head_size
    else:  # (batch, seq, hidden)
        batch, seq, hidden = x.shape
    max_pos, half = cos_cache.shape
    if x.ndim == 3:
        # Without rotary_embedding_dim the cache width fixes the head size.
        head_size = hidden // num_heads if rotary_embedding_dim > 0 else 2 * half
        heads = hidden // head_size if head_size else 0
        if heads * head_size != hidden or (num_heads > 0 and heads != num_heads):
            raise InvalidArgument(
                f"RotaryEmbedding: hidden size {hidden} does not split into heads of "
                f"{head_size} (num_heads={num_heads}, cache width {half})"
            )
    rot = rotary_embedding_dim if rotary_embedding_dim > 0 else head_size
    if rot > head_size or 2 * half != rot:
        raise InvalidArgument(
            f"RotaryEmbedding: cos/sin cache width {half} must be "
            f"rotary_embedding_dim/2 = {rot // 2} (head size {head_size})"
        )
    if seq > max_pos:
        raise NotImplemented(
            f"RotaryEmbedding: sequence length {seq} exceeds the cache length {max_pos} "
            "(regenerating the caches is not supported, as in onnxruntime's CPU "
            "kernel)"
        )
    positions = rotary_positions(position_ids, batch, seq, max_pos)
    if x.ndim == 3:
        x4 = x.reshape(batch, seq, heads, head_size).transpose(0, 2, 1, 3)
    else:
        x4 = x
    out = rotate_bnsh(
        x4, cos_cache, sin_cache, positions, interleaved=interleaved, rotary_dim=rot
    )
    return out if x.ndim == 4 else out.transpose(0, 2, 1, 3).reshape(x.shape)
