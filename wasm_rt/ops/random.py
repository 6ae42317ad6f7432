"""Random-number kernels.

With a ``seed`` attribute each run draws from a fresh Generator seeded from it,
so a seeded node is deterministic across runs (not bit-equal to onnxruntime,
whose generator differs). Without one, draws come from OS entropy.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import FLOAT, INT32, to_numpy
from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import T, type_of_code, unary


def _rng(seed) -> np.random.Generator:
    if seed is None:
        return np.random.default_rng()
    # The attribute is a float; its bit pattern keeps distinct seeds distinct.
    return np.random.default_rng(int(np.float64(seed).view(np.uint64)))


def _float_dtype(dtype, what: str) -> np.dtype:
    dt = to_numpy(dtype) if isinstance(dtype, (int, np.integer)) else np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"{what}: dtype must be a floating type, got {dt}")
    return dt


def _normal(shape, dtype, mean, scale, seed, what):
    dt = _float_dtype(dtype, what)
    shape = [int(d) for d in shape]
    check_alloc(shape, dt, f"{what} output")
    return (_rng(seed).standard_normal(shape) * scale + mean).astype(dt)


def _uniform(shape, dtype, low, high, seed, what):
    dt = _float_dtype(dtype, what)
    shape = [int(d) for d in shape]
    check_alloc(shape, dt, f"{what} output")
    return _rng(seed).uniform(low, high, shape).astype(dt)


@register("RandomNormal", since=1)
def random_normal(*, shape, dtype=FLOAT, mean=0.0, scale=1.0, seed=None):
    return _normal(shape, dtype, mean, scale, seed, "RandomNormal")


@register("RandomUniform", since=1)
def random_uniform(*, shape, dtype=FLOAT, low=0.0, high=1.0, seed=None):
    return _uniform(shape, dtype, low, high, seed, "RandomUniform")


@register("RandomNormalLike", since=1)
def random_normal_like(x, *, dtype=None, mean=0.0, scale=1.0, seed=None):
    dt = x.dtype if dtype is None else dtype
    return _normal(x.shape, dt, mean, scale, seed, "RandomNormalLike")


@register("RandomUniformLike", since=1)
def random_uniform_like(x, *, dtype=None, low=0.0, high=1.0, seed=None):
    dt = x.dtype if dtype is None else dtype
    return _uniform(x.shape, dt, low, high, seed, "RandomUniformLike")


@register("Multinomial", since=7)
def multinomial(x, *, dtype=INT32, sample_size=1, seed=None):
    """Samples class indices from unnormalised log-probabilities ``x`` [batch, classes]."""
    if x.ndim != 2:
        raise ValueError(
            f"Multinomial: expected a [batch, classes] input, got {x.shape}"
        )
    out_dtype = to_numpy(dtype)
    if out_dtype not in (np.int32, np.int64):
        raise ValueError(f"Multinomial: dtype must be int32 or int64, got {out_dtype}")
    batch, classes = x.shape
    check_alloc([batch, sample_size], out_dtype, "Multinomial output")
    logits = x.astype(np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    u = _rng(seed).random((batch, sample_size))
    # Inverse-CDF sampling: the class is the first whose cumulative mass exceeds u.
    # Offsetting row b by b makes the flattened CDFs one sorted array, so a
    # single searchsorted serves every row.
    offset = np.arange(batch, dtype=np.float64)[:, None]
    flat = (cdf + offset).reshape(-1)
    idx = (
        np.searchsorted(flat, u + offset, side="right")
        - offset.astype(np.int64) * classes
    )
    return np.minimum(idx, classes - 1).astype(out_dtype)


@register("Bernoulli", since=15)
def bernoulli(x, *, dtype=None, seed=None):
    out_dtype = x.dtype if dtype is None else to_numpy(dtype)
    check_alloc(x.shape, out_dtype, "Bernoulli output")
    p = np.asarray(x, dtype=np.float64)
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError("Bernoulli: probabilities must lie in [0, 1]")
    return (_rng(seed).random(x.shape) < p).astype(out_dtype)


# --- shape rules -----------------------------------------------------------


shape_rule(("RandomNormalLike", "RandomUniformLike"))(unary)


@shape_rule(("RandomNormal", "RandomUniform"))
def _random_shape(ctx: RuleContext):
    return T(type_of_code(ctx.attr("dtype", 1)), ctx.attr("shape"))


@shape_rule("Multinomial")
def _multinomial_shape(ctx: RuleContext):
    x = ctx.shape(0)
    n = ctx.attr("sample_size", 1)
    return T(type_of_code(ctx.attr("dtype", 6)), (x[0], n) if x is not None else None)
