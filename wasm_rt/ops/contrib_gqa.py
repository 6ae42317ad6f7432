"""onnxruntime's com.microsoft GroupQueryAttention, matching its CPU kernel
(``gqa_attention_base.h``).

Per batch entry b the kernel sees ``total_b = seqlens_k[b] + 1`` tokens. On the
first prompt (query length == total_sequence_length) the new tokens sit at
0 .. S-1; otherwise they follow ``past_b = total_b - S`` cached ones. The
present cache holds the first ``past_b`` rows of the past cache, then the new
keys/values, then zeros; with a max-length past buffer (the shared-buffer form)
present has that same length. Scores, softcap, bias and softmax run in float32
(float16 inputs are upcast, as onnxruntime does) over the causal, windowed keys.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument, NotImplemented
from ..limits import check_alloc
from ..registry import register
from ._attention_cpu import F32
from .contrib_rotary import rotary_positions, rotate_bnsh

OP = "GroupQueryAttention"


def _refuse_unsupported(k_scale, v_scale, q_norm_weight, k_norm_weight, attrs):
    if k_scale is not None or v_scale is not None or attrs["kv_cache_bit_width"]:
        raise NotImplemented(
            f"{OP}: quantized KV caches (k_scale/v_scale) are not supported"
        )
    if attrs["k_quant_type"] != "NONE" or attrs["v_quant_type"] != "NONE":
        raise NotImplemented(
            f"{OP}: k_quant_type/v_quant_type other than NONE are not supported"
        )
    if q_norm_weight is not None or k_norm_weight is not None:
        raise NotImplemented(f"{OP}: q_norm_weight/k_norm_weight are not supported")
    if attrs["sliding_window_cache"]:
        raise NotImplemented(
            f"{OP}: sliding_window_cache=1 (window-sized caches) is not supported"
        )


def _split(query, key, value, heads, kv_heads):
    """Q (B, N, S, H) and new K, V (B, Nk, S, H) from separate or packed inputs."""
    if query.ndim != 3:
        raise InvalidArgument(
            f"{OP}: query must be [batch, seq, hidden], got {list(query.shape)}"
        )
    b, s, d = query.shape
    if key is None and value is None:
        head, rem = divmod(d, heads + 2 * kv_heads)
        parts = np.split(query, [heads * head, (heads + kv_heads) * head], axis=2)
    else:
        head, rem = divmod(d, heads)
        parts = [query, key, value]
        want = (b, s, kv_heads * head)
        if key is None or value is None or key.shape != want or value.shape != want:
            raise InvalidArgument(
                f"{OP}: key and value must both be {list(want)}, got "
                f"{None if key is None else list(key.shape)} and "
                f"{None if value is None else list(value.shape)}"
            )
    if rem or head == 0:
        raise InvalidArgument(
            f"{OP}: query hidden size {d} does not split into {heads} query heads"
            + ("" if key is not None else f" and 2 x {kv_heads} packed key/value heads")
        )
    q, k, v = (
        p.reshape(b, s, n, head).transpose(0, 2, 1, 3)
        for p, n in zip(parts, (heads, kv_heads, kv_heads))
    )
    return q, k, v


def _present(past, new, past_lens, length, what):
    """First past_lens[b] rows of ``past``, then ``new``, then zeros; (B, Nk, length, H)."""
    b, nk, s, h = new.shape
    if past is not None and (
        past.ndim != 4 or past.shape[:2] != (b, nk) or past.shape[3] != h
    ):
        raise InvalidArgument(
            f"{OP}: {what} must be [{b}, {nk}, past, {h}], got {list(past.shape)}"
        )
    check_alloc((b, nk, length, h), new.dtype, f"{OP} present")
    out = np.zeros((b, nk, length, h), new.dtype)
    for i, p in enumerate(past_lens):  # one slice copy per batch entry
        if p:
            out[i, :, :p] = past[i, :, :p]
        out[i, :, p : p + s] = new[i]
    return out


def _softmax_with_sink(x, valid, sink):
    """Softmax over ``valid`` entries; ``sink`` (or None) is one extra logit per row
    that takes weight but has no value (onnxruntime's smooth softmax / head sink)."""
    neg = np.where(valid, x, -np.inf)
    m = np.max(neg, axis=-1, keepdims=True)
    if sink is not None:
        m = np.maximum(m, sink)
    m = np.where(np.isneginf(m), F32(0), m)
    e = np.where(valid, np.exp(neg - m), F32(0))
    denom = np.sum(e, axis=-1, keepdims=True)
    if sink is not None:
        denom = denom + np.exp(sink - m)
    return e / np.where(denom == 0, F32(1), denom)


@register("GroupQueryAttention", since=1, domain="com.microsoft", context=True)
def group_query_attention(
    ctx,
    query,
    key=None,
    value=None,
    past_key=None,
    past_value=None,
    seqlens_k=None,
    total_sequence_length=None,
    cos_cache=None,
    sin_cache=None,
    position_ids=None,
    attention_bias=None,
    head_sink=None,
    k_scale=None,
    v_scale=None,
    q_norm_weight=None,
    k_norm_weight=None,
    *,
    num_heads,
    kv_num_heads,
    causal=1,
    scale=0.0,
    softcap=0.0,
    local_window_size=-1,
    sliding_window_cache=0,
    do_rotary=0,
    rotary_interleaved=0,
    smooth_softmax=-1,
    qk_output=0,
    k_quant_type="NONE",
    v_quant_type="NONE",
    kv_cache_bit_width=0,
    qk_norm_epsilon=1e-6,
):
    del qk_norm_epsilon  # read only with q_norm_weight, refused
    _refuse_unsupported(
        k_scale,
        v_scale,
        q_norm_weight,
        k_norm_weight,
        dict(
            kv_cache_bit_width=kv_cache_bit_width,
            k_quant_type=k_quant_type,
            v_quant_type=v_quant_type,
            sliding_window_cache=sliding_window_cache,
        ),
    )
    if query.dtype not in (np.float32, np.float16):
        raise NotImplemented(f"{OP}: element type {query.dtype} is not supported")
    if num_heads <= 0 or kv_num_heads <= 0 or num_heads % kv_num_heads:
        raise InvalidArgument(
            f"{OP}: num_heads={num_heads} must be a positive multiple of "
            f"kv_num_heads={kv_num_heads}"
        )
    if not causal and local_window_size != -1:
        raise InvalidArgument(f"{OP}: local_window_size must be -1 when causal=0")
    if qk_output not in (0, 1, 2):
        raise InvalidArgument(f"{OP}: qk_output must be 0, 1 or 2, got {qk_output}")
    if (past_key is None) != (past_value is None):
        raise InvalidArgument(f"{OP}: past_key and past_value must be given together")
    if seqlens_k is None or total_sequence_length is None:
        raise InvalidArgument(f"{OP}: seqlens_k and total_sequence_length are required")
    q, k, v = _split(query, key, value, num_heads, kv_num_heads)
    batch, _, seq, head = q.shape
    seqlens = np.asarray(seqlens_k).reshape(-1).astype(np.int64)
    total = int(np.asarray(total_sequence_length).reshape(-1)[0])
    if seqlens.shape != (batch,):
        raise InvalidArgument(
            f"{OP}: seqlens_k must have {batch} entries, got {seqlens.size}"
        )
    buf = 0 if past_key is None else past_key.shape[2]
    length = max(total, buf)
    first_prompt = seq == total
    totals = seqlens + 1
    pasts = np.zeros(batch, np.int64) if first_prompt else totals - seq
    if totals.min() < 1 or totals.max() > total or pasts.min() < 0 or pasts.max() > buf:
        raise InvalidArgument(
            f"{OP}: seqlens_k {seqlens.tolist()} do not fit total_sequence_length={total}, "
            f"query length {seq} and a past cache of {buf}"
        )

    if do_rotary:
        if cos_cache is None or sin_cache is None:
            raise InvalidArgument(f"{OP}: do_rotary=1 needs cos_cache and sin_cache")
        if position_ids is not None:
            positions = rotary_positions(position_ids, batch, seq, cos_cache.shape[0])
        else:
            positions = pasts[:, None] + np.arange(seq)
            positions = rotary_positions(positions, batch, seq, cos_cache.shape[0])
        rot = 2 * cos_cache.shape[1]
        if rot > head or cos_cache.shape != sin_cache.shape:
            raise InvalidArgument(
                f"{OP}: cos/sin caches {list(cos_cache.shape)}, {list(sin_cache.shape)} "
                f"must be [max_pos, rotary_dim/2] with rotary_dim <= head size {head}"
            )
        kw = dict(interleaved=rotary_interleaved, rotary_dim=rot)
        q = rotate_bnsh(q, cos_cache, sin_cache, positions, **kw)
        k = rotate_bnsh(k, cos_cache, sin_cache, positions, **kw)

    present_k = _present(past_key, k, pasts, length, "past_key")
    present_v = _present(past_value, v, pasts, length, "past_value")

    # Valid keys per (batch, query row): computed (j < total_b), causal
    # (j <= past_b + s) and inside the local window, which in onnxruntime 1.31
    # counts the query's own token: the last local_window_size keys.
    j = np.arange(length)
    row = pasts[:, None] + np.arange(seq)  # (B, S): absolute position of each query
    valid = j < totals[:, None, None]
    if causal:
        valid = valid & (j <= row[..., None])
        if local_window_size > 0:
            valid = valid & (j > row[..., None] - local_window_size)
    valid = valid[:, None]  # (B, 1, S, length)

    group = num_heads // kv_num_heads
    check_alloc((batch, num_heads, seq, length), F32, f"{OP} scores")
    kf = np.repeat(present_k.astype(F32, copy=False), group, axis=1)
    vf = np.repeat(present_v.astype(F32, copy=False), group, axis=1)
    alpha = F32(scale if scale else 1.0 / np.sqrt(head))
    scores = np.matmul(q.astype(F32, copy=False), np.swapaxes(kf, -1, -2)) * alpha
    if softcap > 0:
        scores = np.tanh(scores / F32(softcap)) * F32(softcap)
    if attention_bias is not None:
        ab = attention_bias
        if (
            ab.ndim != 4
            or ab.shape[0] not in (1, batch)
            or ab.shape[1] not in (1, num_heads)
            or ab.shape[2] != seq
            or ab.shape[3] != total
        ):
            raise InvalidArgument(
                f"{OP}: attention_bias must be [{batch} or 1, {num_heads} or 1, {seq}, "
                f"{total}], got {list(ab.shape)}"
            )
        pad = [(0, 0)] * 3 + [(0, length - total)]
        scores = scores + np.pad(ab.astype(F32, copy=False), pad)
    sink = None
    if head_sink is not None:
        if head_sink.shape != (num_heads,):
            raise InvalidArgument(
                f"{OP}: head_sink must be [{num_heads}], got {list(head_sink.shape)}"
            )
        sink = head_sink.astype(F32).reshape(1, num_heads, 1, 1)
    elif smooth_softmax == 1:
        sink = np.zeros((1, 1, 1, 1), F32)
    probs = _softmax_with_sink(scores, valid, sink)
    out = np.matmul(probs, vf).transpose(0, 2, 1, 3).reshape(batch, seq, -1)
    results = (out.astype(query.dtype), present_k, present_v)
    if ctx.num_outputs > 3:
        if qk_output == 0:
            raise InvalidArgument(f"{OP}: output_qk is requested but qk_output is 0")
        # Scores outside the causal window read as 0, as onnxruntime leaves them.
        qk = np.where(valid, scores, F32(0)) if qk_output == 1 else probs
        results += (qk[..., :total].astype(query.dtype),)
    return results
