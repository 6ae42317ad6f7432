"""onnxruntime's com.microsoft MultiHeadAttention and Attention (the fused one with
weights), matching its CPU kernels; GroupQueryAttention is in ``contrib_gqa``.

Both compute in float32 (``_attention_cpu``); onnxruntime's CPU provider has them
for float32 only, and float16 inputs are upcast here and the output cast back.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument, NotImplemented
from ..limits import check_alloc
from ..registry import register
from ._attention_cpu import F32, attend, check_attention_bias, prepare_mask, to_bnsh

_FLOATS = (np.float32, np.float16)


def _check_float(x, op):
    if x.dtype not in _FLOATS:
        raise NotImplemented(
            f"{op}: element type {x.dtype} is not supported (float32, float16)"
        )


def _concat_past(past, new, what, op):
    """past (B, N, P, H) + new (B, N, L, H) along the sequence."""
    if past is None:
        return new
    if (
        past.ndim != 4
        or past.shape[:2] != new.shape[:2]
        or past.shape[3] != new.shape[3]
    ):
        raise InvalidArgument(
            f"{op}: {what} must have shape [{new.shape[0]}, {new.shape[1]}, past, "
            f"{new.shape[3]}], got {list(past.shape)}"
        )
    check_alloc(
        new.shape[:2] + (past.shape[2] + new.shape[2], new.shape[3]),
        new.dtype,
        f"{op} {what}",
    )
    return np.concatenate((past.astype(new.dtype, copy=False), new), axis=2)


def _mha_qkv(query, key, value, bias, heads, op):
    """Q, K, V as (batch, heads, seq, size) float32 arrays, bias added, from the
    input layouts: separate 3-D, packed QKV (B, S, N, 3, H), packed KV
    (B, L, N, 2, H), or key/value already (B, N, L, H)."""
    f = lambda t: t.astype(F32, copy=False)  # noqa: E731
    if query.ndim == 5:
        if key is not None or value is not None or query.shape[2:4] != (heads, 3):
            raise InvalidArgument(
                f"{op}: packed QKV must be [batch, seq, {heads}, 3, head] with key and "
                f"value omitted, got query {list(query.shape)}"
            )
        q, k, v = (f(query[:, :, :, i]) for i in range(3))
        layout = "bsnh"
    elif query.ndim != 3:
        raise InvalidArgument(
            f"{op}: query must be 3-D or 5-D, got {list(query.shape)}"
        )
    elif key is None:
        raise InvalidArgument(f"{op}: key is required unless query is packed QKV")
    elif key.ndim == 5:
        if value is not None or key.shape[2:4] != (heads, 2):
            raise InvalidArgument(
                f"{op}: packed KV must be [batch, kv_seq, {heads}, 2, head] with value "
                f"omitted, got key {list(key.shape)}"
            )
        q = f(query).reshape(query.shape[0], query.shape[1], heads, -1)
        k, v = f(key[:, :, :, 0]), f(key[:, :, :, 1])
        layout = "bsnh"
    elif value is None or value.ndim != key.ndim or key.ndim not in (3, 4):
        raise InvalidArgument(
            f"{op}: key and value must both be 3-D [batch, kv_seq, hidden] or both 4-D "
            f"[batch, heads, kv_seq, head], got {key.shape} and "
            f"{None if value is None else value.shape}"
        )
    else:
        q = f(query).reshape(query.shape[0], query.shape[1], heads, -1)
        k, v = f(key), f(value)
        layout = "bnsh" if key.ndim == 4 else "bsd"
    q = q.transpose(0, 2, 1, 3)
    if bias is not None:
        qd, kd = (
            heads * q.shape[3],
            heads * k.shape[-1] if layout != "bsd" else k.shape[2],
        )
        vd = heads * v.shape[-1] if layout != "bsd" else v.shape[2]
        if bias.shape != (qd + kd + vd,):
            raise InvalidArgument(
                f"{op}: bias must have shape [{qd + kd + vd}], got {list(bias.shape)}"
            )
        b = f(bias)
        q = q + b[:qd].reshape(heads, 1, -1)
        if layout == "bnsh":
            # onnxruntime treats key/value given as BNSH as already projected and biased.
            pass
        elif layout == "bsd":
            k, v = k + b[qd : qd + kd], v + b[qd + kd :]
        else:
            k = k + b[qd : qd + kd].reshape(heads, -1)
            v = v + b[qd + kd :].reshape(heads, -1)
    if layout == "bsd":
        k, v = to_bnsh(k, heads, "key", op), to_bnsh(v, heads, "value", op)
    elif layout == "bsnh":
        k, v = k.transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3)
    if (
        k.shape[:3] != v.shape[:3]
        or k.shape[0] != q.shape[0]
        or k.shape[3] != q.shape[3]
    ):
        raise InvalidArgument(
            f"{op}: query/key/value shapes disagree: {query.shape}, "
            f"{None if key is None else key.shape}, {None if value is None else value.shape}"
        )
    return q, k, v


@register("MultiHeadAttention", since=1, domain="com.microsoft", context=True)
def multi_head_attention(
    ctx,
    query,
    key=None,
    value=None,
    bias=None,
    key_padding_mask=None,
    attention_bias=None,
    past_key=None,
    past_value=None,
    past_sequence_length=None,
    cache_indirection=None,
    *,
    num_heads,
    mask_filter_value=-10000.0,
    scale=0.0,
    unidirectional=0,
):
    op = "MultiHeadAttention"
    _check_float(query, op)
    if past_sequence_length is not None or cache_indirection is not None:
        raise NotImplemented(
            f"{op}: past_sequence_length / cache_indirection (the shared-buffer beam-search "
            "decoding form) are not supported"
        )
    if ctx.num_outputs > 3:
        raise NotImplemented(f"{op}: the qk output is not supported")
    if (past_key is None) != (past_value is None):
        raise InvalidArgument(f"{op}: past_key and past_value must be given together")
    if key_padding_mask is not None and key_padding_mask.ndim == 1:
        if key_padding_mask.shape[0] not in (query.shape[0], 3 * query.shape[0] + 2):
            raise InvalidArgument(
                f"{op}: a 1-D key_padding_mask must have batch ({query.shape[0]}) or "
                f"3 * batch + 2 entries, got {key_padding_mask.shape[0]}"
            )
    q, k, v = _mha_qkv(query, key, value, bias, num_heads, op)
    if past_key is not None and v.shape[3] != q.shape[3]:
        raise InvalidArgument(
            f"{op}: with past_key/past_value the value head size must equal the query "
            f"head size {q.shape[3]}, got {v.shape[3]}"
        )
    if past_key is not None and key is not None and key.ndim == 4:
        raise InvalidArgument(
            f"{op}: past_key/past_value cannot be combined with BNSH key/value"
        )
    dt = query.dtype
    k = _concat_past(past_key, k.astype(dt), "past_key", op)
    v = _concat_past(past_value, v.astype(dt), "past_value", op)
    batch, _, q_len, _ = q.shape
    total = k.shape[2]
    past = total - (
        key.shape[-2]
        if key is not None and key.ndim == 4
        else (key.shape[1] if key is not None else query.shape[1])
    )
    mask = prepare_mask(
        key_padding_mask,
        batch,
        q_len,
        total,
        past,
        unidirectional,
        mask_filter_value,
        op,
        one_column=False,
    )
    ab = check_attention_bias(attention_bias, batch, num_heads, q_len, total, op)
    out = attend(q, k, v, mask, ab, scale).astype(dt, copy=False)
    return out, k, v


@register("Attention", since=1, domain="com.microsoft")
def attention(
    x,
    weights,
    bias=None,
    mask_index=None,
    past=None,
    attention_bias=None,
    past_sequence_length=None,
    *,
    num_heads,
    qkv_hidden_sizes=None,
    unidirectional=0,
    mask_filter_value=-10000.0,
    scale=0.0,
    do_rotary=0,
    rotary_embedding_dim=0,
    past_present_share_buffer=0,
):
    op = "Attention"
    _check_float(x, op)
    if do_rotary:
        raise NotImplemented(
            f"{op}: do_rotary is not supported (onnxruntime's CPU kernel refuses it too; "
            "use MultiHeadAttention + RotaryEmbedding)"
        )
    del rotary_embedding_dim  # read only with do_rotary
    if past_present_share_buffer or past_sequence_length is not None:
        raise NotImplemented(
            f"{op}: past_present_share_buffer / past_sequence_length are not supported"
        )
    if x.ndim != 3 or weights.ndim != 2 or weights.shape[0] != x.shape[2]:
        raise InvalidArgument(
            f"{op}: input must be [batch, seq, in] and weights [in, qkv], got "
            f"{list(x.shape)} and {list(weights.shape)}"
        )
    sizes = list(qkv_hidden_sizes) if qkv_hidden_sizes else [weights.shape[1] // 3] * 3
    if len(sizes) != 3 or sum(sizes) != weights.shape[1] or sizes[0] != sizes[1]:
        raise InvalidArgument(
            f"{op}: qkv_hidden_sizes {sizes} must be three sizes, Q equal to K, summing to "
            f"weights' {weights.shape[1]} columns"
        )
    if any(s % num_heads for s in sizes):
        raise InvalidArgument(
            f"{op}: qkv_hidden_sizes {sizes} must be multiples of num_heads={num_heads}"
        )
    if bias is not None and bias.shape != (weights.shape[1],):
        raise InvalidArgument(
            f"{op}: bias must have shape [{weights.shape[1]}], got {list(bias.shape)}"
        )
    batch, q_len, _ = x.shape
    check_alloc((batch, q_len, weights.shape[1]), F32, f"{op} QKV projection")
    qkv = np.matmul(x.astype(F32, copy=False), weights.astype(F32, copy=False))
    if bias is not None:
        qkv += bias.astype(F32, copy=False)
    qd, kd = sizes[0], sizes[1]
    q = to_bnsh(qkv[..., :qd], num_heads, "Q", op)
    k = to_bnsh(qkv[..., qd : qd + kd], num_heads, "K", op)
    v = to_bnsh(qkv[..., qd + kd :], num_heads, "V", op)
    dt = x.dtype
    if past is not None:
        if attention_bias is not None:
            raise InvalidArgument(f"{op}: past and attention_bias cannot be combined")
        if past.ndim != 5 or past.shape[0] != 2:
            raise InvalidArgument(
                f"{op}: past must be [2, batch, heads, past, head], got {list(past.shape)}"
            )
        if sizes[1] != sizes[2]:
            raise InvalidArgument(
                f"{op}: past needs equal K and V hidden sizes, got {sizes}"
            )
    k = _concat_past(None if past is None else past[0], k.astype(dt), "past", op)
    v = _concat_past(None if past is None else past[1], v.astype(dt), "past", op)
    total = k.shape[2]
    mask = prepare_mask(
        mask_index,
        batch,
        q_len,
        total,
        total - q_len,
        unidirectional,
        mask_filter_value,
        op,
    )
    ab = check_attention_bias(attention_bias, batch, num_heads, q_len, total, op)
    out = attend(q, k, v, mask, ab, scale).astype(dt, copy=False)
    present = np.stack((k, v)) if sizes[1] == sizes[2] else None
    return out, present
