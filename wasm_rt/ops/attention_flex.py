"""FlexAttention (``ai.onnx.preview``): attention with user subgraphs that
modify the scores before the softmax and the probabilities after it."""

from __future__ import annotations

import numpy as np

from ..dtypes import to_numpy
from ..limits import check_alloc
from ..registry import KernelContext, register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import T

PREVIEW_DOMAIN = "ai.onnx.preview"


def _apply_mod(ctx: KernelContext, graph, x: np.ndarray, what: str) -> np.ndarray:
    if graph is None:
        return x
    outputs = ctx.run_subgraph(graph, [x])
    if len(outputs) != 1 or np.shape(outputs[0]) != x.shape:
        raise ValueError(
            f"FlexAttention: {what} must return one tensor of shape {x.shape}, got "
            f"{[np.shape(o) for o in outputs]}"
        )
    return np.asarray(outputs[0]).astype(x.dtype, copy=False)


@register("FlexAttention", since=1, domain=PREVIEW_DOMAIN, context=True)
def flex_attention(
    ctx: KernelContext,
    q,
    k,
    v,
    *,
    scale=None,
    score_mod=None,
    prob_mod=None,
    softmax_precision=None,
):
    """softmax(score_mod(Q K^T * scale)) -> prob_mod -> @ V over rank-4 inputs.

    The softmax (and both modifiers) run in ``softmax_precision``: by default
    float32, or float64 for double inputs.
    """
    if not q.ndim == k.ndim == v.ndim == 4:
        raise ValueError(
            f"FlexAttention: Q, K, V must be rank 4, got {q.shape}, {k.shape}, {v.shape}"
        )
    batch, q_heads, q_len, head_size = q.shape
    kv_heads, kv_len = k.shape[1], k.shape[2]
    if k.shape[3] != head_size or v.shape[1:3] != k.shape[1:3]:
        raise ValueError(
            f"FlexAttention: K {k.shape} and V {v.shape} do not fit Q {q.shape}"
        )
    if q_heads != kv_heads:
        if q_heads % kv_heads:
            raise ValueError(
                f"FlexAttention: {q_heads} query heads are not a multiple of "
                f"{kv_heads} key/value heads"
            )
        k = np.repeat(k, q_heads // kv_heads, axis=1)
        v = np.repeat(v, q_heads // kv_heads, axis=1)
    if softmax_precision is not None:
        calc = np.dtype(to_numpy(softmax_precision))
    else:
        calc = np.promote_types(q.dtype, np.float32)
    if scale is None:
        scale = 1.0 / np.sqrt(head_size)
    check_alloc((batch, q_heads, q_len, kv_len), calc, "FlexAttention scores")
    # sqrt(scale) on both Q and K, rounded to the input dtype, as the reference does.
    root = q.dtype.type(np.sqrt(np.float32(scale)))
    scores = np.matmul(q * root, np.swapaxes(k * root, -1, -2)).astype(calc)
    scores = _apply_mod(ctx, score_mod, scores, "score_mod")
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
        probs = e / np.sum(e, axis=-1, keepdims=True)
    probs = _apply_mod(ctx, prob_mod, probs, "prob_mod")
    return np.matmul(probs, v.astype(calc)).astype(v.dtype)


# --- shape rules -----------------------------------------------------------


@shape_rule("FlexAttention", domain="ai.onnx.preview")
def _flex_shape(ctx: RuleContext):
    q, v = ctx.shape(0), ctx.shape(2)
    if q is None or v is None:
        return T(ctx.elem(0), None)
    return T(ctx.elem(0), (q[0], q[1], q[2], v[3]))
