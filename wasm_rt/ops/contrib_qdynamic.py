"""com.microsoft operators onnxruntime's quantize_dynamic emits for fused
transformer graphs and LSTMs: QAttention, QEmbedLayerNormalization,
DynamicQuantizeLSTM.

QAttention is Attention with a uint8 input and 8-bit weights: the QKV projection
is the exact int32 product of ``_qgemm`` scaled like MLAS's scale-bias output
processor (``float32(acc) * (input_scale * weight_scale) + bias``), then the
float32 attention of ``_attention_cpu``. QEmbedLayerNormalization dequantizes
the rows it gathers and runs the float EmbedLayerNormalization.
DynamicQuantizeLSTM is in ``rnn`` (it shares the LSTM cell).
"""

from __future__ import annotations

import numpy as np

from .. import errors
from ..errors import InvalidArgument
from ..limits import check_alloc
from ..registry import register
from ._attention_cpu import F32, attend, prepare_mask, to_bnsh
from ._qgemm import qgemm_i32
from .contrib_attention import _concat_past
from .contrib_norm import embed_layer_norm

MS = "com.microsoft"
_Q8 = (np.dtype(np.uint8), np.dtype(np.int8))


def _one(x, what, op):
    """A scalar or one-element 1-D tensor, as a 0-d array."""
    x = np.asarray(x)
    if x.size != 1 or x.ndim > 1:
        raise InvalidArgument(
            f"{op}: {what} must be a scalar or a 1-D tensor of size 1, got shape "
            f"{list(x.shape)}"
        )
    return x.reshape(())


def _scalar_or_column(x, n, what, op):
    """A scalar, or one value per weight column ([n])."""
    x = np.asarray(x)
    if x.size == 1 and x.ndim <= 1:
        return x.reshape(())
    if x.shape != (n,):
        raise InvalidArgument(
            f"{op}: {what} must be a scalar or have shape [{n}] (per column), got "
            f"{list(x.shape)}"
        )
    return x


@register("QAttention", since=1, domain=MS)
def q_attention(
    x,
    weight,
    bias,
    input_scale,
    weight_scale,
    mask_index=None,
    input_zero_point=None,
    weight_zero_point=None,
    past=None,
    *,
    num_heads,
    unidirectional=0,
    do_rotary=0,
    past_present_share_buffer=0,
    mask_filter_value=-10000.0,
    scale=0.0,
):
    op = "QAttention"
    if do_rotary:
        raise errors.NotImplemented(
            f"{op}: do_rotary is not supported (onnxruntime's CPU kernel accepts it but "
            "applies no rotary embedding)"
        )
    if past_present_share_buffer:
        raise errors.NotImplemented(
            f"{op}: past_present_share_buffer is not supported (onnxruntime's CPU "
            "kernel has no shared buffer)"
        )
    if x.dtype != np.uint8:
        raise InvalidArgument(f"{op}: input must be uint8, got {x.dtype}")
    if weight.dtype not in _Q8:
        raise InvalidArgument(f"{op}: weight must be uint8 or int8, got {weight.dtype}")
    if x.ndim != 3 or weight.ndim != 2 or weight.shape[0] != x.shape[2]:
        raise InvalidArgument(
            f"{op}: input must be [batch, seq, in] and weight [in, 3 * hidden], got "
            f"{list(x.shape)} and {list(weight.shape)}"
        )
    n3 = weight.shape[1]
    hidden = n3 // 3
    if n3 % 3 or hidden == 0 or hidden % num_heads:
        raise InvalidArgument(
            f"{op}: weight's {n3} columns must be 3 * hidden with hidden a multiple of "
            f"num_heads={num_heads}"
        )
    if bias.dtype != F32 or bias.shape != (n3,):
        raise InvalidArgument(
            f"{op}: bias must be float32 [{n3}], got {bias.dtype} {list(bias.shape)}"
        )
    a_scale = _one(input_scale, "input_scale", op).astype(F32)
    w_scale = _scalar_or_column(weight_scale, n3, "weight_scale", op).astype(F32)
    a_zp = np.uint8(0)
    if input_zero_point is not None:
        a_zp = _one(input_zero_point, "input_zero_point", op)
        if a_zp.dtype != np.uint8:
            raise InvalidArgument(f"{op}: input_zero_point must be uint8, got {a_zp.dtype}")
    w_zp = weight.dtype.type(0)
    if weight_zero_point is not None:
        w_zp = _scalar_or_column(weight_zero_point, n3, "weight_zero_point", op)
        if w_zp.dtype != weight.dtype:
            raise InvalidArgument(
                f"{op}: weight_zero_point is {w_zp.dtype}, weight is {weight.dtype}"
            )
    batch, q_len, k_in = x.shape
    check_alloc((batch * q_len, n3), F32, f"{op} QKV projection")
    acc = qgemm_i32(x.reshape(-1, k_in), a_zp, weight, w_zp)
    # MLAS's output processor: float32(acc) times the folded float32 scale, + bias.
    qkv = acc.astype(F32) * (a_scale * w_scale)
    qkv += bias
    qkv = qkv.reshape(batch, q_len, n3)
    q, k, v = (to_bnsh(qkv[..., i * hidden : (i + 1) * hidden], num_heads, w, op)
               for i, w in enumerate("QKV"))  # fmt: skip
    if past is not None and (past.ndim != 5 or past.shape[0] != 2):
        raise InvalidArgument(
            f"{op}: past must be [2, batch, heads, past, head], got {list(past.shape)}"
        )
    if past is not None and past.dtype != F32:
        raise InvalidArgument(f"{op}: past must be float32, got {past.dtype}")
    k = _concat_past(None if past is None else past[0], k, "past", op)
    v = _concat_past(None if past is None else past[1], v, "past", op)
    total = k.shape[2]
    if (
        mask_index is not None
        and mask_index.shape in ((batch, 1), (1, 1))
        and mask_index.shape != (batch, total)
    ):
        # onnxruntime broadcasts the one value to every key, which masks nothing.
        mask_index = None
    mask = prepare_mask(
        mask_index, batch, q_len, total, total - q_len, unidirectional,
        mask_filter_value, op,
    )  # fmt: skip
    out = attend(q, k, v, mask, None, scale)
    return out, np.stack((k, v))


