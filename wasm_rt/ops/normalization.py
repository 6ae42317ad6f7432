"""Normalization: BatchNormalization, Instance/Layer/Group normalization, LRN,
LpNormalization, MeanVarianceNormalization, Dropout.

Statistics of float16 inputs are computed in float32 (what onnxruntime does
and what LayerNormalization's ``stash_type`` asks for), then cast back.
"""

from __future__ import annotations

import numpy as np

from ..registry import register, shape_rule
from ..shape_rules import unary
from ._common import normalize_axes, normalize_axis


def _acc(dtype) -> np.dtype:
    return np.dtype(np.float32) if np.dtype(dtype) in (np.float16,) else np.dtype(dtype)


def _channel(v, x: np.ndarray, dtype) -> np.ndarray:
    """A per-channel (C,) vector shaped to broadcast over (N, C, ...)."""
    v = np.asarray(v, dtype=dtype)
    if v.ndim == 1:
        return v.reshape((1, -1) + (1,) * (x.ndim - 2))
    # spatial=0 (opset < 9) gives per-element statistics of shape x.shape[1:].
    return v.reshape((1,) + v.shape)


def _batchnorm(x, scale, b, mean, var, epsilon):
    if x.ndim == 1:
        # A 1-D input is N samples of one channel (onnxruntime: [N] in, [N] out).
        return _batchnorm(x.reshape(-1, 1), scale, b, mean, var, epsilon).reshape(-1)
    dt = _acc(x.dtype)
    inv = 1.0 / np.sqrt(_channel(var, x, dt) + dt.type(epsilon))
    y = (x.astype(dt, copy=False) - _channel(mean, x, dt)) * (
        inv * _channel(scale, x, dt)
    )
    y += _channel(b, x, dt)
    return y.astype(x.dtype, copy=False)


@register("BatchNormalization", since=1)
def batchnorm_1(
    x,
    scale,
    b,
    mean,
    var,
    *,
    consumed_inputs=None,
    epsilon=1e-5,
    is_test=0,
    momentum=0.9,
    spatial=1,
):
    return _batchnorm(x, scale, b, mean, var, epsilon)


@register("BatchNormalization", since=6)
def batchnorm_6(
    x, scale, b, mean, var, *, epsilon=1e-5, is_test=0, momentum=0.9, spatial=1
):
    return _batchnorm(x, scale, b, mean, var, epsilon)


@register("BatchNormalization", since=7)
def batchnorm_7(x, scale, b, mean, var, *, epsilon=1e-5, momentum=0.9, spatial=1):
    return _batchnorm(x, scale, b, mean, var, epsilon)


@register("BatchNormalization", since=9)
def batchnorm_9(x, scale, b, mean, var, *, epsilon=1e-5, momentum=0.9):
    return _batchnorm(x, scale, b, mean, var, epsilon)


@register("BatchNormalization", since=14, context=True)
def batchnorm_14(
    ctx, x, scale, b, mean, var, *, epsilon=1e-5, momentum=0.9, training_mode=0
):
    if not training_mode:
        return _batchnorm(x, scale, b, mean, var, epsilon)
    dt = _acc(x.dtype)
    axes = (0,) + tuple(range(2, x.ndim))
    xa = x.astype(dt, copy=False)
    batch_mean = xa.mean(axis=axes)
    batch_var = xa.var(axis=axes)
    y = _batchnorm(x, scale, b, batch_mean, batch_var, epsilon)
    m = dt.type(momentum)
    running_mean = (np.asarray(mean, dt) * m + batch_mean * (1 - m)).astype(mean.dtype)
    running_var = (np.asarray(var, dt) * m + batch_var * (1 - m)).astype(var.dtype)
    return (y, running_mean, running_var)[: max(1, ctx.num_outputs)]


@register("InstanceNormalization", since=1)
def instance_norm(x, scale, b, *, epsilon=1e-5):
    if x.ndim < 3:
        raise ValueError(
            f"InstanceNormalization needs rank >= 3 (N, C, ...), got {x.shape}"
        )
    dt = _acc(x.dtype)
    xa = x.astype(dt, copy=False)
    axes = tuple(range(2, x.ndim))
    mean = xa.mean(axis=axes, keepdims=True)
    var = np.square(xa - mean).mean(axis=axes, keepdims=True)
    y = (xa - mean) / np.sqrt(var + dt.type(epsilon))
    y = y * _channel(scale, x, dt) + _channel(b, x, dt)
    return y.astype(x.dtype, copy=False)


_STASH = {1: np.float32, 11: np.float64, 10: np.float16, 16: np.float32}


