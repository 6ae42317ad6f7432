"""Shape rules of the tensor-manipulation ops: reshapes, Concat/Split/Slice,
gathers, Expand/Tile/Pad, Range, TopK, NonZero/Unique, reductions and Einsum."""

from __future__ import annotations

import string

from .registry import shape_rule
from .shape_inference import RuleContext, RuleError
from .shape_rules import (
    INT64,
    T,
    broadcast_shapes,
    norm_axis,
    reduce_rule,
    reduce_shape,
)
from .symbolic import DimLike

# --- reshaping -------------------------------------------------------------------


@shape_rule("TopK")
def _topk(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return [T(ctx.elem(0), None), T(INT64, None)]
    axis = norm_axis(ctx.attr("axis", -1), len(shape))
    if ctx.opset >= 10:
        k = ctx.dims(1)
        kd = k[0] if k else ctx.fresh()
    else:
        kd = ctx.attr("k")
    out = shape[:axis] + (kd,) + shape[axis + 1 :]
    return [T(ctx.elem(0), out), T(INT64, out)]


@shape_rule(("ArgMax", "ArgMin"))
def _argmax(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return T(INT64, None)
    axis = ctx.attr("axis", 0)
    return T(INT64, reduce_shape(shape, [axis], bool(ctx.attr("keepdims", 1))))


for _op, _since in (
    ("ReduceSum", 13),
    ("ReduceMean", 18),
    ("ReduceMax", 18),
    ("ReduceMin", 18),
    ("ReduceProd", 18),
    ("ReduceL1", 18),
    ("ReduceL2", 18),
    ("ReduceLogSum", 18),
    ("ReduceLogSumExp", 18),
    ("ReduceSumSquare", 18),
):
    shape_rule(_op)(reduce_rule(_since))


# --- Einsum ------------------------------------------------------------------------


@shape_rule("Einsum")
def _einsum(ctx: RuleContext):
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
