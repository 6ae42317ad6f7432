"""Shape rule helpers and the rules of the tensor-manipulation and elementwise ops.

A rule is ``rule(ctx: RuleContext) -> ValueType | list[ValueType | None]``
(see :mod:`wasm_rt.shape_inference`); it may record an output's contents with
``ctx.set_value`` so shape computations propagate (``Shape -> Gather ->
Concat -> Reshape``).  A rule raises :class:`RuleError` for inputs it finds
inconsistent and returns None (or a ValueType with shape None) for what it
cannot know.  The helpers here (``same_shape``, ``broadcast``, ``reduce`` ...)
are what most ops register with; the other rule modules import them.
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from . import symbolic as sy
from .registry import shape_rule
from .shape_inference import RuleContext, RuleError, ValueType, as_dim, known_array
from .symbolic import DimLike

INT64 = "int64"
BIG = 2**62  # "to the end" markers in Slice (INT64_MAX and friends)


def T(elem: str, shape) -> ValueType:
    return ValueType(elem, None if shape is None else tuple(as_dim(d) for d in shape))


def type_of_code(code: int) -> str:
    name = dtypes.type_name(int(code))
    return "unknown" if name.startswith("<") else name


def norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise RuleError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def numel(shape) -> DimLike:
    n: DimLike = 1
    for d in shape:
        n = sy.mul(n, d)
    return n


# --- generic rules --------------------------------------------------------------


def same_shape(ctx: RuleContext):
    """One output shaped and typed like input 0."""
    vt = ctx.input(0)
    return [vt] + [vt] * (ctx.num_outputs - 1) if vt is not None else None


def same_shape_elem(elem: str):
    """Output shaped like input 0 with element type ``elem``."""

    def rule(ctx: RuleContext):
        return T(elem, ctx.shape(0))

    return rule


def broadcast_dims(a: DimLike, b: DimLike) -> DimLike:
    if a == 1:
        return b
    if b == 1 or a == b:
        return a
    if isinstance(a, int) and isinstance(b, int):
        raise RuleError(f"dims {a} and {b} do not broadcast")
    if isinstance(a, int):
        return a
    if isinstance(b, int):
        return b
    return sy.dmax(a, b)


def broadcast_shapes(*shapes) -> tuple | None:
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(rank):
        d: DimLike = 1
        for s in shapes:
            i = k - (rank - len(s))
            if i >= 0:
                d = broadcast_dims(d, s[i])
        out.append(d)
    return tuple(out)


_NUMERIC_FNS = {
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Div": lambda a, b: np.vectorize(
        lambda x, y: (
            sy.floordiv(x, y)
            if not isinstance(x, float) and not isinstance(y, float)
            else x / y
        ),
        otypes=[object],
    )(a, b),
    "Max": lambda a, b: np.vectorize(sy.dmax, otypes=[object])(a, b),
    "Min": lambda a, b: np.vectorize(sy.dmin, otypes=[object])(a, b),
}


_COMPARE_FNS = {
    "Equal": np.equal,
    "Less": np.less,
    "Greater": np.greater,
    "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal,
    "And": np.logical_and,
    "Or": np.logical_or,
    "Xor": np.logical_xor,
}


def _dims_equal(a, b) -> bool | None:
    """Whether two dims are equal whatever the symbols are bound to; None if that depends."""
    if isinstance(a, sy.Dim) or isinstance(b, sy.Dim):
        if a == b:
            return True
        other = b if isinstance(a, sy.Dim) else a
        return False if isinstance(other, int) and other < 0 else None
    return a == b


def _propagate(ctx: RuleContext, elem: str, vals: list[np.ndarray]) -> None:
    """Contents of small integer results (shape arithmetic), symbolic dims included."""
    op = ctx.node.op_type
    concrete = all(v.dtype != object for v in vals)
    if op == "Where":
        ctx.set_value(0, np.where(vals[0].astype(bool), vals[1], vals[2]))
    elif op == "Equal" and not concrete:
        x, y = np.broadcast_arrays(*vals)
        eq = [
            _dims_equal(p, q)
            for p, q in zip(x.reshape(-1).tolist(), y.reshape(-1).tolist())
        ]
        if None not in eq:
            ctx.set_value(0, np.array(eq, dtype=bool).reshape(x.shape))
    elif op in _COMPARE_FNS and concrete:
        ctx.set_value(0, _COMPARE_FNS[op](*vals))
    elif op in _NUMERIC_FNS and elem.startswith(("int", "uint")):
        acc = vals[0].astype(object)
        for v in vals[1:]:
            acc = _NUMERIC_FNS[op](acc, v.astype(object))
        ctx.set_value(0, acc)


def broadcast_rule(
    elem_from: int | None = 0, out_elem: str | None = None, inputs: slice | None = None
):
    """Inputs broadcast together; element type of input ``elem_from`` or ``out_elem``."""

    def rule(ctx: RuleContext):
        idx = (
            range(len(ctx.inputs))[inputs]
            if inputs is not None
            else range(len(ctx.inputs))
        )
        shapes = [ctx.shape(i) for i in idx if ctx.has(i)]
        elem = out_elem or ctx.elem(elem_from)
        out = T(elem, broadcast_shapes(*shapes))
        vals = [ctx.value(i) for i in idx if ctx.has(i)]
        if vals and all(v is not None for v in vals):
            _propagate(ctx, elem, vals)
        return out

    return rule


broadcast = broadcast_rule()
compare = broadcast_rule(out_elem="bool")


def reduce_shape(shape, axes, keepdims: bool):
    if shape is None:
        return None
    rank = len(shape)
    axes = {norm_axis(a, rank) for a in axes} if axes is not None else set(range(rank))
    return tuple(
        (1 if keepdims else None) if k in axes else d
        for k, d in enumerate(shape)
        if keepdims or k not in axes
    )


def reduce_rule(axes_input_since: int, out_elem: str | None = None):
    """Reductions: axes from the attribute, or from input 1 from ``axes_input_since``."""

    def rule(ctx: RuleContext):
        keep = bool(ctx.attr("keepdims", 1))
        shape = ctx.shape(0)
        elem = out_elem or ctx.elem(0)
        if ctx.opset >= axes_input_since:
            if ctx.has(1):
                axes = ctx.ints(1)
                if axes is None:
                    if shape is None:
                        return T(elem, None)
                    if keep:
                        return T(elem, [d if d == 1 else ctx.fresh() for d in shape])
                    n = ctx.shape(1)
                    if n is not None and isinstance(n[0], int):
                        return T(elem, ctx.fresh_shape(len(shape) - n[0]))
                    return T(elem, None)
            else:
                axes = None
            if not axes and ctx.attr("noop_with_empty_axes", 0):
                return T(elem, shape)
        else:
            axes = ctx.attr("axes")
        if shape is not None and axes is not None and not axes:
            axes = None
        v = ctx.value(0)
        if (
            v is not None
            and v.ndim == 1
            and ctx.node.op_type in ("ReduceProd", "ReduceSum")
        ):
            # Element counts from shapes: ReduceProd(Shape(x)[k:]).
            acc: DimLike = 1 if ctx.node.op_type == "ReduceProd" else 0
            for d in v.tolist():
                acc = (sy.mul if ctx.node.op_type == "ReduceProd" else sy.add)(
                    acc, as_dim(d)
                )
            ctx.set_value(0, known_array([acc] if keep else acc))
        return T(elem, reduce_shape(shape, axes, keep))

    return rule


def matmul_shape(a, b):
    if a is None or b is None:
        return None
    if not a or not b:
        raise RuleError("MatMul inputs must have rank >= 1")
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    if isinstance(a2[-1], int) and isinstance(b2[-2], int) and a2[-1] != b2[-2]:
        raise RuleError(f"MatMul inner dims differ: {list(a)} x {list(b)}")
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    out = batch + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


# --- unary ops of other modules ------------------------------------------------

# The unary ops of other modules (elementwise.py registers its own tables' rules).


def unary(ctx: RuleContext):
    """Shaped and typed like input 0; Identity/Neg/Abs carry small values along."""
    vt = ctx.input(0)
    op = ctx.node.op_type
    if op == "Det" and vt is not None and vt.shape is not None:
        return T(vt.elem_type, vt.shape[:-2])
    if (
        op in ("RandomNormalLike", "RandomUniformLike", "EyeLike")
        and "dtype" in ctx.attrs
    ):
        return T(type_of_code(ctx.attr("dtype")), ctx.shape(0))
    v = ctx.value(0)
    if v is not None and op in ("Identity", "Neg", "Abs"):
        if op == "Identity":
            ctx.set_value(0, v)
        elif v.dtype != object or op == "Neg":
            ctx.set_value(0, -v if op == "Neg" else np.abs(v))
    return vt


shape_rule("PRelu")(broadcast)
shape_rule("Dropout")(lambda ctx: [ctx.input(0), T("bool", ctx.shape(0))])
shape_rule("Bernoulli")(
    lambda ctx: T(
        type_of_code(ctx.attr("dtype")) if "dtype" in ctx.attrs else ctx.elem(0),
        ctx.shape(0),
    )
)


# --- casts and constants ---------------------------------------------------------


def _array_type(arr) -> tuple[str, tuple]:
    from .shape_inference import type_name_of

    if isinstance(arr, np.ndarray):
        return type_name_of(arr.dtype), arr.shape
    return type_name_of(getattr(arr, "dtype", None)), tuple(getattr(arr, "shape", ()))


# The other rule modules register on import; they import the helpers above.
from . import (  # noqa: F401
    shape_rules_contrib,
    shape_rules_graph,
    shape_rules_nn,
)