def stash_dtype(stash_type: int, x_dtype) -> np.dtype:
    """The statistics dtype ``stash_type`` asks for (double input stays double)."""
    if np.dtype(x_dtype) == np.float64:
        return np.dtype(np.float64)
    return np.dtype(_STASH.get(stash_type, np.float32))


def layer_stats(xa: np.ndarray, axes, epsilon: float, simplified: bool = False):
    """(mean, 1/sqrt(var + epsilon)) over ``axes`` with kept dims.

    Two passes (mean, then the mean of squared deviations) as onnxruntime's
    kernels do; ``simplified`` is RMS normalization: the mean is taken as 0.
    """
    if simplified:
        mean = np.zeros((), xa.dtype)
        var = np.square(xa).mean(axis=axes, keepdims=True)
    else:
        mean = xa.mean(axis=axes, keepdims=True)
        var = np.square(xa - mean).mean(axis=axes, keepdims=True)
    return mean, 1.0 / np.sqrt(var + xa.dtype.type(epsilon))


@register("LayerNormalization", since=17, context=True)
def layer_norm(ctx, x, scale, b=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    axis = normalize_axis(axis, x.ndim)
    dt = stash_dtype(stash_type, x.dtype)
    xa = x.astype(dt, copy=False)
    mean, inv_std = layer_stats(xa, tuple(range(axis, x.ndim)), epsilon)
    # The ONNX function body casts the normalized value to T before Mul(Scale).
    y = ((xa - mean) * inv_std).astype(x.dtype, copy=False) * scale
    if b is not None:
        y = y + b
    y = y.astype(x.dtype, copy=False)
    return (y, mean, inv_std)[: max(1, ctx.num_outputs)]


def contrib_layer_norm(x, scale, b, axis, epsilon, stash_type, simplified):
    """onnxruntime's LayerNormalization-1 / SimplifiedLayerNormalization.

    Everything is computed in the stash dtype and rounded once to the dtype of
    ``scale`` (onnxruntime's V: Y may differ from X's dtype); the statistics
    come out in float32 unless stash_type asks for double.
    """
    axis = normalize_axis(axis, x.ndim)
    dt = stash_dtype(stash_type, x.dtype)
    xa = x.astype(dt, copy=False)
    mean, inv_std = layer_stats(xa, tuple(range(axis, x.ndim)), epsilon, simplified)
    y = (xa - mean) * inv_std * scale.astype(dt, copy=False)
    if b is not None:
        y = y + b.astype(dt, copy=False)
    u = np.dtype(np.float64 if stash_type == 11 else np.float32)
    mean = np.broadcast_to(mean, inv_std.shape).astype(u)
    return y.astype(scale.dtype, copy=False), mean, inv_std.astype(u, copy=False)


@register("LayerNormalization", since=1, context=True)
def layer_norm_1(ctx, x, scale, b=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """onnxruntime's contrib LayerNormalization in the ai.onnx domain (opsets
    1-16, before ONNX defined it; onnxruntime's LayerNormFusion emits it)."""
    outs = contrib_layer_norm(x, scale, b, axis, epsilon, stash_type, False)
    return outs[: max(1, ctx.num_outputs)]


def _group_norm(x, scale, bias, epsilon, num_groups, stash_dtype, per_channel):
    if x.ndim < 3 or num_groups < 1 or x.shape[1] % num_groups:
        raise ValueError(
            f"GroupNormalization: {x.shape[1] if x.ndim > 1 else '?'} channels of X {x.shape} "
            f"do not split into num_groups={num_groups}"
        )
    n, c = x.shape[:2]
    xg = x.astype(stash_dtype, copy=False).reshape(n, num_groups, -1)
    mean = xg.mean(axis=-1, keepdims=True)
    var = np.square(xg - mean).mean(axis=-1, keepdims=True)
    y = ((xg - mean) / np.sqrt(var + stash_dtype.type(epsilon))).reshape(x.shape)
    y = y.astype(x.dtype, copy=False)
    if not per_channel:
        # Opset 18 takes one scale/bias per group; spread it over its channels.
        scale = np.repeat(scale, c // num_groups)
        bias = np.repeat(bias, c // num_groups)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return (y * scale.reshape(shape) + bias.reshape(shape)).astype(x.dtype, copy=False)


@register("GroupNormalization", since=18)
def group_norm_18(x, scale, bias, *, epsilon=1e-5, num_groups):
    return _group_norm(
        x, scale, bias, epsilon, num_groups, _acc(x.dtype), per_channel=False
    )


@register("GroupNormalization", since=21)
def group_norm_21(x, scale, bias, *, epsilon=1e-5, num_groups, stash_type=1):
    dt = (
        np.dtype(np.float64)
        if x.dtype == np.float64
        else np.dtype(_STASH.get(stash_type, np.float32))
    )
    return _group_norm(x, scale, bias, epsilon, num_groups, dt, per_channel=True)


@register("LRN", since=1)
def lrn(x, *, alpha=1e-4, beta=0.75, bias=1.0, size):
    if x.ndim < 3:
        raise ValueError(f"LRN needs rank >= 3 (N, C, ...), got {x.shape}")
    if size < 1:
        raise ValueError(f"LRN: size must be positive, got {size}")
    dt = _acc(x.dtype)
    sq = np.square(x.astype(dt, copy=False))
    c = x.shape[1]
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    # A channel-axis prefix sum turns each window sum into one subtraction.
    zeros = np.zeros((x.shape[0], 1) + x.shape[2:], dtype=dt)
    csum = np.concatenate([zeros, np.cumsum(sq, axis=1, dtype=dt)], axis=1)
    hi = np.minimum(np.arange(c) + after + 1, c)
    lo = np.maximum(np.arange(c) - before, 0)
    window = csum[:, hi] - csum[:, lo]
    y = x / np.power(dt.type(bias) + dt.type(alpha / size) * window, dt.type(beta))
    return y.astype(x.dtype, copy=False)


@register("LpNormalization", since=1)
def lp_normalization(x, *, axis=-1, p=2):
    axis = normalize_axis(axis, x.ndim)
    if p == 1:
        norm = np.abs(x).sum(axis=axis, keepdims=True)
    elif p == 2:
        norm = np.sqrt(np.square(x).sum(axis=axis, keepdims=True))
    else:
        raise ValueError(f"LpNormalization supports p=1 or p=2, got p={p}")
    with np.errstate(invalid="ignore", divide="ignore"):
        # A zero-norm slice stays zero instead of becoming NaN.
        y = np.where(norm == 0, 0, x / norm)
    return y.astype(x.dtype, copy=False)


@register("MeanVarianceNormalization", since=9)
def mean_variance_normalization(x, *, axes=(0, 2, 3)):
    axes = normalize_axes(axes, x.ndim)
    dt = _acc(x.dtype)
    xa = x.astype(dt, copy=False)
    mean = xa.mean(axis=axes, keepdims=True)
    var = np.square(xa).mean(axis=axes, keepdims=True) - np.square(mean)
    # The ONNX function body adds 1e-9 to the standard deviation.
    y = (xa - mean) / (np.sqrt(np.maximum(var, 0)) + dt.type(1e-9))
    return y.astype(x.dtype, copy=False)


def _dropout(ctx, x, ratio, training, seed, mask_dtype):
    ratio = float(ratio)
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"Dropout ratio must be in [0, 1), got {ratio}")
    if not training or ratio == 0.0:
        y, keep = x, np.ones(x.shape, dtype=bool)
    else:
        # RandomState(seed).uniform is the ONNX reference's generator, so a
        # seeded node reproduces the reference outputs exactly.
        rng = np.random.RandomState(None if seed is None else int(seed))
        keep = rng.uniform(0.0, 1.0, x.shape) >= ratio
        y = (x * keep / (1.0 - ratio)).astype(x.dtype, copy=False)
    if ctx.num_outputs < 2:
        return y
    return y, keep.astype(mask_dtype or x.dtype)


@register("Dropout", since=1, context=True)
def dropout_1(ctx, x, *, consumed_inputs=None, is_test=0, ratio=0.5):
    # Inference runtime: treat every model as is_test.
    return _dropout(ctx, x, ratio, False, None, None)


@register("Dropout", since=6, context=True)
def dropout_6(ctx, x, *, is_test=0, ratio=0.5):
    return _dropout(ctx, x, ratio, False, None, None)


@register("Dropout", since=7, context=True)
def dropout_7(ctx, x, *, ratio=0.5):
    return _dropout(ctx, x, ratio, False, None, None)


@register("Dropout", since=10, context=True)
def dropout_10(ctx, x, *, ratio=0.5):
    return _dropout(ctx, x, ratio, False, None, np.bool_)


@register("Dropout", since=12, context=True)
def dropout_12(ctx, x, ratio=None, training_mode=None, *, seed=None):
    ratio = 0.5 if ratio is None else np.asarray(ratio).item()
    training = training_mode is not None and bool(np.asarray(training_mode).item())
    return _dropout(ctx, x, ratio, training, seed, np.bool_)


# --- shape rules -----------------------------------------------------------


shape_rule(("LpNormalization", "MeanVarianceNormalization", "LRN", "InstanceNormalization"))(unary)
