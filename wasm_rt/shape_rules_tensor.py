"""Shape rules of the tensor-manipulation ops: reshapes, Concat/Split/Slice,
gathers, Expand/Tile/Pad, Range, TopK, NonZero/Unique, reductions and Einsum."""

from __future__ import annotations

import string

import numpy as np

from . import symbolic as sy
from .registry import shape_rule
from .shape_inference import RuleContext, RuleError
from .shape_rules import (
    BIG,
    INT64,
    T,
    broadcast_shapes,
    norm_axis,
    numel,
    reduce_rule,
    reduce_shape,
)
from .symbolic import DimLike

# --- reshaping -------------------------------------------------------------------


@shape_rule("Reshape", since=5)
def _reshape(ctx: RuleContext):
    elem, shape = ctx.elem(0), ctx.shape(0)
    target = ctx.dims(1)
    if target is None:
        n = ctx.shape(1)
        return T(elem, ctx.fresh_shape(n[0]) if n and isinstance(n[0], int) else None)
    allowzero = ctx.attr("allowzero", 0)
    out: list = []
    unknown = None
    for k, d in enumerate(target):
        if d == 0 and not allowzero:
            if shape is None or k >= len(shape):
                out.append(ctx.fresh())
            else:
                out.append(shape[k])
        elif d == -1:
            if unknown is not None:
                raise RuleError("Reshape shape has more than one -1")
            unknown = k
            out.append(None)
        else:
            out.append(d)
    if unknown is not None:
        if shape is None:
            out[unknown] = ctx.fresh()
        else:
            rest = numel([d for d in out if d is not None])
            total = numel(shape)
            if (
                isinstance(rest, int)
                and isinstance(total, int)
                and rest
                and total % rest
            ):
                raise RuleError(f"cannot reshape {list(shape)} into {target}")
            out[unknown] = sy.floordiv(total, rest) if rest != 0 else 0
    elif shape is not None:
        a, b = numel(shape), numel(out)
        if isinstance(a, int) and isinstance(b, int) and a != b:
            raise RuleError(
                f"cannot reshape {list(shape)} ({a} elements) into {target}"
            )
    if ctx.value(0) is not None and all(isinstance(d, int) for d in out):
        ctx.set_value(0, ctx.value(0).reshape(out))
    return T(elem, out)


@shape_rule("Reshape", since=1)
def _reshape_1(ctx: RuleContext):
    shape = ctx.attr("shape")
    src = ctx.shape(0)
    out = []
    for k, d in enumerate(shape or []):
        out.append(src[k] if d == 0 and src is not None else d)
    if -1 in out and src is not None:
        rest = numel([d for d in out if d != -1])
        out[out.index(-1)] = sy.floordiv(numel(src), rest)
    return T(ctx.elem(0), [ctx.fresh() if d == -1 else d for d in out])


