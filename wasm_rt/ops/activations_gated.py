"""Sigmoid-gated activations: Swish (SiLU with a slope) and SwiGLU.

The sigmoid is rounded to the input dtype before the multiply, as the ONNX
reference and the function bodies of the ``_expanded`` cases do; float16
results depend on that rounding.
"""

from __future__ import annotations

import numpy as np

from ..registry import register


def _swish(x: np.ndarray, alpha: float) -> np.ndarray:
    dt = x.dtype
    with np.errstate(over="ignore"):
        gate = (1.0 / (1.0 + np.exp(dt.type(-alpha) * x))).astype(dt, copy=False)
    return x * gate


@register("Swish", since=24)
def swish(x, *, alpha=1.0):
    """``x * sigmoid(alpha * x)``."""
    return _swish(np.asarray(x), alpha)


@register("SwiGLU", since=28)
def swiglu(a, b, *, alpha=1.0):
    """``Swish_alpha(a) * b``; shapes and dtypes must match (no broadcasting)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        raise ValueError(
            f"SwiGLU: gate A {a.shape} {a.dtype} and value B {b.shape} {b.dtype} "
            "must have the same shape and dtype (broadcasting is not applied)"
        )
    return _swish(a, alpha) * b
