"""onnxruntime's com.microsoft elementwise operators: Gelu, FastGelu, BiasGelu,
QuickGelu, BiasAdd, BiasSplitGelu, BiasDropout, ScaledSiLU, GatedAdd, Trilu,
Inverse.

onnxruntime's CPU kernels of the Gelu family exist for float32 only; float16
(which its GPU kernels take) is computed here in float32 and rounded once.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidArgument
from ..registry import register
from ._special import erf
from .indexing import trilu

MS = "com.microsoft"


def _wide(x: np.ndarray) -> np.ndarray:
    """x in its compute dtype: float32 for narrower floats, else unchanged."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _check_bias(x, bias, op: str, name: str = "bias") -> None:
    if x.ndim < 1:
        raise InvalidArgument(f"{op}: input must have rank >= 1, got a scalar")
    if bias.ndim != 1 or bias.shape[0] != x.shape[-1]:
        raise InvalidArgument(
            f"{op}: {name} must be 1-D with the input's last dimension "
            f"{x.shape[-1]}, got shape {list(bias.shape)}"
        )


def _gelu_erf(v: np.ndarray) -> np.ndarray:
    c = v.dtype.type
    return c(0.5) * v * (c(1) + erf(v * c(1 / math.sqrt(2))))


def _gelu_tanh(v: np.ndarray) -> np.ndarray:
    c = v.dtype.type
    inner = c(math.sqrt(2 / math.pi)) * (v + c(0.044715) * v * v * v)
    return c(0.5) * v * (c(1) + np.tanh(inner))


@register("Gelu", since=1, domain=MS)
def gelu(x):
    """0.5 * x * (1 + erf(x / sqrt(2)))."""
    return _gelu_erf(_wide(x)).astype(x.dtype, copy=False)


@register("BiasGelu", since=1, domain=MS)
def bias_gelu(a, b):
    """Gelu(A + B), B a 1-D bias over A's last dimension."""
    _check_bias(a, b, "BiasGelu", "B")
    return _gelu_erf(_wide(a) + _wide(b)).astype(a.dtype, copy=False)


@register("FastGelu", since=1, domain=MS)
def fast_gelu(x, bias=None):
    """The tanh approximation of Gelu of x (+ bias)."""
    v = _wide(x)
    if bias is not None:
        _check_bias(x, bias, "FastGelu")
        v = v + _wide(bias)
    with np.errstate(over="ignore"):
        return _gelu_tanh(v).astype(x.dtype, copy=False)


@register("QuickGelu", since=1, domain=MS)
def quick_gelu(x, *, alpha=1.702):
    """x * sigmoid(alpha * x)."""
    v = _wide(x)
    with np.errstate(over="ignore"):
        y = v / (v.dtype.type(1) + np.exp(v.dtype.type(-alpha) * v))
    return y.astype(x.dtype, copy=False)


@register("BiasAdd", since=1, domain=MS)
def bias_add(x, bias, skip):
    """X + bias + skip: X and skip [N, S, C], bias [C] (a CUDA-only kernel in
    onnxruntime, computed here in the same order)."""
    if x.ndim != 3 or skip.shape != x.shape:
        raise InvalidArgument(
            f"BiasAdd: X must be 3-D and skip the same shape, "
            f"got X {list(x.shape)} and skip {list(skip.shape)}"
        )
    _check_bias(x, bias, "BiasAdd")
    return ((_wide(x) + _wide(bias)) + _wide(skip)).astype(x.dtype, copy=False)


@register("BiasSplitGelu", since=1, domain=MS)
def bias_split_gelu(x, bias):
    """Left * Gelu(right) of (X + bias) split in halves along the last axis.

    X is [N, S, D] with D even, bias [D] (a CUDA-only kernel in onnxruntime).
    """
    if x.ndim != 3 or x.shape[-1] % 2:
        raise InvalidArgument(
            f"BiasSplitGelu: X must be [N, S, D] with D even, got {list(x.shape)}"
        )
    _check_bias(x, bias, "BiasSplitGelu")
    v = _wide(x) + _wide(bias)
    half = x.shape[-1] // 2
    return (v[..., :half] * _gelu_erf(v[..., half:])).astype(x.dtype, copy=False)


@register("BiasDropout", since=1, domain=MS, context=True)
def bias_dropout(ctx, data, bias, residual=None, ratio=None, training_mode=None, *,
                 seed=None):  # fmt: skip
    """Dropout(data + bias) + residual; inference only (dropout is identity).

    The mask output, when asked for, is all True as in Dropout inference.
    """
    if training_mode is not None and bool(np.asarray(training_mode).item()):
        raise NotImplementedError("BiasDropout: training_mode=True is not supported")
    _check_bias(data, bias, "BiasDropout")
    y = data + bias
    if residual is not None:
        y = y + residual
    y = y.astype(data.dtype, copy=False)
    if ctx.num_outputs < 2:
        return y
    return y, np.ones(data.shape, np.bool_)


@register("ScaledSiLU", since=1, domain=MS)
def scaled_silu(x, scale=None, *, alpha=1.0):
    """Z = T(s * X), Y = T(Z * T(sigmoid(Z))), s the scalar input or alpha."""
    s = alpha if scale is None else float(np.asarray(scale, np.float32).reshape(-1)[0])
    z = (np.float32(s) * x.astype(np.float32)).astype(x.dtype)
    with np.errstate(over="ignore"):
        gate = (1.0 / (1.0 + np.exp(-z.astype(np.float32)))).astype(x.dtype)
    return (z.astype(np.float32) * gate.astype(np.float32)).astype(x.dtype)


@register("GatedAdd", since=1, domain=MS)
def gated_add(x, y, gate):
    """X + T(Y * gate); X, Y (..., C), gate (..., 1)."""
    if y.shape != x.shape or gate.shape != x.shape[:-1] + (1,):
        raise InvalidArgument(
            f"GatedAdd: Y must have X's shape {list(x.shape)} and gate "
            f"{list(x.shape[:-1]) + [1]}, got Y {list(y.shape)}, gate {list(gate.shape)}"
        )
    return x + y * gate


register("Trilu", since=1, domain=MS)(trilu)


@register("Inverse", since=1, domain=MS)
def inverse(x):
    """The inverse of each trailing [N, N] matrix (float16 through float32)."""
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise InvalidArgument(
            f"Inverse: input must be [..., N, N] square matrices, got {list(x.shape)}"
        )
    return np.linalg.inv(_wide(x)).astype(x.dtype, copy=False)
