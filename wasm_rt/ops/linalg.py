"""Matrix products: MatMul, Gemm, Einsum and their integer/quantized forms."""

from __future__ import annotations

import string

import numpy as np

from .. import native
from ..errors import InvalidArgument
from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext, RuleError
from ..shape_rules import T, broadcast_shapes, matmul_shape, unary
from ..shape_rules_nn import gemm_shape
from ..symbolic import DimLike
from ._qgemm import qgemm_i32, requantize


def _matmul_shape(a: np.ndarray, b: np.ndarray) -> tuple[int, ...]:
    """numpy's matmul result shape, computed before allocating it."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("MatMul inputs must be at least 1-D, got a scalar")
    a_shape = (1,) + a.shape if a.ndim == 1 else a.shape
    b_shape = b.shape + (1,) if b.ndim == 1 else b.shape
    if a_shape[-1] != b_shape[-2]:
        raise ValueError(
            f"MatMul inner dimensions differ: A is {a.shape}, B is {b.shape} "
            f"({a_shape[-1]} vs {b_shape[-2]})"
        )
    try:
        batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ValueError(
            f"MatMul batch dimensions do not broadcast: A is {a.shape}, B is {b.shape}"
        ) from None
    shape = batch + (a_shape[-2], b_shape[-1])
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:]
    if b.ndim == 1:
        shape = shape[:-1]
    return shape


def _matmul(a, b, dtype, what: str):
    check_alloc(_matmul_shape(a, b), dtype, what)
    # np.matmul on the desktop; the SIMD GEMM for float32 inside Pyodide.
    return native.matmul(a, b)


@register("MatMul", since=1)
def matmul(a, b):
    out = _matmul(a, b, np.result_type(a, b), "MatMul output")
    # numpy promotes mixed inputs; ONNX requires both to share A's type.
    return out.astype(a.dtype, copy=False)


def _gemm(a, b, c, alpha, beta, trans_a, trans_b):
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"Gemm needs 2-D A and B, got shapes {a.shape} and {b.shape}")
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    y = _matmul(a, b, a.dtype, "Gemm output")
    if alpha != 1.0:
        y *= y.dtype.type(alpha)
    if c is not None and beta != 0.0:
        c = np.asarray(c)
        try:
            np.broadcast_shapes(c.shape, y.shape)
        except ValueError:
            raise ValueError(
                f"Gemm C of shape {c.shape} does not broadcast to the output {y.shape}"
            ) from None
        c = c.astype(y.dtype, copy=False)
        # In-place add keeps A's dtype and avoids a second output-sized buffer.
        y += c * y.dtype.type(beta) if beta != 1.0 else c
    return y


@register("Gemm", since=1)
def gemm_1(a, b, c=None, *, alpha=1.0, beta=1.0, broadcast=0, transA=0, transB=0):
    # Before opset 7 ``broadcast=0`` demanded C already had Y's shape; any model
    # that obeyed that rule also works when we simply broadcast.
    return _gemm(a, b, c, alpha, beta, transA, transB)


@register("Gemm", since=7)
def gemm_7(a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    return _gemm(a, b, c, alpha, beta, transA, transB)


@register("Det", since=11)
def det(x):
    """Determinant over the last two axes; float inputs keep their dtype."""
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"Det needs square matrices in the last two axes, got shape {x.shape}")
    return np.linalg.det(x).astype(x.dtype, copy=False)


@register("Einsum", since=12)
def einsum(*inputs, equation: str):
    eq = equation.replace(" ", "")
    # optimize=True lets numpy pick a contraction order and route pairwise
    # contractions through BLAS; the greedy path search is cheap.
    return np.einsum(eq, *inputs, optimize=len(inputs) > 1)


def _zero_point_for(zp, x: np.ndarray, axis: int) -> np.ndarray:
    """A zero point that broadcasts against ``x``: scalar, or per row/column."""
    zp = np.asarray(zp)
    if zp.ndim == 0 or zp.size == 1:
        return zp.reshape(())
    if x.ndim >= 2 and zp.ndim == 1:
        # A's 1-D zero point is per row (M), B's is per column (N).
        return zp.reshape(-1, 1) if axis == -2 else zp.reshape(1, -1)
    return zp


def _check_int8(x, what: str, op: str) -> None:
    if x.dtype not in (np.uint8, np.int8):
        raise InvalidArgument(f"{op}: {what} must be uint8 or int8, got {x.dtype}")


@register("MatMulInteger", since=10)
def matmul_integer(a, b, a_zero_point=None, b_zero_point=None):
    # The exact int32 GEMM (SIMD in Pyodide, float64 BLAS elsewhere); sums wrap
    # like onnxruntime's int32 accumulator.
    _check_int8(a, "A", "MatMulInteger")
    _check_int8(b, "B", "MatMulInteger")
    shape = _matmul_shape(a, b)
    a2 = a[None] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    az = None if a_zero_point is None else _zero_point_for(a_zero_point, a2, -2)
    bz = None if b_zero_point is None else _zero_point_for(b_zero_point, b2, -1)
    return qgemm_i32(a2, az, b2, bz).reshape(shape)


@register("QLinearMatMul", since=10)
def qlinear_matmul(
    a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point
):
    acc = matmul_integer(a, b, a_zero_point, b_zero_point)
    a_scale = np.asarray(a_scale, dtype=np.float32)
    b_scale = np.asarray(b_scale, dtype=np.float32)
    if a_scale.ndim == 1 and a_scale.size > 1 and a.ndim >= 2:
        a_scale = a_scale.reshape(-1, 1)
    # onnxruntime folds the scales in float32, a_scale * b_scale / y_scale, and
    # requantizes as MLAS does (float32(acc) * scale, round half to even).
    scale = a_scale * b_scale / np.asarray(y_scale, dtype=np.float32)
    y_zp = np.asarray(y_zero_point)
    _check_int8(y_zp, "y_zero_point", "QLinearMatMul")
    return requantize(acc, scale, y_zp, y_zp.dtype)


# --- shape rules -----------------------------------------------------------


shape_rule("Det")(unary)  # batch of square matrices -> the batch dims (unary handles Det)


@shape_rule("MatMul")
def _matmul_rule(ctx: RuleContext):
    return T(ctx.elem(0), matmul_shape(ctx.shape(0), ctx.shape(1)))


@shape_rule("MatMulInteger")
def _matmul_integer_shape(ctx: RuleContext):
    return T("int32", matmul_shape(ctx.shape(0), ctx.shape(1)))


@shape_rule("QLinearMatMul")
def _qlinear_matmul_shape(ctx: RuleContext):
    return T(ctx.elem(7), matmul_shape(ctx.shape(0), ctx.shape(3)))


@shape_rule("Gemm")
def _gemm_rule(ctx: RuleContext):
    return T(ctx.elem(0), gemm_shape(ctx))


@shape_rule("Einsum")
def _einsum_shape(ctx: RuleContext):
    eq = ctx.attr("equation", "").replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    shapes = [ctx.shape(i) for i in range(len(terms))]
    elem = ctx.elem(0)
    if any(s is None for s in shapes):
        return T(elem, None)
    sizes: dict[str, DimLike] = {}
    ell: tuple = ()
    for term, shape in zip(terms, shapes):
        letters = term.replace("...", ".")
        n_ell = len(shape) - (len(letters) - letters.count("."))
        k = 0
        for ch in letters:
            if ch == ".":
                ell = broadcast_shapes(ell, tuple(shape[k : k + n_ell]))
                k += n_ell
            else:
                d = shape[k]
                prev = sizes.get(ch)
                sizes[ch] = d if prev is None or prev == 1 else prev
                if (
                    isinstance(prev, int)
                    and isinstance(d, int)
                    and prev != d
                    and 1 not in (prev, d)
                ):
                    raise RuleError(f"Einsum label '{ch}' has sizes {prev} and {d}")
                k += 1
    if not arrow:
        counts = {ch: lhs.count(ch) for ch in set(lhs) if ch in string.ascii_letters}
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c, n in counts.items() if n == 1)
        )
    out: list = []
    for ch in rhs.replace("...", "."):
        out.extend(ell if ch == "." else (sizes[ch],))
    return T(elem, out)