@register("QEmbedLayerNormalization", since=1, domain=MS, context=True)
def q_embed_layer_norm(
    ctx,
    input_ids,
    segment_ids,
    word_embedding,
    position_embedding,
    segment_embedding,
    gamma,
    beta,
    mask,
    word_embedding_scale,
    position_embedding_scale,
    segment_embedding_scale,
    gamma_scale,
    beta_scale,
    word_embedding_zero_point,
    position_embedding_zero_point,
    segment_embedding_zero_point,
    gamma_zero_point,
    beta_zero_point,
    *,
    epsilon=1e-12,
):
    """EmbedLayerNormalization on 8-bit tables, each dequantized as
    ``float32(q - zero_point) * scale`` (onnxruntime's per-tensor Dequantize).

    Only the gathered word rows are dequantized, so a large vocabulary is never
    expanded to float32. Positions are 0..seq-1 (the op has no position_ids).
    """
    op = "QEmbedLayerNormalization"
    if input_ids.ndim != 2:
        raise InvalidArgument(
            f"{op}: input_ids must be 2-D [batch, sequence], got {list(input_ids.shape)}"
        )
    qdt = word_embedding.dtype
    if qdt not in _Q8:
        raise InvalidArgument(f"{op}: word_embedding must be uint8 or int8, got {qdt}")
    has_segment = segment_ids is not None
    tables = {
        "word_embedding": (word_embedding, word_embedding_scale, word_embedding_zero_point),
        "position_embedding": (
            position_embedding, position_embedding_scale, position_embedding_zero_point,
        ),
        "gamma": (gamma, gamma_scale, gamma_zero_point),
        "beta": (beta, beta_scale, beta_zero_point),
    }  # fmt: skip
    if has_segment:
        tables["segment_embedding"] = (
            segment_embedding, segment_embedding_scale, segment_embedding_zero_point,
        )  # fmt: skip
    params = {}
    for name, (t, s, z) in tables.items():
        if t is None or s is None or z is None:
            raise InvalidArgument(f"{op}: {name}, its scale and its zero point are required")
        if t.dtype != qdt or np.asarray(z).dtype != qdt:
            raise InvalidArgument(
                f"{op}: {name} and its zero point must be {qdt} like word_embedding, got "
                f"{t.dtype} and {np.asarray(z).dtype}"
            )
        s = _one(s, f"{name} scale", op)
        if s.dtype != F32:
            raise InvalidArgument(f"{op}: {name} scale must be float32, got {s.dtype}")
        params[name] = (s, np.int32(_one(z, f"{name} zero point", op)))

    def deq(name, q):
        s, z = params[name]
        return (q.astype(np.int32) - z).astype(F32) * s

    if word_embedding.ndim != 2:
        raise InvalidArgument(f"{op}: word_embedding must be 2-D, got {word_embedding.shape}")
    ids = np.asarray(input_ids)
    if ids.dtype != np.int32:
        raise InvalidArgument(f"{op}: input_ids must be int32, got {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= word_embedding.shape[0]):
        raise InvalidArgument(
            f"{op}: input_ids must be in [0, {word_embedding.shape[0]}), got values in "
            f"[{ids.min()}, {ids.max()}]"
        )
    if position_embedding.ndim != 2 or ids.shape[1] > position_embedding.shape[0]:
        raise InvalidArgument(
            f"{op}: position_embedding must be 2-D with at least sequence length "
            f"{ids.shape[1]} rows, got {list(position_embedding.shape)}"
        )
    check_alloc(ids.shape + word_embedding.shape[1:], F32, f"{op} word rows")
    # The gathered rows become a table of B*S rows indexed 0..B*S-1.
    rows = deq("word_embedding", word_embedding[ids.reshape(-1)])
    local_ids = np.arange(rows.shape[0], dtype=np.int32).reshape(ids.shape)
    outs = embed_layer_norm(
        ctx,
        local_ids,
        segment_ids,
        rows,
        deq("position_embedding", position_embedding),
        deq("segment_embedding", segment_embedding) if has_segment else None,
        deq("gamma", gamma),
        deq("beta", beta),
        mask,
        epsilon=epsilon,
    )
    return outs[:2] if isinstance(outs, tuple) else outs
