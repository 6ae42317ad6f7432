"""Activation kernels: pointwise nonlinearities and Softmax/LogSoftmax/Hardmax.

Attribute values are converted to the input's dtype before any arithmetic so a
float32 tensor is never promoted to float64 by a Python or numpy scalar.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..registry import register, shape_rule
from ..shape_rules import unary
from ._common import normalize_axis
from ._special import erf


def _quiet(fn):
    """exp overflow to inf and 0 * inf are defined results here, not warnings."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return np.asarray(fn(*args, **kwargs))

    return wrapper


def _c(x, value):
    """A constant as a 0-d array of x's dtype."""
    return np.asarray(value, dtype=x.dtype)


def _attr(x, value):
    """A float attribute as a 0-d array of x's dtype.

    ONNX stores float attributes as float32, so a default like 0.01 is really
    float32(0.01); onnxruntime widens that value for double inputs.
    """
    return np.asarray(np.float32(value), dtype=x.dtype)


def _softplus(x):
    # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|).
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


@register("Relu", since=1)
@_quiet
def relu(x, *, consumed_inputs=None):
    return np.maximum(x, _c(x, 0))


@register("LeakyRelu", since=1)
@_quiet
def leaky_relu(x, *, alpha=0.01, consumed_inputs=None):
    return np.where(x >= 0, x, x * _attr(x, alpha))


@register("PRelu", since=1)
@_quiet
def prelu(x, slope, *, consumed_inputs=None):
    if slope.dtype != x.dtype:
        raise TypeError(f"PRelu slope has type {slope.dtype} but X has {x.dtype}")
    out = np.where(x < 0, x * slope, x)
    if out.shape != x.shape:
        raise ValueError(
            f"PRelu slope shape {slope.shape} does not broadcast to X {x.shape}"
        )
    return out


@register("Elu", since=1)
@_quiet
def elu(x, *, alpha=1.0, consumed_inputs=None):
    return np.where(x >= 0, x, _attr(x, alpha) * np.expm1(x))


@register("Selu", since=1)
@_quiet
def selu(
    x,
    *,
    alpha=1.67326319217681884765625,
    gamma=1.05070102214813232421875,
    consumed_inputs=None,
):
    return _attr(x, gamma) * np.where(x > 0, x, _attr(x, alpha) * np.expm1(x))


@register("Celu", since=12)
@_quiet
def celu(x, *, alpha=1.0):
    a = _attr(x, alpha)
    return np.maximum(x, _c(x, 0)) + np.minimum(_c(x, 0), a * np.expm1(x / a))


@register("Sigmoid", since=1)
@_quiet
def sigmoid(x, *, consumed_inputs=None):
    # e^-|x| never overflows; both branches are the same function.
    e = np.exp(-np.abs(x))
    one = _c(x, 1)
    return np.where(x >= 0, one / (one + e), e / (one + e))


@register("HardSigmoid", since=1)
@_quiet
def hard_sigmoid(x, *, alpha=0.2, beta=0.5, consumed_inputs=None):
    return np.clip(_attr(x, alpha) * x + _attr(x, beta), _c(x, 0), _c(x, 1))


@register("HardSwish", since=14)
@_quiet
def hard_swish(x):
    return x * hard_sigmoid(x, alpha=1.0 / 6.0, beta=0.5)


@register("Softplus", since=1)
@_quiet
def softplus(x):
    return _softplus(x)


@register("Softsign", since=1)
@_quiet
def softsign(x):
    return x / (_c(x, 1) + np.abs(x))


@register("Tanh", since=1)
@_quiet
def tanh(x, *, consumed_inputs=None):
    return np.tanh(x)


@register("Gelu", since=20)
@_quiet
def gelu(x, *, approximate="none"):
    approximate = (
        approximate.decode() if isinstance(approximate, bytes) else approximate
    )
    half, one = _c(x, 0.5), _c(x, 1)
    if approximate == "tanh":
        inner = _c(x, math.sqrt(2 / math.pi)) * (x + _c(x, 0.044715) * x * x * x)
        return half * x * (one + np.tanh(inner))
    if approximate == "none":
        return half * x * (one + erf(x * _c(x, 1 / math.sqrt(2))))
    raise ValueError(f"Gelu approximate must be 'none' or 'tanh', got {approximate!r}")


@register("Mish", since=18)
@_quiet
def mish(x):
    return x * np.tanh(_softplus(x))


@register("ThresholdedRelu", since=10)
@_quiet
def thresholded_relu(x, *, alpha=1.0):
    return np.where(x > _attr(x, alpha), x, _c(x, 0))


@register("Shrink", since=9)
@_quiet
def shrink(x, *, bias=0.0, lambd=0.5):
    # onnxruntime compares and adds in float for integer inputs, then casts back.
    xf = x if x.dtype.kind == "f" else x.astype(np.float64)
    b, lam = _attr(xf, bias), _attr(xf, lambd)
    out = np.where(xf < -lam, xf + b, np.where(xf > lam, xf - b, _c(xf, 0)))
    return out.astype(x.dtype, copy=False)


# --- Softmax family ----------------------------------------------------------
# Before opset 13 these flatten the input to 2-D at ``axis`` and normalize each
# row over all trailing dims; from 13 they normalize along the single axis.


def _softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _hardmax(x, axis):
    out = np.zeros_like(x)
    if x.size:
        # argmax returns the first maximum, which is the tie rule ONNX asks for.
        idx = np.expand_dims(np.argmax(x, axis=axis), axis)
        np.put_along_axis(out, idx, _c(x, 1), axis=axis)
    return out


def _per_axis(fn, x, axis):
    if x.size == 0:
        return np.array(x, copy=True)
    return fn(x, normalize_axis(axis, x.ndim))


def _coerced_2d(fn, x, axis):
    axis = normalize_axis(axis, x.ndim) if x.ndim else 0
    if x.size == 0:
        return np.array(x, copy=True)
    rows = math.prod(x.shape[:axis])
    return fn(x.reshape(rows, -1), 1).reshape(x.shape)


@register("Softmax", since=1)
@_quiet
def softmax_1(x, *, axis=1):
    return _coerced_2d(_softmax, x, axis)


@register("Softmax", since=13)
@_quiet
def softmax(x, *, axis=-1):
    return _per_axis(_softmax, x, axis)


@register("LogSoftmax", since=1)
@_quiet
def log_softmax_1(x, *, axis=1):
    return _coerced_2d(_log_softmax, x, axis)


@register("LogSoftmax", since=13)
@_quiet
def log_softmax(x, *, axis=-1):
    return _per_axis(_log_softmax, x, axis)


@register("Hardmax", since=1)
@_quiet
def hardmax_1(x, *, axis=1):
    return _coerced_2d(_hardmax, x, axis)


@register("Hardmax", since=13)
@_quiet
def hardmax(x, *, axis=-1):
    return _per_axis(_hardmax, x, axis)


# --- shape rules -----------------------------------------------------------


shape_rule(
    (
        "Tanh",
        "Relu",
        "Sigmoid",
        "Softplus",
        "Softsign",
        "Elu",
        "Selu",
        "Celu",
        "LeakyRelu",
        "ThresholdedRelu",
        "HardSigmoid",
        "HardSwish",
        "Mish",
        "Gelu",
        "Shrink",
        "Softmax",
        "LogSoftmax",
        "Hardmax",
    )
)(unary)