@shape_rule("Flatten")
def _flatten(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return T(ctx.elem(0), (ctx.fresh(), ctx.fresh()))
    axis = ctx.attr("axis", 1)
    axis = axis + len(shape) if axis < 0 else axis
    return T(ctx.elem(0), (numel(shape[:axis]), numel(shape[axis:])))


def _axes(ctx: RuleContext, since_input: int) -> list[int] | None | str:
    if ctx.opset >= since_input:
        if not ctx.has(1):
            return "none"
        return ctx.ints(1)
    a = ctx.attr("axes")
    return "none" if a is None else list(a)


@shape_rule("Squeeze")
def _squeeze(ctx: RuleContext):
    shape = ctx.shape(0)
    axes = _axes(ctx, 13)
    if shape is None or axes is None:
        return T(ctx.elem(0), None)
    if axes == "none":
        if not all(isinstance(d, int) for d in shape):
            return T(ctx.elem(0), None)
        keep = [d for d in shape if d != 1]
        out = keep
    else:
        ax = {norm_axis(a, len(shape)) for a in axes}
        for a in ax:
            if isinstance(shape[a], int) and shape[a] != 1:
                raise RuleError(f"cannot squeeze axis {a} of size {shape[a]}")
        out = [d for k, d in enumerate(shape) if k not in ax]
    v = ctx.value(0)
    if v is not None:
        ctx.set_value(
            0,
            v.reshape([int(d) for d in out])
            if all(isinstance(d, int) for d in out)
            else v.reshape(-1),
        )
    return T(ctx.elem(0), out)


@shape_rule("Unsqueeze")
def _unsqueeze(ctx: RuleContext):
    shape = ctx.shape(0)
    axes = _axes(ctx, 13)
    if axes == "none":
        raise RuleError("Unsqueeze needs axes")
    if shape is None or axes is None:
        if shape is not None and ctx.shape(1) and isinstance(ctx.shape(1)[0], int):
            return T(ctx.elem(0), ctx.fresh_shape(len(shape) + ctx.shape(1)[0]))
        return T(ctx.elem(0), None)
    rank = len(shape) + len(axes)
    ax = sorted(norm_axis(a, rank) for a in axes)
    out: list = list(shape)
    for a in ax:
        out.insert(a, 1)
    v = ctx.value(0)
    if v is not None:
        ctx.set_value(0, v.reshape([int(d) for d in out]))
    return T(ctx.elem(0), out)


@shape_rule("Transpose")
def _transpose(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return T(ctx.elem(0), None)
    perm = ctx.attr("perm") or list(range(len(shape)))[::-1]
    if sorted(perm) != list(range(len(shape))):
        raise RuleError(f"perm {perm} is not a permutation of rank {len(shape)}")
    return T(ctx.elem(0), [shape[p] for p in perm])


@shape_rule("Concat")
def _concat(ctx: RuleContext):
    shapes = [ctx.shape(i) for i in range(len(ctx.inputs)) if ctx.has(i)]
    elem = next(
        (ctx.elem(i) for i in range(len(ctx.inputs)) if ctx.elem(i) != "unknown"),
        "unknown",
    )
    known = [s for s in shapes if s is not None]
    if not known:
        return T(elem, None)
    rank = len(known[0])
    if any(len(s) != rank for s in known):
        raise RuleError(
            f"Concat inputs have different ranks: {[len(s) for s in known]}"
        )
    axis = norm_axis(ctx.attr("axis", 0), rank)
    out: list = []
    for k in range(rank):
        if k == axis:
            if len(known) != len(shapes):
                out.append(ctx.fresh())
            else:
                total: DimLike = 0
                for s in known:
                    total = sy.add(total, s[k])
                out.append(total)
        else:
            dims = [s[k] for s in known]
            ints = {d for d in dims if isinstance(d, int)}
            if len(ints) > 1:
                raise RuleError(f"Concat inputs differ on axis {k}: {sorted(ints)}")
            out.append(ints.pop() if ints else dims[0])
    vals = [ctx.value(i) for i in range(len(ctx.inputs)) if ctx.has(i)]
    if all(v is not None for v in vals) and vals:
        ctx.set_value(0, np.concatenate([v.astype(object) for v in vals], axis=axis))
    return T(elem, out)


@shape_rule("Split")
def _split(ctx: RuleContext):
    shape = ctx.shape(0)
    n = ctx.num_outputs
    elem = ctx.elem(0)
    if shape is None:
        return [T(elem, None)] * n
    axis = norm_axis(ctx.attr("axis", 0), len(shape))
    if ctx.opset >= 13:
        split = ctx.ints(1) if ctx.has(1) else None
        if ctx.has(1) and split is None:
            return [
                T(elem, shape[:axis] + (ctx.fresh(),) + shape[axis + 1 :])
                for _ in range(n)
            ]
    else:
        split = ctx.attr("split")
    d = shape[axis]
    if split is None:
        if ctx.opset >= 18 and "num_outputs" in ctx.attrs:
            chunk = sy.ceildiv(d, n)
            sizes = [chunk] * (n - 1) + [sy.add(d, sy.neg(sy.mul(chunk, n - 1)))]
        else:
            if isinstance(d, int) and d % n:
                raise RuleError(f"cannot split {d} into {n} equal parts")
            sizes = [sy.floordiv(d, n)] * n
    else:
        sizes = list(split)
    return [T(elem, shape[:axis] + (s,) + shape[axis + 1 :]) for s in sizes]


def _slice_dim(d: DimLike, start: DimLike, end: DimLike, step: int) -> DimLike:
    if isinstance(d, int) and isinstance(start, int) and isinstance(end, int):
        return len(range(*slice(start, end, step).indices(d)))
    # Symbolic: clamp what we can; symbolic bounds are taken as in range.
    if step > 0:
        s = start if not isinstance(start, int) or start >= 0 else sy.add(d, start)
        if isinstance(end, int):
            e = d if end >= BIG else (sy.add(d, end) if end < 0 else sy.dmin(d, end))
        else:
            e = end
        if isinstance(s, int) and s == 0:
            length = e
        else:
            length = sy.add(e, sy.neg(s))
        return length if step == 1 else sy.ceildiv(length, step)
    if (
        isinstance(start, int)
        and start >= BIG - 1
        and isinstance(end, int)
        and end <= -BIG
    ):
        return sy.ceildiv(d, -step)
    return sy.sym("unk__slice")


@shape_rule("Slice", since=10)
def _slice(ctx: RuleContext):
    shape = ctx.shape(0)
    elem = ctx.elem(0)
    starts, ends = ctx.dims(1), ctx.dims(2)
    axes = ctx.ints(3) if ctx.has(3) else None
    steps = ctx.ints(4) if ctx.has(4) else None
    if shape is None:
        return T(elem, None)
    if (
        starts is None
        or ends is None
        or (ctx.has(3) and axes is None)
        or (ctx.has(4) and steps is None)
    ):
        n = ctx.shape(1)
        if axes is not None:
            touched = {norm_axis(a, len(shape)) for a in axes}
        elif n and n[0] == len(shape) or len(shape) == 1:
            touched = set(range(len(shape)))
        else:
            return T(elem, ctx.fresh_shape(len(shape)))
        return T(
            elem, [ctx.fresh() if k in touched else d for k, d in enumerate(shape)]
        )
    return _slice_apply(ctx, shape, elem, starts, ends, axes, steps)


def _slice_apply(ctx, shape, elem, starts, ends, axes, steps):
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    out = list(shape)
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = norm_axis(a, len(shape))
        if st == 0:
            raise RuleError("Slice step is 0")
        out[a] = _slice_dim(shape[a], s, e, st)
        if isinstance(out[a], sy.Dim) and "unk__slice" in out[a].symbols:
            out[a] = ctx.fresh()
    v = ctx.value(0)
    if v is not None and all(isinstance(x, int) for x in list(starts) + list(ends)):
        idx = [slice(None)] * v.ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            idx[norm_axis(a, v.ndim)] = slice(s, e, st)
        ctx.set_value(0, v[tuple(idx)])
    return T(elem, out)


@shape_rule("Slice", since=1)
def _slice_1(ctx: RuleContext):
    shape = ctx.shape(0)
    if shape is None:
        return T(ctx.elem(0), None)
    return _slice_apply(
        ctx,
        shape,
        ctx.elem(0),
        ctx.attr("starts"),
        ctx.attr("ends"),
        ctx.attr("axes"),
        None,
    )


@shape_rule("Expand")
def _expand(ctx: RuleContext):
    shape = ctx.shape(0)
    target = ctx.dims(1)
    if target is None:
        n = ctx.shape(1)
        if shape is not None and n and isinstance(n[0], int):
            # An input dim other than 1 survives whatever the target says there.
            r = max(len(shape), n[0])
            padded = (1,) * (r - len(shape)) + tuple(shape)
            return T(ctx.elem(0), [ctx.fresh() if d == 1 else d for d in padded])
        return T(ctx.elem(0), None)
    if shape is None:
        return T(ctx.elem(0), None)
    return T(ctx.elem(0), broadcast_shapes(shape, tuple(target)))


@shape_rule("Tile")
def _tile(ctx: RuleContext):
    shape = ctx.shape(0)
    reps = ctx.dims(1)
    if shape is None:
        return T(ctx.elem(0), None)
    if reps is None:
        return T(ctx.elem(0), ctx.fresh_shape(len(shape)))
    if len(reps) != len(shape):
        raise RuleError(f"Tile repeats {reps} do not match rank {len(shape)}")
    return T(ctx.elem(0), [sy.mul(d, r) for d, r in zip(shape, reps)])


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


@shape_rule("DepthToSpace")
def _depth_to_space(ctx: RuleContext):
    s = ctx.shape(0)
    b = ctx.attr("blocksize")
    if s is None or len(s) != 4:
        return T(ctx.elem(0), None)
    n, c, h, w = s
    return T(ctx.elem(0), (n, sy.floordiv(c, b * b), sy.mul(h, b), sy.mul(w, b)))


@shape_rule("SpaceToDepth")
def _space_to_depth(ctx: RuleContext):
    s = ctx.shape(0)
    b = ctx.attr("blocksize")
    if s is None or len(s) != 4:
        return T(ctx.elem(0), None)
    n, c, h, w = s
    return T(ctx.elem(0), (n, sy.mul(c, b * b), sy.floordiv(h, b), sy.floordiv(w, b)))


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
