"""onnxruntime's fused normalizations: SkipLayerNormalization, the simplified (RMS)
forms, EmbedLayerNormalization.

The statistics are computed in float32 for float16 inputs (onnxruntime converts
each row to float, normalizes it and rounds once) with the two-pass mean and
variance of :func:`normalization.layer_stats`; ``mean`` and ``inv_std_var``
come out in float32 with the input's shape and a last dimension of 1.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument
from ..limits import check_alloc
from ..registry import register
from ._common import check_index_range
from .normalization import contrib_layer_norm, layer_stats

MS = "com.microsoft"


def _acc(dtype) -> np.dtype:
    return np.dtype(np.float64 if np.dtype(dtype) == np.float64 else np.float32)


def _check_vector(v, name: str, hidden: int, op: str) -> None:
    if v is not None and v.shape != (hidden,):
        raise InvalidArgument(
            f"{op}: {name} must have shape [{hidden}], got {list(v.shape)}"
        )


def _skip_layer_norm(ctx, x, skip, gamma, beta, bias, epsilon, simplified, op):
    if x.ndim not in (2, 3) or skip.ndim not in (2, 3):
        raise InvalidArgument(
            f"{op}: input and skip must have 2 or 3 dimensions, "
            f"got input {list(x.shape)} and skip {list(skip.shape)}"
        )
    # skip is the input's shape, or [1, S, H] / [S, H] broadcast over the batch.
    if skip.shape[-2:] != x.shape[-2:] or (
        skip.ndim == 3 and skip.shape[0] not in (1, x.shape[0]) or skip.ndim > x.ndim
    ):
        raise InvalidArgument(
            f"{op}: skip must have shape {list(x.shape)}, [1, S, H] or [S, H] "
            f"with the input's last two dimensions, got {list(skip.shape)}"
        )
    hidden = x.shape[-1]
    for name, v in (("gamma", gamma), ("beta", beta), ("bias", bias)):
        _check_vector(v, name, hidden, op)
    dt = _acc(x.dtype)
    s = x.astype(dt) + skip.astype(dt, copy=False)
    if bias is not None:
        s += bias.astype(dt, copy=False)
    mean, inv_std = layer_stats(s, -1, epsilon, simplified)
    y = (s - mean) * inv_std * gamma.astype(dt, copy=False)
    if beta is not None:
        y += beta.astype(dt, copy=False)
    f32 = np.float32
    outs = (
        y.astype(x.dtype, copy=False),
        np.broadcast_to(mean, inv_std.shape).astype(f32),
        inv_std.astype(f32, copy=False),
        s.astype(x.dtype, copy=False),
    )
    return outs[: max(1, ctx.num_outputs)]


@register("SkipLayerNormalization", since=1, domain=MS, context=True)
def skip_layer_norm(ctx, x, skip, gamma, beta=None, bias=None, *, epsilon=1e-12):
    """LayerNorm(x + skip + bias) * gamma + beta; output 3 is x + skip + bias."""
    return _skip_layer_norm(
        ctx, x, skip, gamma, beta, bias, epsilon, False, "SkipLayerNormalization"
    )


@register("SkipSimplifiedLayerNormalization", since=1, domain=MS, context=True)
def skip_simplified_layer_norm(ctx, x, skip, gamma, bias=None, *, epsilon=1e-12):
    """RMSNorm(x + skip + bias) * gamma; the mean output is all zeros."""
    return _skip_layer_norm(
        ctx, x, skip, gamma, None, bias, epsilon, True,
        "SkipSimplifiedLayerNormalization",
    )  # fmt: skip


@register("SimplifiedLayerNormalization", since=1, context=True)
def simplified_layer_norm(ctx, x, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    """RMS normalization over axes [axis, rank); onnxruntime registers it in the
    ai.onnx domain. Y has the dtype of ``scale``."""
    y, _, inv_std = contrib_layer_norm(x, scale, None, axis, epsilon, stash_type, True)
    return (y, inv_std)[: max(1, ctx.num_outputs)]


def _index_input(ids, name: str, shape, op: str):
    if ids.dtype != np.int32:
        raise InvalidArgument(f"{op}: {name} must be int32, got {ids.dtype}")
    if ids.shape != tuple(shape):
        raise InvalidArgument(
            f"{op}: {name} must have shape {list(shape)}, got {list(ids.shape)}"
        )


@register("EmbedLayerNormalization", since=1, domain=MS, context=True)
def embed_layer_norm(
    ctx,
    input_ids,
    segment_ids,
    word_embedding,
    position_embedding,
    segment_embedding,
    gamma,
    beta,
    mask=None,
    position_ids=None,
    *,
    epsilon=1e-12,
    mask_index_type=1,
):
    """LayerNorm(word[ids] + position[pos] + segment[seg]) * gamma + beta.

    mask_index is the count of ones in each mask row (zeros without a mask);
    onnxruntime's CPU kernel always returns it as [B] whatever mask_index_type
    says, and so does this one. embedding_sum is the sum before normalization.
    """
    op = "EmbedLayerNormalization"
    if input_ids.ndim != 2:
        raise InvalidArgument(
            f"{op}: input_ids must be 2-D [batch, sequence], got {list(input_ids.shape)}"
        )
    b, s = input_ids.shape
    _index_input(input_ids, "input_ids", (b, s), op)
    if (segment_ids is None) != (segment_embedding is None):
        raise InvalidArgument(
            f"{op}: segment_ids and segment_embedding must be given together"
        )
    if word_embedding.ndim != 2 or position_embedding.ndim != 2:
        raise InvalidArgument(
            f"{op}: word_embedding and position_embedding must be 2-D"
        )
    hidden = word_embedding.shape[1]
    tables = [word_embedding, position_embedding, segment_embedding]
    if any(t is not None and t.shape[1:] != (hidden,) for t in tables):
        raise InvalidArgument(f"{op}: every embedding table must have {hidden} columns")
    _check_vector(gamma, "gamma", hidden, op)
    _check_vector(beta, "beta", hidden, op)
    check_alloc((b, s, hidden), word_embedding.dtype, f"{op} output")

    words = check_index_range(input_ids, word_embedding.shape[0], f"{op} input_ids")
    if position_ids is None:
        pos = np.arange(s).reshape(1, s)
    else:
        if position_ids.shape not in ((b, s), (1, s)):
            raise InvalidArgument(
                f"{op}: position_ids must be [{b}, {s}] or [1, {s}], got {list(position_ids.shape)}"
            )
        pos = position_ids
    pos = check_index_range(pos, position_embedding.shape[0], f"{op} position_ids")
    dt = _acc(word_embedding.dtype)
    total = word_embedding.astype(dt, copy=False)[words]
    total += position_embedding.astype(dt, copy=False)[pos]
    if segment_ids is not None:
        _index_input(segment_ids, "segment_ids", (b, s), op)
        seg = check_index_range(
            segment_ids, segment_embedding.shape[0], f"{op} segment_ids"
        )
        total += segment_embedding.astype(dt, copy=False)[seg]

    mean, inv_std = layer_stats(total, -1, epsilon)
    y = (total - mean) * inv_std * gamma.astype(dt, copy=False) + beta.astype(
        dt, copy=False
    )
    if mask is None:
        mask_index = np.zeros(b, np.int32)
    else:
        _index_input(mask, "mask", (b, s), op)
        mask_index = np.count_nonzero(mask == 1, axis=1).astype(np.int32)
    out_dt = word_embedding.dtype
    outs = (y.astype(out_dt, copy=False), mask_index, total.astype(out_dt, copy=False))
    return outs[: max(1, ctx.num_outputs)]
