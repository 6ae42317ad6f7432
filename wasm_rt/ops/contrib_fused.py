"""onnxruntime's com.microsoft fused linear operators: FusedMatMul (and its older
name TransposeMatMul), FusedConv, FusedGemm.

The fused activations are the ones onnxruntime's CPU kernels accept, with the
parameters they require (onnxruntime has no defaults for them either); any
other name is refused with NotImplemented.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument
from ..registry import register
from .conv import conv_core
from .linalg import _gemm, _matmul

MS = "com.microsoft"


def _softplus(y):
    return np.logaddexp(y, 0, out=y)


# name -> (parameter names, function of (y, *params) that may work in place)
_ACTIVATIONS = {
    "Relu": ((), lambda y: np.maximum(y, 0, out=y)),
    "Tanh": ((), lambda y: np.tanh(y, out=y)),
    "Sigmoid": ((), lambda y: np.divide(1, 1 + np.exp(-y), out=y)),
    "Softsign": ((), lambda y: np.divide(y, 1 + np.abs(y), out=y)),
    "Softplus": ((), _softplus),
    "LeakyRelu": (("alpha",), lambda y, a: np.where(y >= 0, y, y * a)),
    "ThresholdedRelu": (("alpha",), lambda y, a: np.where(y > a, y, 0).astype(y.dtype)),
    "Elu": (("alpha",), lambda y, a: np.where(y >= 0, y, a * np.expm1(y))),
    "Clip": (("min", "max"), lambda y, lo, hi: np.clip(y, lo, hi, out=y)),
    "HardSigmoid": (("alpha", "beta"), lambda y, a, b: np.clip(y * a + b, 0, 1)),
    "Selu": (
        ("alpha", "gamma"),
        lambda y, a, g: g * np.where(y > 0, y, a * np.expm1(y)),
    ),
    "ScaledTanh": (("alpha", "beta"), lambda y, a, b: a * np.tanh(b * y)),
    "ParametricSoftplus": (
        ("alpha", "beta"),
        lambda y, a, b: a * _softplus(b * y),
    ),
}
# What onnxruntime's CPU kernels accept: FusedConv goes through MLAS's fused
# activations, FusedGemm through the elementwise functors (no Clip there).
_CONV_ACTIVATIONS = ("Relu", "Tanh", "Sigmoid", "LeakyRelu", "Clip", "HardSigmoid")
_GEMM_ACTIVATIONS = tuple(a for a in _ACTIVATIONS if a != "Clip")


def _activate(y: np.ndarray, activation, params, allowed, op: str) -> np.ndarray:
    """Apply the fused activation to the float32/64 result ``y``.

    ``params`` maps parameter names to values; a missing one is an error, as
    in onnxruntime.
    """
    if activation is None:
        return y
    if activation not in allowed:
        raise NotImplementedError(
            f"{op}: activation {activation!r} is not supported "
            f"(supported: {', '.join(allowed)})"
        )
    names, fn = _ACTIVATIONS[activation]
    missing = [n for n in names if params.get(n) is None]
    if missing:
        raise InvalidArgument(
            f"{op}: activation {activation} needs parameter(s) {', '.join(names)}, "
            f"missing {', '.join(missing)}"
        )
    with np.errstate(over="ignore"):
        return fn(y, *(y.dtype.type(params[n]) for n in names))


def _trans_batch(x: np.ndarray) -> np.ndarray:
    """[d0, d1, ..., dk, last] -> [d1, ..., dk, d0, last]: d0 becomes the rows."""
    return np.moveaxis(x, 0, -2)


def _fused_matmul(a, b, alpha, trans_a, trans_b, trans_batch_a, trans_batch_b, op):
    if (trans_batch_a or trans_batch_b) and not (a.ndim == b.ndim and a.ndim >= 3):
        raise InvalidArgument(
            f"{op}: transBatchA/transBatchB need A and B of the same rank >= 3, "
            f"got A {list(a.shape)} and B {list(b.shape)}"
        )
    if trans_batch_a:
        a = _trans_batch(a)
    if trans_batch_b:
        b = _trans_batch(b)
    if trans_a and a.ndim >= 2:
        a = np.swapaxes(a, -1, -2)
    if trans_b and b.ndim >= 2:
        b = np.swapaxes(b, -1, -2)
    y = _matmul(a, b, a.dtype, f"{op} output")
    if alpha != 1.0:
        y = y * y.dtype.type(alpha)
    return y.astype(a.dtype, copy=False)


@register("FusedMatMul", since=1, domain=MS)
def fused_matmul(a, b, *, alpha=1.0, transA=0, transB=0, transBatchA=0, transBatchB=0):
    """alpha * matmul(A', B'); transBatch moves the first dimension of a
    rank >= 3 operand next to its last, then trans swaps the last two."""
    return _fused_matmul(
        a, b, alpha, transA, transB, transBatchA, transBatchB, "FusedMatMul"
    )


@register("TransposeMatMul", since=1, domain=MS)
def transpose_matmul(a, b, *, alpha=1.0, transA=0, transB=0):
    """The older name of FusedMatMul, without the batch transposes."""
    return _fused_matmul(a, b, alpha, transA, transB, 0, 0, "TransposeMatMul")


@register("FusedConv", since=1, domain=MS)
def fused_conv(
    x,
    w,
    b=None,
    z=None,
    *,
    activation=None,
    activation_params=None,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    """activation(Conv(X, W, B) + Z); Z, when given, has the output's shape."""
    y = conv_core(
        x, w, b, auto_pad=auto_pad, dilations=dilations, group=group,
        kernel_shape=kernel_shape, pads=pads, strides=strides, op="FusedConv",
    )  # fmt: skip
    if z is not None:
        if z.shape != y.shape:
            raise InvalidArgument(
                f"FusedConv: Z must have the output's shape {list(y.shape)}, "
                f"got {list(z.shape)}"
            )
        y += z.astype(y.dtype, copy=False)
    if activation is not None and activation in _ACTIVATIONS:
        names = _ACTIVATIONS[activation][0]
        params = dict(zip(names, activation_params or ()))
    else:
        params = {}
    y = _activate(y, activation, params, _CONV_ACTIVATIONS, "FusedConv")
    return y.astype(x.dtype, copy=False)


@register("FusedGemm", since=1, domain=MS)
def fused_gemm(
    a,
    b,
    c=None,
    *,
    alpha=1.0,
    beta=1.0,
    transA=0,
    transB=0,
    activation=None,
    activation_alpha=None,
    activation_beta=None,
    activation_gamma=None,
):
    """activation(Gemm(A, B, C)), the activation's parameters from
    activation_alpha / activation_beta / activation_gamma."""
    if activation is None:
        raise InvalidArgument("FusedGemm: the activation attribute is required")
    y = _gemm(a, b, c, alpha, beta, transA, transB)
    params = {"alpha": activation_alpha, "beta": activation_beta}
    params["gamma"] = activation_gamma
    y = _activate(y, activation, params, _GEMM_ACTIVATIONS, "FusedGemm")
    return y.astype(a.dtype, copy=False)
