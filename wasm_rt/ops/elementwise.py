"""Elementwise math, comparison, logic and bit kernels.

Ops whose kernels differ only in the numpy function they apply are kept in
tables and registered from them; the table is the single list of those ops.
Every kernel returns a real ndarray in its input's dtype: ufuncs on 0-d arrays
return numpy scalars, and numpy must never upcast (float32 stays float32).
"""

from __future__ import annotations

import functools

import numpy as np

from ..registry import register, shape_rule
from ..shape_rules import (
    broadcast,
    broadcast_rule,
    compare,
    same_shape,
    same_shape_elem,
    unary,
)
from ._special import erf


def _errstate_ignored(fn):
    """Division by zero, overflow and NaN are defined results here, not warnings."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return wrapper


def _same_dtype_scalar(x: np.ndarray, value) -> np.ndarray:
    """An attribute value as a 0-d array of x's dtype, so it cannot upcast x."""
    return np.asarray(value, dtype=x.dtype)


# --- unary -------------------------------------------------------------------


def _unary_kernel(fn):
    # consumed_inputs is an opset-1 memory hint with no effect on results.
    @_errstate_ignored
    def kernel(x, *, consumed_inputs=None):
        return np.asarray(fn(x))

    kernel.__name__ = getattr(fn, "__name__", "unary")
    return kernel


# op -> (first opset, numpy function). Later versions only add dtypes.
UNARY = {
    "Abs": (1, np.abs),
    "Neg": (1, np.negative),
    "Exp": (1, np.exp),
    "Log": (1, np.log),
    "Sqrt": (1, np.sqrt),
    "Reciprocal": (1, np.reciprocal),
    "Floor": (1, np.floor),
    "Ceil": (1, np.ceil),
    "Round": (11, np.rint),  # half to even, as ONNX specifies
    "Sign": (9, np.sign),
    "Sin": (7, np.sin),
    "Cos": (7, np.cos),
    "Tan": (7, np.tan),
    "Asin": (7, np.arcsin),
    "Acos": (7, np.arccos),
    "Atan": (7, np.arctan),
    "Sinh": (9, np.sinh),
    "Cosh": (9, np.cosh),
    "Asinh": (9, np.arcsinh),
    "Acosh": (9, np.arccosh),
    "Atanh": (9, np.arctanh),
    "Erf": (9, erf),
    "IsNaN": (9, np.isnan),
    "Not": (1, np.logical_not),
    "BitwiseNot": (18, np.invert),
}

for _op, (_since, _fn) in UNARY.items():
    register(_op, since=_since)(_unary_kernel(_fn))


@register("IsInf", since=10)
def is_inf(x, *, detect_negative=1, detect_positive=1):
    pos = np.isposinf(x) if detect_positive else np.zeros(x.shape, bool)
    neg = np.isneginf(x) if detect_negative else np.zeros(x.shape, bool)
    return pos | neg


# --- binary ------------------------------------------------------------------


def _div(a, b):
    if a.dtype.kind in "iu":
        # ONNX integer division truncates toward zero (C), numpy floors.
        q = np.floor_divide(a, b)
        if a.dtype.kind == "i":
            inexact = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
            q = q + inexact.astype(q.dtype)
        return q
    return np.true_divide(a, b)


def _pow(a, b):
    if a.dtype == b.dtype and a.dtype.kind == "f":
        return np.power(a, b)
    # onnxruntime evaluates mixed or integer Pow as std::pow in double and
    # casts back to the base's type (so 2 ** -1 == 0 for ints).
    wide = np.result_type(a.dtype, b.dtype, np.float64)
    return np.power(a.astype(wide), b.astype(wide)).astype(a.dtype)


def _check_same_dtype(op_type, a, b):
    if a.dtype != b.dtype:
        raise TypeError(
            f"{op_type} needs both inputs of one type, got {a.dtype} and {b.dtype}"
        )


def _legacy_broadcast(a, b, broadcast, axis):
    """Opset < 7 broadcasting: B's shape matches a contiguous run of A's dims at axis."""
    if not broadcast or b.ndim == a.ndim:
        return b
    if axis is None:
        axis = a.ndim - b.ndim
    axis = axis % a.ndim if a.ndim else 0
    return b.reshape(b.shape + (1,) * (a.ndim - axis - b.ndim))


def _binary_kernels(op_type, fn, same_dtype=True):
    """The opset-7 numpy-broadcasting kernel and the legacy broadcast/axis one."""

    @_errstate_ignored
    def kernel(a, b):
        if same_dtype:
            _check_same_dtype(op_type, a, b)
        return np.asarray(fn(a, b))

    @_errstate_ignored
    def legacy_kernel(a, b, *, broadcast=0, axis=None, consumed_inputs=None):
        if same_dtype:
            _check_same_dtype(op_type, a, b)
        return np.asarray(fn(a, _legacy_broadcast(a, b, broadcast, axis)))

    kernel.__name__ = legacy_kernel.__name__ = op_type.lower()
    return kernel, legacy_kernel


# op -> (legacy since, numpy-broadcasting since, function, inputs share a type)
BINARY = {
    "Add": (1, 7, np.add, True),
    "Sub": (1, 7, np.subtract, True),
    "Mul": (1, 7, np.multiply, True),
    "Div": (1, 7, _div, True),
    "Pow": (1, 7, _pow, False),
    "Equal": (1, 7, np.equal, True),
    "Less": (1, 7, np.less, True),
    "Greater": (1, 7, np.greater, True),
    "And": (1, 7, np.logical_and, True),
    "Or": (1, 7, np.logical_or, True),
    "Xor": (1, 7, np.logical_xor, True),
}

