"""The attention arithmetic onnxruntime's CPU Attention and MultiHeadAttention share
(``attention_cpu_base.h`` and ``PrepareMask`` in ``attention_helper.h``).

Everything runs in float32: scores = scale * Q K^T + mask + attention_bias, then
a max-subtracted softmax over the keys, then probs @ V.  The mask is *additive*
and built as onnxruntime builds it: padded keys get ``mask_filter_value``
(-10000 by default, so they keep a tiny weight, exactly as in onnxruntime) and
future keys under ``unidirectional`` get float32's lowest value.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument, NotImplemented
from ..limits import check_alloc

F32 = np.float32


def to_bnsh(x: np.ndarray, heads: int, what: str, op: str) -> np.ndarray:
    """(batch, seq, heads * size) -> (batch, heads, seq, size)."""
    b, s, hidden = x.shape
    if hidden % heads:
        raise InvalidArgument(
            f"{op}: {what} hidden size {hidden} is not a multiple of num_heads={heads}"
        )
    return x.reshape(b, s, heads, hidden // heads).transpose(0, 2, 1, 3)


def prepare_mask(
    mask_index, batch, q_len, total, past, causal, filter_value, op, one_column=True
):
    """The additive (batch, q_len, total) float32 mask, or None when nothing is masked.

    ``mask_index`` forms: (B) key end positions, (2B) ends then starts, (3B+2)
    (onnxruntime's CPU reads only the B end positions), (B, total) 0/1 per key,
    (B, q_len, total) 0/1 per query and key. With ``one_column`` (Attention and
    QAttention; MultiHeadAttention refuses it) a (B, 1) or (1, 1) mask is no mask:
    onnxruntime's ``AttentionBase::CheckMask`` drops it, since one value broadcast
    to every key adds the same constant to a whole score row, which softmax ignores.
    """
    if (
        one_column
        and mask_index is not None
        and np.ndim(mask_index) == 2
        and np.shape(mask_index) in ((batch, 1), (1, 1))
        and np.shape(mask_index) != (batch, total)
    ):
        mask_index = None
    if mask_index is None and not causal:
        return None
    check_alloc((batch, q_len, total), F32, f"{op} mask")
    mask = np.zeros((batch, q_len, total), F32)
    filt = F32(filter_value)
    if mask_index is not None:
        m = np.asarray(mask_index)
        if m.dtype != np.int32:
            raise InvalidArgument(f"{op}: the mask must be int32, got {m.dtype}")
        keys = np.arange(total)
        if m.ndim == 1 and m.shape[0] in (batch, 2 * batch, 3 * batch + 2):
            # Right padding: keys at or after the end position are masked.
            masked = keys >= m[:batch, None]
            if m.shape[0] == 2 * batch:  # left padding too
                masked |= keys < np.minimum(m[batch:, None], total)
            mask[:] = np.where(masked, filt, F32(0))[:, None, :]
        elif m.shape == (batch, total):
            mask[:] = np.where(m > 0, F32(0), filt)[:, None, :]
        elif m.shape == (batch, q_len, total):
            mask[:] = np.where(m > 0, F32(0), filt)
        elif m.ndim == 4:
            raise NotImplemented(
                f"{op}: a 4-D mask is not supported (onnxruntime's CPU kernel refuses it "
                "too)"
            )
        else:
            raise InvalidArgument(
                f"{op}: mask shape {list(m.shape)} is none of [{batch}], [{2 * batch}], "
                f"[{3 * batch + 2}], [{batch}, {total}], [{batch}, {q_len}, {total}]"
            )
    if causal:
        # Set (not added): query i sees keys up to past + i. onnxruntime's loop
        # leaves the last query row unmasked; that differs only when there are
        # more keys than past + q_len (cross attention), and is kept.
        future = np.arange(total)[None, :] > past + np.arange(q_len)[:, None]
        future[-1:] = False
        mask[:, future] = np.finfo(F32).min
    return mask


def check_attention_bias(bias, batch, heads, q_len, total, op):
    """attention_bias broadcasts from (batch or 1, heads or 1, q_len, total)."""
    if bias is None:
        return None
    if (
        bias.ndim != 4
        or bias.shape[0] not in (1, batch)
        or bias.shape[1] not in (1, heads)
        or bias.shape[2:] != (q_len, total)
    ):
        raise InvalidArgument(
            f"{op}: attention_bias must have shape [{batch} or 1, {heads} or 1, {q_len}, "
            f"{total}], got {list(bias.shape)}"
        )
    return bias.astype(F32, copy=False)


def softmax_f32(scores: np.ndarray) -> np.ndarray:
    """Max-subtracted softmax over the last axis (MLAS's ComputeSoftmax)."""
    e = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def attend(q, k, v, mask, bias, scale):
    """softmax(scale * q k^T + mask + bias) @ v on (batch, heads, seq, size) arrays.

    Returns (batch, q_len, heads * v_size) in float32.
    """
    batch, heads, q_len, head = q.shape
    check_alloc((batch, heads, q_len, k.shape[2]), F32, "attention scores")
    alpha = F32(scale if scale else 1.0 / np.sqrt(head))
    scores = np.matmul(q.astype(F32, copy=False), np.swapaxes(k, -1, -2).astype(F32))
    scores *= alpha
    if mask is not None:
        scores += mask[:, None]
    if bias is not None:
        scores += bias
    probs = softmax_f32(scores)
    out = np.matmul(probs, v.astype(F32, copy=False))
    return out.transpose(0, 2, 1, 3).reshape(batch, q_len, -1)
