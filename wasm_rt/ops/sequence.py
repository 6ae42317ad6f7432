"""Sequence and optional kernels.

A sequence is a Python list of numpy arrays; an optional is ``None`` or its
value. Kernels never mutate a sequence they receive: the executor may hand the
same list to several consumers.
"""

from __future__ import annotations

import numpy as np

from ..registry import register, shape_rule
from ..shape_inference import RuleContext, ValueType
from ..shape_rules import INT64, T, type_of_code
from ._common import as_int_list, normalize_axis
from .shape import split_sizes


def _position(seq: list, position, what: str, insert: bool = False) -> int:
    """A possibly negative sequence position, checked (insert may address the end)."""
    n = len(seq)
    pos = int(np.asarray(position).reshape(-1)[0])
    hi = n if insert else n - 1
    if not -n <= pos <= hi:
        raise ValueError(
            f"{what}: position {pos} is out of range for a sequence of length {n}"
        )
    return pos + n if pos < 0 else pos


def _check_sequence(seq, what: str) -> list:
    if not isinstance(seq, list):
        raise TypeError(f"{what}: expected a sequence, got {type(seq).__name__}")
    return seq


@register("SequenceEmpty", since=11)
def sequence_empty(*, dtype=None):
    return []


@register("SequenceConstruct", since=11)
def sequence_construct(*inputs):
    if inputs and len({t.dtype for t in inputs}) > 1:
        raise ValueError(
            f"SequenceConstruct: inputs have different dtypes {[str(t.dtype) for t in inputs]}"
        )
    return list(inputs)


@register("SequenceInsert", since=11)
def sequence_insert(seq, tensor, position=None):
    seq = _check_sequence(seq, "SequenceInsert")
    if seq and seq[0].dtype != tensor.dtype:
        raise ValueError(
            f"SequenceInsert: tensor dtype {tensor.dtype} differs from the sequence's "
            f"{seq[0].dtype}"
        )
    pos = (
        len(seq)
        if position is None
        else _position(seq, position, "SequenceInsert", True)
    )
    return seq[:pos] + [tensor] + seq[pos:]


@register("SequenceAt", since=11)
def sequence_at(seq, position):
    seq = _check_sequence(seq, "SequenceAt")
    return seq[_position(seq, position, "SequenceAt")]


@register("SequenceErase", since=11)
def sequence_erase(seq, position=None):
    seq = _check_sequence(seq, "SequenceErase")
    if not seq:
        raise ValueError("SequenceErase: the sequence is empty")
    pos = (
        len(seq) - 1 if position is None else _position(seq, position, "SequenceErase")
    )
    return seq[:pos] + seq[pos + 1 :]


@register("SequenceLength", since=11)
def sequence_length(seq):
    return np.array(len(_check_sequence(seq, "SequenceLength")), dtype=np.int64)


