"""Transformer building blocks: Attention, RotaryEmbedding, RMSNormalization.

Attention follows the ONNX function body step by step (scale split as
``sqrt(scale)`` on both Q and K, softcap before the mask, masks folded into one
additive bias) so float16 results round the way the reference and the
``_expanded`` graphs do.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import to_numpy
from ..limits import check_alloc
from ..registry import register
from ._common import normalize_axis

_MODE_WITH_BIAS = 2
_MODE_AFTER_SOFTMAX = 3


def _split_heads(x: np.ndarray, num_heads, what: str) -> np.ndarray:
    """(batch, seq, heads * size) -> (batch, heads, seq, size)."""
    if num_heads is None or num_heads <= 0 or x.shape[2] % num_heads:
        raise ValueError(
            f"Attention: 3-D {what} of shape {x.shape} needs a head count attribute "
            f"dividing its last dimension, got {num_heads}"
        )
    b, s, hidden = x.shape
    return x.reshape(b, s, num_heads, hidden // num_heads).transpose(0, 2, 1, 3)


def _frontier_bias(q_len, kv_len, offset, allowed_fn, dtype) -> np.ndarray:
    """An additive 0/-inf bias from a predicate on (query + offset, key) positions.

    ``offset`` is a scalar (no cache or internal cache) or a (batch,) vector
    (external cache: ``nonpad_kv_seqlen - q_len``); the vector form gains a
    (batch, 1, q, kv) shape so it broadcasts against (batch, heads, q, kv).
    Offsets are not clamped: a negative one fully masks rows, which the spec
    then defines as zero output.
    """
    i = np.arange(q_len).reshape(q_len, 1)
    j = np.arange(kv_len).reshape(1, kv_len)
    off = np.asarray(offset).reshape(-1, 1, 1, 1) if np.ndim(offset) else int(offset)
    allowed = allowed_fn(i + off, j)
    return np.where(allowed, dtype.type(0), dtype.type(-np.inf))


def _softmax_masked(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis that maps an all ``-inf`` row to zeros, not NaN."""
    x_max = np.max(x, axis=-1, keepdims=True)
    safe_max = np.where(np.isneginf(x_max), x.dtype.type(0), x_max)
    e = np.exp(x - safe_max)
    s = np.sum(e, axis=-1, keepdims=True)
    return e / np.where(s == 0, x.dtype.type(1), s)