for _op, (_legacy_since, _since, _fn, _same) in BINARY.items():
    _kernel, _legacy = _binary_kernels(_op, _fn, _same)
    register(_op, since=_legacy_since)(_legacy)
    register(_op, since=_since)(_kernel)

# Ops that were born with numpy broadcasting.
BROADCASTING = {
    "LessOrEqual": (12, np.less_equal),
    "GreaterOrEqual": (12, np.greater_equal),
    "BitwiseAnd": (18, np.bitwise_and),
    "BitwiseOr": (18, np.bitwise_or),
    "BitwiseXor": (18, np.bitwise_xor),
}

for _op, (_since, _fn) in BROADCASTING.items():
    register(_op, since=_since)(_binary_kernels(_op, _fn)[0])


@register("Mod", since=10)
@_errstate_ignored
def mod(a, b, *, fmod=0):
    _check_same_dtype("Mod", a, b)
    if not fmod and a.dtype.kind == "f":
        raise ValueError(
            "Mod with fmod=0 is defined for floats only from opset 28; set fmod=1"
        )
    return mod_28(a, b, fmod=fmod)


@register("Mod", since=28)
@_errstate_ignored
def mod_28(a, b, *, fmod=0):
    _check_same_dtype("Mod", a, b)
    if fmod:
        return np.asarray(np.fmod(a, b))
    # fmod=0 is Python's %: the remainder takes the divisor's sign.
    return np.asarray(np.mod(a, b))


@register("BitShift", since=11)
def bit_shift(x, y, *, direction=""):
    _check_same_dtype("BitShift", x, y)
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction == "LEFT":
        return np.asarray(np.left_shift(x, y))
    if direction == "RIGHT":
        return np.asarray(np.right_shift(x, y))
    raise ValueError(f"BitShift direction must be 'LEFT' or 'RIGHT', got {direction!r}")


# --- variadic ----------------------------------------------------------------


def _variadic(op_type, inputs):
    inputs = [x for x in inputs if x is not None]
    if not inputs:
        raise ValueError(f"{op_type} needs at least one input")
    dtypes = {x.dtype for x in inputs}
    if len(dtypes) > 1:
        raise TypeError(
            f"{op_type} inputs must share one type, got {sorted(map(str, dtypes))}"
        )
    return inputs


# op -> reducing ufunc. Opsets < 8 required equal shapes; broadcasting is a
# superset, so one kernel serves every version.
VARIADIC = {"Max": np.maximum, "Min": np.minimum, "Sum": np.add}


def _variadic_kernel(op_type, ufunc):
    @_errstate_ignored
    def kernel(*inputs, consumed_inputs=None):
        inputs = _variadic(op_type, inputs)
        return np.asarray(functools.reduce(ufunc, inputs)).copy()

    kernel.__name__ = op_type.lower()
    return kernel


for _op, _ufunc in VARIADIC.items():
    register(_op, since=1)(_variadic_kernel(_op, _ufunc))


@register("Mean", since=1)
@_errstate_ignored
def mean(*inputs, consumed_inputs=None):
    inputs = _variadic("Mean", inputs)
    total = functools.reduce(np.add, inputs)
    return np.asarray(total / _same_dtype_scalar(inputs[0], len(inputs)))


# --- selection ---------------------------------------------------------------


@register("Where", since=9)
def where(condition, x, y):
    _check_same_dtype("Where", x, y)
    return np.where(condition.astype(bool, copy=False), x, y)


def _clip(x, lo, hi):
    out = x
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        # Applied last so min > max yields max everywhere, as ONNX specifies.
        out = np.minimum(out, hi)
    return np.array(out, copy=True)


_FLT_MAX = float(np.finfo(np.float32).max)


@register("Clip", since=1)
def clip_attrs(x, *, min=-_FLT_MAX, max=_FLT_MAX, consumed_inputs=None):
    # Float attributes are float32 in ONNX; widen that value, not the literal.
    lo, hi = np.float32(min), np.float32(max)
    return _clip(x, _same_dtype_scalar(x, lo), _same_dtype_scalar(x, hi))


def _clip_bound(x, bound, name):
    if bound is None:
        return None
    bound = np.asarray(bound)
    if bound.size != 1:
        raise ValueError(f"Clip {name} must be a scalar, got shape {bound.shape}")
    if bound.dtype != x.dtype:
        raise TypeError(f"Clip {name} has type {bound.dtype} but input has {x.dtype}")
    return bound.reshape(())


@register("Clip", since=11)
def clip(x, min=None, max=None):
    return _clip(x, _clip_bound(x, min, "min"), _clip_bound(x, max, "max"))


# --- shape rules -----------------------------------------------------------

_COMPARISONS = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"}

for _op in UNARY:
    shape_rule(_op)(same_shape_elem("bool") if _op in ("IsNaN", "Not") else unary)
for _op, (_legacy_since, _since, _fn, _same) in BINARY.items():
    _cmp = _op in _COMPARISONS
    # Before opset 7 B broadcasts into A's shape (the broadcast/axis attributes).
    shape_rule(_op, since=_legacy_since)(same_shape_elem("bool") if _cmp else same_shape)
    shape_rule(_op, since=_since)(compare if _cmp else broadcast)
for _op in BROADCASTING:
    shape_rule(_op)(compare if _op in _COMPARISONS else broadcast)
shape_rule(tuple(VARIADIC) + ("Mean", "Mod", "BitShift"))(broadcast)
shape_rule("Where")(broadcast_rule(elem_from=1))
shape_rule("IsInf")(same_shape_elem("bool"))
shape_rule("Clip")(unary)