@register("SplitToSequence", since=11)
def split_to_sequence(x, split=None, *, axis=0, keepdims=1):
    if x.ndim == 0:  # normalize_axis lets axis 0 through for a scalar
        raise ValueError("SplitToSequence: input must have rank >= 1, got a scalar")
    axis = normalize_axis(axis, x.ndim)
    dim = x.shape[axis]
    if split is None:
        parts = np.split(x, dim, axis=axis) if dim else []
        return [np.squeeze(p, axis) for p in parts] if not keepdims else parts
    split = np.asarray(split)
    if split.ndim == 0:
        chunk = int(split)
        if chunk <= 0:
            raise ValueError(f"SplitToSequence: split must be positive, got {chunk}")
        # Equal chunks with a shorter last one when dim is not a multiple.
        sizes = (
            split_sizes(dim, -(-dim // chunk), "SplitToSequence", uneven=True)
            if dim
            else []
        )
    else:
        sizes = as_int_list(split)
        if any(s < 0 for s in sizes) or sum(sizes) != dim:
            raise ValueError(
                f"SplitToSequence: split sizes {sizes} do not add up to dimension {dim}"
            )
    return list(np.split(x, np.cumsum(sizes)[:-1], axis=axis)) if sizes else []


@register("ConcatFromSequence", since=11)
def concat_from_sequence(seq, *, axis, new_axis=0):
    seq = _check_sequence(seq, "ConcatFromSequence")
    if not seq:
        raise ValueError("ConcatFromSequence: the sequence is empty")
    if new_axis:
        return np.stack(seq, axis=normalize_axis(axis, seq[0].ndim + 1))
    return np.concatenate(seq, axis=normalize_axis(axis, seq[0].ndim))


@register("SequenceMap", since=17, context=True)
def sequence_map(ctx, seq, *extra, body):
    """Runs ``body`` once per sequence position; sequence inputs are indexed alongside."""
    if ctx.run_subgraph is None:
        raise ValueError("SequenceMap: this executor cannot run subgraphs")
    seq = _check_sequence(seq, "SequenceMap")
    for e in extra:
        if isinstance(e, list) and len(e) != len(seq):
            raise ValueError(
                f"SequenceMap: additional sequence of length {len(e)} vs {len(seq)}"
            )
    results: list[list] = [[] for _ in range(ctx.num_outputs)]
    for i, item in enumerate(seq):
        args = [item] + [e[i] if isinstance(e, list) else e for e in extra]
        outs = ctx.run_subgraph(body, args)
        for acc, out in zip(results, outs):
            acc.append(out)
    return tuple(results)


# --- Optional ----------------------------------------------------------------


@register("Optional", since=15)
def optional(x=None, *, type=None):
    if x is None and type is None:
        raise ValueError("Optional: an empty optional needs the 'type' attribute")
    return x


@register("OptionalHasElement", since=15)
def optional_has_element(x=None):
    return np.array(x is not None)


@register("OptionalGetElement", since=15)
def optional_get_element(x):
    if x is None:
        raise ValueError("OptionalGetElement: the optional is empty")
    return x


# --- shape rules -----------------------------------------------------------


def _seq_of(vt: ValueType | None) -> str:
    return (
        f"seq({vt.type_string})"
        if vt is not None and vt.elem_type != "unknown"
        else "unknown"
    )


def _seq_elem(vt: ValueType | None) -> str:
    """'float' from 'seq(tensor(float))'."""
    if vt is None or not vt.elem_type.startswith("seq(tensor("):
        return "unknown"
    return vt.elem_type[len("seq(tensor(") : -2]


@shape_rule("SequenceEmpty")
def _seq_empty_shape(ctx: RuleContext):
    elem = type_of_code(ctx.attr("dtype")) if ctx.attr("dtype") is not None else "float"
    return ValueType(f"seq(tensor({elem}))", None)


@shape_rule("SequenceConstruct")
def _seq_construct_shape(ctx: RuleContext):
    return ValueType(_seq_of(ctx.input(0)), None)


@shape_rule(("SequenceInsert", "SequenceErase"))
def _seq_same_shape(ctx: RuleContext):
    vt = ctx.input(0)
    return vt if vt is not None else ValueType(_seq_of(ctx.input(1)), None)


@shape_rule("SequenceAt")
def _seq_at_shape(ctx: RuleContext):
    return ValueType(_seq_elem(ctx.input(0)), None)


@shape_rule("SequenceLength")
def _seq_length_shape(ctx: RuleContext):
    return T(INT64, ())


@shape_rule("SplitToSequence")
def _split_to_seq_shape(ctx: RuleContext):
    return ValueType(_seq_of(ctx.input(0)), None)


@shape_rule("ConcatFromSequence")
def _concat_from_seq_shape(ctx: RuleContext):
    return ValueType(_seq_elem(ctx.input(0)), None)


@shape_rule("SequenceMap")
def _seq_map_shape(ctx: RuleContext):
    body = ctx.attr("body")
    ins = []
    for i in range(len(ctx.inputs)):
        vt = ctx.input(i)
        ins.append(
            ValueType(_seq_elem(vt), None)
            if vt is not None and vt.elem_type.startswith("seq(")
            else vt
        )
    outs = ctx.infer_subgraph(body, ins)
    return [ValueType(_seq_of(vt), None) for vt in outs]


@shape_rule("Optional")
def _optional_shape(ctx: RuleContext):
    vt = ctx.input(0)
    if vt is None:
        return ValueType("unknown", None)
    return ValueType(f"optional({vt.type_string})", None)


@shape_rule("OptionalHasElement")
def _opt_has_shape(ctx: RuleContext):
    return T("bool", ())


@shape_rule("OptionalGetElement")
def _opt_get_shape(ctx: RuleContext):
    vt = ctx.input(0)
    if vt is None:
        return None
    inner = vt.elem_type
    if inner.startswith("optional(") and inner.endswith(")"):
        inner = inner[len("optional(") : -1]
        if inner.startswith("tensor("):
            return ValueType(inner[len("tensor(") : -1], None)
        return ValueType(inner, None)
    return vt
