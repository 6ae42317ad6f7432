"""Sigmoid-gated activations: Swish (SiLU with a slope) and SwiGLU.

The sigmoid is evaluated in float32 (float64 for double) and rounded to the
input dtype before the multiply, as the ONNX reference does (its float32
``alpha`` promotes float16 inputs); float16 results depend on that rounding.
"""

from __future__ import annotations

import numpy as np

from ..registry import register
from ..shape_rules import same_shape


def _swish(x: np.ndarray, alpha: float) -> np.ndarray:
    dt = x.dtype
    acc = np.promote_types(dt, np.float32)
    with np.errstate(over="ignore"):
        gate = 1.0 / (1.0 + np.exp(acc.type(-alpha) * x.astype(acc, copy=False)))
    return x * gate.astype(dt, copy=False)


@register("Swish", since=24, shape=same_shape)
def swish(x, *, alpha=1.0):
    """``x * sigmoid(alpha * x)``."""
    return _swish(np.asarray(x), alpha)


@register("SwiGLU", since=28, shape=same_shape)
def swiglu(a, b, *, alpha=1.0):
    """``Swish_alpha(a) * b``; shapes and dtypes must match (no broadcasting)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        raise ValueError(
            f"SwiGLU: gate A {a.shape} {a.dtype} and value B {b.shape} {b.dtype} "
            "must have the same shape and dtype (broadcasting is not applied)"
        )
    return _swish(a, alpha) * b
