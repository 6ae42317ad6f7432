"""Training losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.

Both take scores of shape (N, C, d1, ..., dk) and integer targets of shape
(N, d1, ..., dk); the class axis is 1.  float16 inputs are reduced in float32
(as onnxruntime does) and cast back.
"""

from __future__ import annotations

import numpy as np

from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import T

_REDUCTIONS = ("none", "sum", "mean")


def _acc(dtype) -> np.dtype:
    return np.dtype(np.float32) if np.dtype(dtype) == np.float16 else np.dtype(dtype)


def _nll(log_prob, target, weight, reduction, ignore_index, out_dtype):
    """The loss from log-probabilities (already in the accumulation dtype)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if log_prob.ndim < 2:
        raise ValueError(f"scores must be (N, C, ...), got shape {log_prob.shape}")
    n, c = log_prob.shape[:2]
    target = np.asarray(target).astype(np.int64, copy=False)
    if target.shape != (n,) + log_prob.shape[2:]:
        raise ValueError(
            f"target shape {target.shape} does not match scores {log_prob.shape} "
            "without the class axis"
        )
    valid = np.ones(target.shape, dtype=bool) if ignore_index is None else target != ignore_index
    if np.any(valid & ((target < 0) | (target >= c))):
        bad = target[valid & ((target < 0) | (target >= c))][0]
        raise ValueError(f"target class {bad} is out of range for {c} classes")
    # Ignored positions may hold any value (often -1); point them at class 0
    # so the gather stays in range, then zero them through the weight.
    safe = np.where(valid, target, 0)
    picked = np.take_along_axis(log_prob, safe[:, None], axis=1)[:, 0]
    w = valid.astype(log_prob.dtype)
    if weight is not None:
        w = w * np.asarray(weight, dtype=log_prob.dtype)[safe]
    loss = -picked * w
    if reduction == "sum":
        loss = loss.sum()
    elif reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = loss.sum() / w.sum()
    return np.asarray(loss).astype(out_dtype)


@register("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(x, target, weight=None, *, ignore_index=None, reduction="mean"):
    dt = _acc(x.dtype)
    return _nll(x.astype(dt, copy=False), target, weight, reduction, ignore_index, x.dtype)


@register("SoftmaxCrossEntropyLoss", since=12, context=True)
def softmax_cross_entropy_loss(ctx, scores, labels, weights=None, *, ignore_index=None, reduction="mean"):
    dt = _acc(scores.dtype)
    s = scores.astype(dt, copy=False)
    shifted = s - np.max(s, axis=1, keepdims=True)
    log_prob = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = _nll(log_prob, labels, weights, reduction, ignore_index, scores.dtype)
    if ctx.num_outputs > 1:
        return loss, log_prob.astype(scores.dtype, copy=False)
    return loss


# --- shape rules -----------------------------------------------------------


@shape_rule("NegativeLogLikelihoodLoss")
def _nll_shape(ctx: RuleContext):
    t = ctx.shape(1)
    red = ctx.attr("reduction", "mean")
    return T(ctx.elem(0), t if red == "none" else ())


@shape_rule("SoftmaxCrossEntropyLoss")
def _sce_shape(ctx: RuleContext):
    t = ctx.shape(1)
    red = ctx.attr("reduction", "mean")
    return [T(ctx.elem(0), t if red == "none" else ()), ctx.input(0)]