def _attention(
    q, k, v, attn_mask, past_key, past_value, nonpad_kv_seqlen, *, is_causal, kv_num_heads,
    q_num_heads, qk_matmul_output_mode, scale, softcap, softmax_precision,
    left_window_size=-1, right_window_size=-1,
):
    if (past_key is None) != (past_value is None):
        raise ValueError("Attention: past_key and past_value must be given together")
    if not q.ndim == k.ndim == v.ndim or q.ndim not in (3, 4):
        raise ValueError(
            f"Attention: Q, K, V must all be 3-D or all 4-D, got {q.shape}, {k.shape}, {v.shape}"
        )
    rank = q.ndim
    if rank == 3:
        q = _split_heads(q, q_num_heads, "Q")
        k = _split_heads(k, kv_num_heads, "K")
        v = _split_heads(v, kv_num_heads, "V")
    dt = q.dtype
    batch, heads, q_len, head_size = q.shape
    if scale is None:
        scale = 1.0 / np.sqrt(head_size)
    # Scaling Q and K by sqrt(scale) each is how the function body does it;
    # float16 results depend on the split.
    root_scale = dt.type(np.sqrt(scale))

    if past_key is not None:
        check_alloc(past_key.shape[:2] + (past_key.shape[2] + k.shape[2],) + k.shape[3:], dt, "Attention present_key")
        k = np.concatenate((past_key, k), axis=2)
        v = np.concatenate((past_value, v), axis=2)
    present_key, present_value = k, v
    kv_len = k.shape[2]
    check_alloc((batch, heads, q_len, kv_len), dt, "Attention scores")

    bias = np.zeros((q_len, kv_len), dtype=dt)
    if attn_mask is not None:
        pad = kv_len - attn_mask.shape[-1]
        if pad > 0:
            # A mask shorter than the total sequence leaves the extra keys masked out.
            fill = False if attn_mask.dtype == np.bool_ else -np.inf
            attn_mask = np.pad(
                attn_mask, [(0, 0)] * (attn_mask.ndim - 1) + [(0, pad)], constant_values=fill
            )
        if attn_mask.dtype == np.bool_:
            attn_mask = np.where(attn_mask, dt.type(0), dt.type(-np.inf))
        bias = bias + attn_mask.astype(dt, copy=False)

    if past_key is None and nonpad_kv_seqlen is not None:
        offset = np.asarray(nonpad_kv_seqlen).reshape(-1).astype(np.int64) - q_len
    else:
        offset = past_key.shape[2] if past_key is not None else 0
    if is_causal:
        bias = bias + _frontier_bias(q_len, kv_len, offset, lambda p, j: j <= p, dt)
    if left_window_size >= 0 or right_window_size >= 0:
        def in_window(p, j):
            ok = np.ones(np.broadcast_shapes(np.shape(p), np.shape(j)), dtype=bool)
            if left_window_size >= 0:
                ok &= p - j <= left_window_size
            if right_window_size >= 0:
                ok &= j - p <= right_window_size
            return ok

        bias = bias + _frontier_bias(q_len, kv_len, offset, in_window, dt)
    if nonpad_kv_seqlen is not None:
        keep = np.arange(kv_len) < np.asarray(nonpad_kv_seqlen).reshape(-1, 1)
        bias = bias + np.where(keep, dt.type(0), dt.type(-np.inf)).reshape(batch, 1, 1, kv_len)

    kv_heads = k.shape[1]
    if heads != kv_heads:
        if heads % kv_heads:
            raise ValueError(
                f"Attention: {heads} query heads are not a multiple of {kv_heads} key/value heads"
            )
        # Grouped-query attention: query head h reads key/value head h // group.
        k = np.repeat(k, heads // kv_heads, axis=1)
        v = np.repeat(v, heads // kv_heads, axis=1)

    scores = np.matmul(q * root_scale, np.swapaxes(k, -1, -2) * root_scale)
    if softcap and softcap > 0:
        # Before the mask, so masked -inf logits stay -inf instead of -softcap.
        scores = np.tanh(scores / dt.type(softcap)) * dt.type(softcap)
    with_bias = scores + bias
    qk_out = with_bias if qk_matmul_output_mode == _MODE_WITH_BIAS else scores

    logits = with_bias
    if softmax_precision is not None:
        logits = logits.astype(to_numpy(softmax_precision), copy=False)
    with np.errstate(invalid="ignore"):
        probs = _softmax_masked(logits)
    # Rows with no attendable key are zero by definition; decided on the bias,
    # not on logits that may be NaN (inf + -inf).
    fully_masked = np.isneginf(np.max(bias, axis=-1, keepdims=True))
    probs = np.where(fully_masked, probs.dtype.type(0), probs)
    if qk_matmul_output_mode == _MODE_AFTER_SOFTMAX:
        qk_out = probs
    y = np.matmul(probs.astype(dt, copy=False), v)
    if rank == 3:
        y = y.transpose(0, 2, 1, 3).reshape(batch, q_len, -1)
    qk_out = np.broadcast_to(qk_out, (batch, heads, q_len, kv_len)).astype(dt)
    return y, present_key, present_value, qk_out


@register("Attention", since=23)
def attention_23(
    q, k, v, attn_mask=None, past_key=None, past_value=None, *, is_causal=0,
    kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None, softcap=0.0,
    softmax_precision=None,
):
    return _attention(
        q, k, v, attn_mask, past_key, past_value, None, is_causal=is_causal,
        kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
        qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
        softmax_precision=softmax_precision,
    )


@register("Attention", since=24)
def attention_24(
    q, k, v, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *,
    is_causal=0, kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None,
    softcap=0.0, softmax_precision=None,
):
    if nonpad_kv_seqlen is not None and past_key is not None:
        raise ValueError("Attention: nonpad_kv_seqlen cannot be combined with past_key/past_value")
    return _attention(
        q, k, v, attn_mask, past_key, past_value, nonpad_kv_seqlen, is_causal=is_causal,
        kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
        qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
        softmax_precision=softmax_precision,
    )


@register("Attention", since=25)
def attention_25(
    q, k, v, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *,
    is_causal=0, kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None,
    softcap=0.0, softmax_precision=None, left_window_size=-1, right_window_size=-1,
):
    if nonpad_kv_seqlen is not None and past_key is not None:
        raise ValueError("Attention: nonpad_kv_seqlen cannot be combined with past_key/past_value")
    if q.ndim == 4 and (q_num_heads is not None or kv_num_heads is not None):
        raise ValueError("Attention-25: q_num_heads/kv_num_heads must not be set for 4-D inputs")
    if left_window_size < -1 or right_window_size < -1:
        raise ValueError(
            f"Attention: window sizes must be -1 or >= 0, got "
            f"left={left_window_size}, right={right_window_size}"
        )
    return _attention(
        q, k, v, attn_mask, past_key, past_value, nonpad_kv_seqlen, is_causal=is_causal,
        kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
        qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
        softmax_precision=softmax_precision, left_window_size=left_window_size,
        right_window_size=right_window_size,
    )


@register("RotaryEmbedding", since=23)
def rotary_embedding(x, cos_cache, sin_cache, position_ids=None, *, interleaved=0, num_heads=None, rotary_embedding_dim=0):
    if x.ndim == 4:
        # (batch, heads, seq, size) -> (batch, seq, heads, size), like the 3-D layout.
        xs = x.transpose(0, 2, 1, 3)
    elif x.ndim == 3:
        if not num_heads or x.shape[2] % num_heads:
            raise ValueError(
                f"RotaryEmbedding: 3-D input {x.shape} needs num_heads dividing its last dimension"
            )
        xs = x.reshape(x.shape[0], x.shape[1], num_heads, -1)
    else:
        raise ValueError(f"RotaryEmbedding: input must be 3-D or 4-D, got {x.shape}")
    head_size = xs.shape[3]
    dim = rotary_embedding_dim or head_size
    half = dim // 2
    if position_ids is not None:
        position_ids = np.asarray(position_ids, dtype=np.int64)
        cos_cache, sin_cache = cos_cache[position_ids], sin_cache[position_ids]
    if cos_cache.shape[-1] != half or sin_cache.shape[-1] != half:
        raise ValueError(
            f"RotaryEmbedding: cos/sin caches end in {cos_cache.shape[-1]}/{sin_cache.shape[-1]}, "
            f"expected rotary_embedding_dim/2 = {half}"
        )
    cos = cos_cache[:, :, None, :].astype(x.dtype, copy=False)
    sin = sin_cache[:, :, None, :].astype(x.dtype, copy=False)
    rot = xs[..., :dim]
    x1, x2 = (rot[..., 0::2], rot[..., 1::2]) if interleaved else (rot[..., :half], rot[..., half:])
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    out = np.empty_like(xs)
    if interleaved:
        out[..., 0:dim:2], out[..., 1:dim:2] = real, imag
    else:
        out[..., :half], out[..., half:dim] = real, imag
    out[..., dim:] = xs[..., dim:]
    return out.transpose(0, 2, 1, 3) if x.ndim == 4 else out.reshape(x.shape)


@register("RMSNormalization", since=23)
def rms_normalization(x, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    axis = normalize_axis(axis, x.ndim)
    # stash_type=1 asks for float32 statistics; float64 inputs keep their precision.
    dt = np.dtype(np.float64) if x.dtype == np.float64 else np.dtype(np.float32)
    xa = x.astype(dt, copy=False)
    ms = np.mean(np.square(xa), axis=tuple(range(axis, x.ndim)), keepdims=True)
    y = xa / np.sqrt(ms + dt.type(epsilon))
    return (y.astype(x.dtype, copy=False) * scale).astype(x.dtype, copy=False)
