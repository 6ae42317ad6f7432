"""Output sizes checked against the memory limit before a kernel runs.

Each plan step gets a checker once (:func:`compile_check`), chosen for what
the op can do to sizes:

- ops whose outputs are never larger than their inputs (elementwise unary
  math, reshapes, slices, reductions, normalizations ...) get none, so they
  cost nothing per run;
- broadcasting elementwise ops get a fast check that does nothing when the
  input shapes are equal and otherwise checks ``np.broadcast_shapes``;
- every other op with a shape rule runs its rule on the actual input shapes
  (and the contents of small integer inputs: Reshape/Expand/Tile/Pad shapes,
  Range bounds ...) and checks each output whose size that determines.

Data-dependent sizes (NonZero, Unique, StringSplit) are left to the kernels;
Loop/Scan check their stacked outputs as they grow (ops/control_flow.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .limits import check_alloc, current_limit
from .shape_inference import node_output_types, numpy_dtype, numpy_dtype_of_code

Checker = Callable[[Sequence[Any]], None]

# Outputs at most as large as the inputs (same or smaller element type, same or
# fewer elements): no check needed.
NO_GROWTH = frozenset(
    [
        "Abs",
        "Neg",
        "Exp",
        "Log",
        "Sqrt",
        "Reciprocal",
        "Floor",
        "Ceil",
        "Round",
        "Sign",
        "Sin",
        "Cos",
        "Tan",
        "Asin",
        "Acos",
        "Atan",
        "Sinh",
        "Cosh",
        "Tanh",
        "Asinh",
        "Acosh",
        "Atanh",
        "Erf",
        "Relu",
        "Sigmoid",
        "Softplus",
        "Softsign",
        "Elu",
        "Selu",
        "Celu",
        "LeakyRelu",
        "ThresholdedRelu",
        "HardSigmoid",
        "HardSwish",
        "Mish",
        "Gelu",
        "Shrink",
        "BitwiseNot",
        "Softmax",
        "LogSoftmax",
        "Hardmax",
        "Clip",
        "Trilu",
        "Swish",
        "LpNormalization",
        "MeanVarianceNormalization",
        "LRN",
        "InstanceNormalization",
        "CumSum",
        "CumProd",
        "ReverseSequence",
        "IsNaN",
        "IsInf",
        "Not",
        "Identity",
        "Reshape",
        "Flatten",
        "Squeeze",
        "Unsqueeze",
        "Transpose",
        "Shape",
        "Size",
        "Slice",
        "Split",
        "Dropout",
        "Constant",
        "ReduceSum",
        "ReduceMean",
        "ReduceMax",
        "ReduceMin",
        "ReduceProd",
        "ReduceL1",
        "ReduceL2",
        "ReduceLogSum",
        "ReduceLogSumExp",
        "ReduceSumSquare",
        "ArgMax",
        "ArgMin",
        "BatchNormalization",
        "LayerNormalization",
        "SimplifiedLayerNormalization",
        "RMSNormalization",
        "GroupNormalization",
        "SkipLayerNormalization",
        "SkipSimplifiedLayerNormalization",
        "QuantizeLinear",
        "DynamicQuantizeLinear",
        "FastGelu",
        "QuickGelu",
        "BiasGelu",
        "ScaledSiLU",
        "GlobalAveragePool",
        "GlobalMaxPool",
        "GlobalLpPool",
        "RotaryEmbedding",
        "ScatterElements",
        "ScatterND",
        "Scatter",
        "TensorScatter",
        "Optional",
        "OptionalGetElement",
        "OptionalHasElement",
        "SequenceLength",
        "SequenceAt",
    ]
)

# Subgraph ops: their bodies' nodes are steps of their own and checked there.
SUBGRAPH_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})

BROADCASTING = frozenset(
    [
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Pow",
        "Mod",
        "BitShift",
        "BitwiseAnd",
        "BitwiseOr",
        "BitwiseXor",
        "Max",
        "Min",
        "Sum",
        "Mean",
        "PRelu",
        "Equal",
        "Greater",
        "Less",
        "GreaterOrEqual",
        "LessOrEqual",
        "And",
        "Or",
        "Xor",
        "Where",
    ]
)
_BOOL_OUT = frozenset(
    ["Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor"]
)


# The same for com.microsoft's fused ops (outputs shaped like an input, or smaller).
MS_NO_GROWTH = frozenset(
    [
        "SkipLayerNormalization",
        "SkipSimplifiedLayerNormalization",
        "LayerNormalization",
        "SimplifiedLayerNormalization",
        "FastGelu",
        "BiasGelu",
        "QuickGelu",
        "Gelu",
        "ScaledSiLU",
        "RotaryEmbedding",
        "BiasAdd",
        "BiasDropout",
        "QuantizeLinear",
        "Trilu",
        "Inverse",
        "QLinearSigmoid",
        "QLinearLeakyRelu",
        "QLinearSoftmax",
    ]
)


def compile_check(node, opset: int, opsets=None) -> Checker | None:
    """The per-run size check of one node, or None where none is needed."""
    op = node.op_type
    if op in SUBGRAPH_OPS:
        return None
    if node.domain in ("", "ai.onnx"):
        if op in NO_GROWTH:
            return None
        if op in BROADCASTING:
            return _broadcast_check(node)
        fast = _FAST.get(op)
        if fast is not None:
            return fast(node, _rule_check(node, opset, opsets))
    elif node.domain == "com.microsoft" and op in MS_NO_GROWTH:
        return None
    return _rule_check(node, opset, opsets)


def _broadcast_check(node) -> Checker:
    what = f"{node.describe()} output '{node.outputs[0]}'"
    dtype_from = 1 if node.op_type == "Where" else 0
    to_bool = node.op_type in _BOOL_OUT

    def check(args: Sequence[Any]) -> None:
        # The product of the input sizes bounds a broadcast's size: most nodes stop here.
        bound = 8
        shapes = []
        for a in args:
            size = getattr(a, "size", None)
            if size is not None:
                bound *= size
                shapes.append(a.shape)
        if len(shapes) < 2 or bound <= current_limit():
            return
        try:
            out = np.broadcast_shapes(*shapes)
        except ValueError:
            return  # the kernel reports shapes that do not broadcast
        src = args[dtype_from] if dtype_from < len(args) else args[0]
        dtype = np.bool_ if to_bool else getattr(src, "dtype", np.float64)
        check_alloc(out, dtype, what)

    return check


# Hot growing ops get an exact size (or a cheap upper bound) in plain Python; the
# shape rule runs only when that exceeds the limit, to say exactly what and why.


def _fits(numel: int, itemsize: int) -> bool:
    return numel * itemsize <= current_limit()


def _matmul_fast(node, exact: Checker) -> Checker:
    def check(args: Sequence[Any]) -> None:
        a, b = args[0], args[1]
        sa, sb = a.shape, b.shape
        if len(sa) < 2 or len(sb) < 2:
            return exact(args)
        bound = sa[-2] * sb[-1]
        for x, y in zip(sa[-3::-1], sb[-3::-1]):
            bound *= max(x, y)
        for d in (sa[:-2] if len(sa) > len(sb) else sb[:-2])[: abs(len(sa) - len(sb))]:
            bound *= d
        if not _fits(bound, a.dtype.itemsize):
            exact(args)

    return check


def _gather_fast(node, exact: Checker) -> Checker:
    axis = node.attrs.get("axis", 0)

    def check(args: Sequence[Any]) -> None:
        data, idx = args[0], args[1]
        shape = data.shape
        if not shape or not -len(shape) <= axis < len(shape):
            return  # the kernel reports the bad axis
        along = shape[axis]
        numel = (data.size // along if along else 0) * idx.size
        if not along or not _fits(numel, data.dtype.itemsize):
            exact(args)

    return check


def _concat_fast(node, exact: Checker) -> Checker:
    def check(args: Sequence[Any]) -> None:
        total = sum(a.size for a in args if a is not None)
        first = next((a for a in args if a is not None), None)
        if first is not None and not _fits(total, first.dtype.itemsize):
            exact(args)

    return check


def _cast_fast(node, exact: Checker) -> Checker:
    to = numpy_dtype_of_code(node.attrs.get("to", 0))
    size = to.itemsize if to is not None else 8

    def check(args: Sequence[Any]) -> None:
        if not _fits(args[0].size, size):
            exact(args)

    return check


def _scalar(a) -> float | None:
    try:
        return float(a.reshape(-1)[0]) if a.size == 1 else None
    except (AttributeError, TypeError, ValueError):
        return None


def _range_fast(node, exact: Checker) -> Checker:
    def check(args: Sequence[Any]) -> None:
        start, limit, delta = (_scalar(a) for a in args[:3])
        if start is None or limit is None or not delta:
            return  # the kernel refuses these
        n = (limit - start) / delta
        if n > 0 and not _fits(int(n) + 1, args[0].dtype.itemsize):
            exact(args)

    return check


def _shape_product(shape_arg) -> int | None:
    try:
        dims = shape_arg.reshape(-1).tolist()
    except AttributeError:
        return None
    n = 1
    for d in dims:
        n *= max(int(d), 1)
    return n


def _constant_of_shape_fast(node, exact: Checker) -> Checker:
    value = node.attrs.get("value")
    size = getattr(value, "itemsize", 4)

    def check(args: Sequence[Any]) -> None:
        n = _shape_product(args[0])
        if n is not None and not _fits(n, size):
            exact(args)

    return check


def _expand_fast(node, exact: Checker) -> Checker:
    def check(args: Sequence[Any]) -> None:
        x, shape = args[0], args[1]
        n = _shape_product(shape)
        # Broadcasting x against the shape gives at most x.size * prod(shape) elements.
        if n is not None and not _fits(n * max(x.size, 1), x.dtype.itemsize):
            exact(args)

    return check


_FAST = {
    "MatMul": _matmul_fast,
    "Gather": _gather_fast,
    "Concat": _concat_fast,
    "Cast": _cast_fast,
    "Range": _range_fast,
    "ConstantOfShape": _constant_of_shape_fast,
    "Expand": _expand_fast,
}


def _rule_check(node, opset: int, opsets) -> Checker:
    outputs = [(k, name) for k, name in enumerate(node.outputs) if name]

    def check(args: Sequence[Any]) -> None:
        try:
            types = node_output_types(node, opset, args, opsets)
        except Exception:  # noqa: BLE001 - bad inputs are the kernel's to report, by name
            return
        if not types:
            return
        for k, name in outputs:
            vt = types[k] if k < len(types) else None
            if (
                vt is None
                or vt.shape is None
                or not all(isinstance(d, int) for d in vt.shape)
            ):
                continue  # data-dependent or unknown: the kernel checks what it allocates
            dtype = numpy_dtype(vt.elem_type) or np.dtype(np.uint8)
            check_alloc(vt.shape, dtype, f"{node.describe()} output '{name}'")

    return check
