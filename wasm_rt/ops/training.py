"""Optimizer steps of ``ai.onnx.preview.training``: Momentum, Adagrad, Adam.

Inputs are ``R`` (learning rate), ``T`` (update count), then the optimized
tensors grouped by role: ``X1..Xn, G1..Gn`` and one or two state groups.
Outputs are the new tensors in the same grouping.  Each tensor is updated
independently, so a group of n is a Python loop over n tensors, not elements.
"""

from __future__ import annotations

import numpy as np

from ..registry import register, shape_rule
from ..shape_inference import RuleContext

TRAINING_DOMAIN = "ai.onnx.preview.training"


def _groups(op: str, tensors: tuple, n_groups: int) -> list[tuple]:
    """Split ``X.., G.., S1.., S2..`` into per-tensor tuples ``(x, g, s1, ...)``."""
    if not tensors or len(tensors) % n_groups:
        raise ValueError(
            f"{op}: after R and T expects {n_groups} equally long groups of tensors, "
            f"got {len(tensors)} inputs"
        )
    n = len(tensors) // n_groups
    return [tuple(tensors[k * n + i] for k in range(n_groups)) for i in range(n)]


def _scalar(v) -> float:
    return np.asarray(v).reshape(-1)[0].item()


@register("Momentum", since=1, domain=TRAINING_DOMAIN)
def momentum(r, t, *tensors, alpha, beta, mode, norm_coefficient):
    """SGD with momentum (``mode='standard'``) or Nesterov momentum (``'nesterov'``)."""
    if mode not in ("standard", "nesterov"):
        raise ValueError(
            f"Momentum: mode must be 'standard' or 'nesterov', got {mode!r}"
        )
    r, t = _scalar(r), _scalar(t)
    beta_t = beta if t > 0 else 1.0  # the first step takes the whole gradient
    xs, vs = [], []
    for x, g, v in _groups("Momentum", tensors, 3):
        g_reg = norm_coefficient * x + g
        v_new = alpha * v + beta_t * g_reg
        step = v_new if mode == "standard" else g_reg + alpha * v_new
        xs.append((x - r * step).astype(x.dtype, copy=False))
        vs.append(v_new.astype(v.dtype, copy=False))
    return tuple(xs + vs)


@register("Adagrad", since=1, domain=TRAINING_DOMAIN)
def adagrad(r, t, *tensors, decay_factor=0.0, epsilon=1e-6, norm_coefficient=0.0):
    """Adagrad with a learning rate decayed as ``R / (1 + T * decay_factor)``."""
    r_t = _scalar(r) / (1.0 + _scalar(t) * decay_factor)
    xs, hs = [], []
    for x, g, h in _groups("Adagrad", tensors, 3):
        g_reg = norm_coefficient * x + g
        h_new = h + g_reg * g_reg
        x_new = x - r_t * g_reg / (np.sqrt(h_new) + epsilon)
        xs.append(x_new.astype(x.dtype, copy=False))
        hs.append(h_new.astype(h.dtype, copy=False))
    return tuple(xs + hs)


@register("Adam", since=1, domain=TRAINING_DOMAIN)
def adam(
    r,
    t,
    *tensors,
    alpha=0.9,
    beta=0.999,
    epsilon=1e-6,
    norm_coefficient=0.0,
    norm_coefficient_post=0.0,
):
    """Adam with bias correction from the second step on (``T > 0``)."""
    r, t = _scalar(r), _scalar(t)
    r_t = r * np.sqrt(1 - beta**t) / (1 - alpha**t) if t > 0 else r
    xs, vs, hs = [], [], []
    for x, g, v, h in _groups("Adam", tensors, 4):
        g_reg = norm_coefficient * x + g
        v_new = alpha * v + (1 - alpha) * g_reg
        h_new = beta * h + (1 - beta) * (g_reg * g_reg)
        x_new = (1 - norm_coefficient_post) * (
            x - r_t * (v_new / (np.sqrt(h_new) + epsilon))
        )
        xs.append(x_new.astype(x.dtype, copy=False))
        vs.append(v_new.astype(v.dtype, copy=False))
        hs.append(h_new.astype(h.dtype, copy=False))
    return tuple(xs + vs + hs)


# --- shape rules -----------------------------------------------------------


@shape_rule(("Momentum", "Adagrad", "Adam"), domain="ai.onnx.preview.training")
def _optimizer_shape(ctx: RuleContext):
    # Inputs: R, T, then the tensors; outputs follow the tensor inputs in order.
    n = ctx.num_outputs
    return [ctx.input(2 + k) for k in range(n)]
