"""Recurrent-state blocks of linear-attention models (Gated DeltaNet, Mamba):
LinearAttention and CausalConvWithState.

LinearAttention runs its recurrence one token at a time (a Python loop over
the sequence, like the RNN kernels), vectorised over batch, heads and the
``d_k x d_v`` state.  The state is accumulated in float32 (float64 for double
inputs) whatever the activation dtype, as the ONNX reference does.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import symbolic as sy
from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import T

_UPDATE_RULES = ("linear", "gated", "delta", "gated_delta")


def _heads(x: np.ndarray, num_heads: int, what: str) -> np.ndarray:
    """(B, T, H*D) -> (B, H, T, D)."""
    if x.ndim != 3 or x.shape[2] % num_heads:
        raise ValueError(
            f"LinearAttention: {what} must be (batch, seq, {num_heads} * head_size), "
            f"got shape {x.shape}"
        )
    b, t, hd = x.shape
    return x.reshape(b, t, num_heads, hd // num_heads).transpose(0, 2, 1, 3)


def _check_gates(update_rule, decay, beta) -> tuple[bool, bool]:
    if update_rule not in _UPDATE_RULES:
        raise ValueError(
            f"LinearAttention: update_rule must be one of {_UPDATE_RULES}, got {update_rule!r}"
        )
    gating = update_rule in ("gated", "gated_delta")
    delta = update_rule in ("delta", "gated_delta")
    if gating != (decay is not None):
        raise ValueError(
            f"LinearAttention: update_rule {update_rule!r} "
            + ("requires the decay input" if gating else "takes no decay input")
        )
    if delta != (beta is not None):
        raise ValueError(
            f"LinearAttention: update_rule {update_rule!r} "
            + ("requires the beta input" if delta else "takes no beta input")
        )
    return gating, delta


@register("LinearAttention", since=27)
def linear_attention(
    query,
    key,
    value,
    past_state=None,
    decay=None,
    beta=None,
    *,
    q_num_heads,
    kv_num_heads,
    chunk_size=64,
    scale=0.0,
    update_rule="gated_delta",
):
    """Linear-attention recurrence over the packed (B, T, H*D) inputs.

    ``chunk_size`` is a tuning hint for chunk-parallel implementations and
    does not change the result.
    """
    del chunk_size
    gating, delta = _check_gates(update_rule, decay, beta)
    if q_num_heads <= 0 or kv_num_heads <= 0 or q_num_heads % kv_num_heads:
        raise ValueError(
            f"LinearAttention: q_num_heads ({q_num_heads}) must be a positive multiple of "
            f"kv_num_heads ({kv_num_heads})"
        )
    acc = np.promote_types(query.dtype, np.float32)
    q = _heads(query, q_num_heads, "query").astype(acc)
    k = _heads(key, kv_num_heads, "key").astype(acc)
    v = _heads(value, kv_num_heads, "value").astype(acc)
    b, _, t, d_k = q.shape
    d_v = v.shape[-1]
    group = q_num_heads // kv_num_heads
    # Query head h reads the state of kv head h // group.
    q = q.reshape(b, kv_num_heads, group, t, d_k)
    if (
        k.shape[:3] != (b, kv_num_heads, t)
        or k.shape[3] != d_k
        or v.shape[:3] != k.shape[:3]
    ):
        raise ValueError(
            f"LinearAttention: key {key.shape} and value {value.shape} do not fit "
            f"query {query.shape} with {q_num_heads}/{kv_num_heads} heads"
        )

    if decay is not None:
        if decay.ndim != 3 or decay.shape[2] not in (kv_num_heads, kv_num_heads * d_k):
            raise ValueError(
                f"LinearAttention: decay must be (batch, seq, {kv_num_heads}) or "
                f"(batch, seq, {kv_num_heads * d_k}), got {decay.shape}"
            )
        # (B, H, T, 1 or d_k): exp(g) multiplies state rows (the d_k axis).
        gate = np.exp(_heads(decay, kv_num_heads, "decay").astype(acc))
    if beta is not None:
        if beta.ndim != 3 or beta.shape[2] not in (kv_num_heads, 1):
            raise ValueError(
                f"LinearAttention: beta must be (batch, seq, {kv_num_heads} or 1), "
                f"got {beta.shape}"
            )
        rate = beta.astype(acc).transpose(0, 2, 1)[..., None]  # (B, H or 1, T, 1)

    state_shape = (b, kv_num_heads, d_k, d_v)
    if past_state is not None:
        if past_state.shape != state_shape:
            raise ValueError(
                f"LinearAttention: past_state must have shape {state_shape}, "
                f"got {past_state.shape}"
            )
        state_dtype = past_state.dtype
        state = past_state.astype(acc)
    else:
        state_dtype = query.dtype
        check_alloc(state_shape, acc, "LinearAttention state")
        state = np.zeros(state_shape, dtype=acc)
    scale = scale if scale else 1.0 / np.sqrt(d_k)

    check_alloc((b, kv_num_heads, group, t, d_v), acc, "LinearAttention output")
    out = np.empty((b, kv_num_heads, group, t, d_v), dtype=acc)
    for i in range(t):
        if gating:
            state = state * gate[:, :, i, :, None]
        k_i, v_i = k[:, :, i], v[:, :, i]  # (B, H, d_k), (B, H, d_v)
        if delta:
            retrieved = np.matmul(k_i[:, :, None, :], state)[:, :, 0]
            v_i = rate[:, :, i] * (v_i - retrieved)
        state = state + k_i[..., :, None] * v_i[..., None, :]
        out[:, :, :, i] = np.matmul(q[:, :, :, i], state)
    out *= acc.type(scale)
    # (B, Hkv, G, T, d_v) -> (B, T, Hq * d_v)
    output = out.reshape(b, q_num_heads, t, d_v).transpose(0, 2, 1, 3).reshape(b, t, -1)
    return output.astype(query.dtype), state.astype(state_dtype)


@register("CausalConvWithState", since=27)
def causal_conv_with_state(
    input, weight, bias=None, past_state=None, *, activation="none"
):
    """Depthwise causal Conv1d over (B, C, L) continuing from the last k-1 inputs.

    Returns the output and the new carry state (the last k-1 padded positions).
    """
    if activation not in ("none", "silu", "swish"):
        raise ValueError(
            f"CausalConvWithState: activation must be 'none', 'silu' or 'swish', "
            f"got {activation!r}"
        )
    if input.ndim != 3 or weight.ndim != 3 or weight.shape[:2] != (input.shape[1], 1):
        raise ValueError(
            f"CausalConvWithState: input must be (batch, channels, length) and weight "
            f"(channels, 1, k); got {input.shape} and {weight.shape}"
        )
    batch, channels, length = input.shape
    k = weight.shape[2]
    if k < 1:
        raise ValueError("CausalConvWithState: the kernel size must be at least 1")
    carry = (batch, channels, k - 1)
    if past_state is None:
        past_state = np.zeros(carry, dtype=input.dtype)
    elif past_state.shape != carry:
        raise ValueError(
            f"CausalConvWithState: past_state must have shape {carry}, got {past_state.shape}"
        )
    check_alloc(
        (batch, channels, length + k - 1), input.dtype, "CausalConvWithState input"
    )
    padded = np.concatenate([past_state.astype(input.dtype, copy=False), input], axis=2)
    acc = np.promote_types(input.dtype, np.float32)
    windows = sliding_window_view(padded, k, axis=2)  # (B, C, L, k)
    out = np.einsum("bclk,ck->bcl", windows.astype(acc), weight[:, 0].astype(acc))
    if bias is not None:
        out = out + bias.astype(acc)[:, None]
    out = out.astype(input.dtype)
    if activation != "none":
        # SiLU on the rounded convolution, evaluated in float32 as the reference does.
        y = out.astype(acc)
        with np.errstate(over="ignore"):
            out = (y / (1.0 + np.exp(-y))).astype(input.dtype)
    return out, padded[:, :, length:]


# --- shape rules -----------------------------------------------------------


@shape_rule("LinearAttention")
def _linear_attention_shape(ctx: RuleContext):
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    elem = ctx.elem(0)
    hq, hkv = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    if q is None or k is None or v is None:
        return [T(elem, None), T(elem, None)]
    dk = sy.floordiv(k[2], hkv)
    dv = sy.floordiv(v[2], hkv)
    return [T(elem, (q[0], q[1], sy.mul(hq, dv))), T(elem, (q[0], hkv, dk, dv))]


@shape_rule("CausalConvWithState")
def _causal_conv_shape(ctx: RuleContext):
    x, w = ctx.shape(0), ctx.shape(1)
    if x is None or w is None:
        return [ctx.input(0), T(ctx.elem(0), None)]
    return [ctx.input(0), T(ctx.elem(0), (x[0], x[1], sy.add(w[2], -1)))]
