"""float16 nodes run in float32 between Casts, where onnxruntime's CPU provider does.

onnxruntime's CPU execution provider has float16 kernels for few ops
(``_FP16_KERNELS``).  Partitioning leaves every other node with a float16
input unassigned, and its InsertCastTransformer
(onnxruntime/core/optimizer/insert_cast_transformer.cc) then runs such nodes
in float32: a Cast to float32 on each float16 input, a Cast back on each
float16 output; a node that has a float16 kernel but sits between converted
nodes ("isolated") is converted too, and RemoveDuplicateCastTransformer drops
the back-to-back Cast pairs this leaves between converted nodes.  A float16
model rounds to float16 only at those chain edges, and wasm_rt matches it
only if it casts at the same places -- which this pass does, step by step.
Running chains in float32 is also faster: numpy's float16 arithmetic is slow.

Value types are inferred here (``_out_types``): declared types first, then
per-op rules.  A node with an input or output of unknown type is left as is.
"""

from __future__ import annotations

from collections import ChainMap
from typing import TYPE_CHECKING

import numpy as np

from .. import dtypes
from ..ir import Graph, Node, toposort

if TYPE_CHECKING:
    from . import PassContext

F32, F16, BOOL = dtypes.FLOAT, dtypes.FLOAT16, dtypes.BOOL
I32, I64, U8 = dtypes.INT32, dtypes.INT64, dtypes.UINT8
_PREFIX = "InsertedPrecisionFreeCast_"  # onnxruntime's name; its Cast removal reads it
_MS = "com.microsoft"

# onnxruntime 1.31.1's CPU kernels that accept float16, as (domain, op): first
# opset (last opset in _FP16_UNTIL).  Derived from
# onnxruntime.capi.onnxruntime_pybind11_state.get_all_opkernel_def(): every
# CPUExecutionProvider kernel with tensor(float16) in a type constraint, version
# ranges merged (Memcpy* left out); tests/test_fp16_pass.py checks models
# against the Cast nodes onnxruntime inserts.
# fmt: off
_FP16_KERNELS = {
    **{("", op): 1 for op in (
        "DynamicSlice", "Flatten", "Gather", "Identity", "If", "LayerNormalization",
        "Loop", "RandomNormalLike", "RandomUniformLike", "Reshape", "Shape",
        "SimplifiedLayerNormalization", "Slice", "Squeeze", "Transpose", "Unsqueeze")},
    **{("", op): v for op, v in (
        ("Attention", 23), ("BitCast", 26), ("Cast", 6), ("Clip", 12),
        ("Compress", 9), ("Concat", 4), ("ConstantOfShape", 9),
        ("DequantizeLinear", 19), ("Dropout", 7), ("Expand", 8),
        ("GatherElements", 11), ("GatherND", 11), ("IsInf", 20), ("IsNaN", 9),
        ("Max", 12), ("Min", 12), ("Mod", 10), ("Optional", 15),
        ("OptionalGetElement", 15), ("OptionalHasElement", 18),
        ("QuantizeLinear", 19), ("RMSNormalization", 23), ("ReverseSequence", 10),
        ("RotaryEmbedding", 23), ("Round", 11), ("Scan", 8), ("Scatter", 9),
        ("ScatterElements", 11), ("ScatterND", 11), ("SequenceAt", 11),
        ("SequenceConstruct", 11), ("Shrink", 9), ("Sign", 9), ("Split", 2),
        ("SplitToSequence", 11), ("TensorScatter", 24))},
    **{(_MS, op): 1 for op in (
        "BranchwiseRMSNorm", "EngramGate", "ExpandDims", "GatedAdd", "GatedRMSNorm",
        "GatherBlockQuantized", "GatherND", "GroupQueryAttention",
        "HyperConnectionPostMix", "HyperConnectionPreMix", "Inverse",
        "LinearAttentionGate", "MRotaryEmbedding", "MatMulNBits", "QMoE",
        "RotaryEmbedding", "ScaledSiLU", "SkipLayerNormalization",
        "SkipSimplifiedLayerNormalization", "SparseAttention", "UnfoldTensor")},
}
_FP16_UNTIL = {("", "Dropout"): 11, ("", "Scatter"): 10}
# Ops onnxruntime 1.31.1's CPU provider cannot run at all (no kernel, no
# function body it could expand; SwiGLU and the opset-27 ops are past its
# opset 26): there is no onnxruntime rounding to follow, so they keep the
# spec's float16 semantics.  Every other op without a kernel (HardSwish, Mish,
# Swish, GroupNormalization ...) is a function onnxruntime expands into nodes
# it then runs in float32 between Casts, as converting the node does here.
_NO_ORT_CPU = {("", "SwiGLU"), ("", "LinearAttention"), ("", "CausalConvWithState"),
               (_MS, "BiasAdd"), (_MS, "BiasSplitGelu"), (_MS, "BiasDropout")}
# Ops of that table with a variadic first input / output: onnxruntime's isolated
# node check looks at the first tensor of a variadic parameter only.
_VARIADIC_IN = frozenset({"Concat", "Max", "Min", "SequenceConstruct"})
_VARIADIC_OUT = frozenset({"Split"})
# fmt: on

# --- type inference ---------------------------------------------------------
# Every output of an ai.onnx / com.microsoft op has input 0's type unless listed
# here (the exceptions come from comparing each output's type constraint with
# input 0's in onnx.defs and onnxruntime's contrib schemas; only ops wasm_rt has
# kernels for matter, any other fails at planning).  Per output: an element
# type, "iK" (input K's type) or None (unknown).
# fmt: off
_ALL_I64 = frozenset({"Shape", "Size", "NonZero", "ArgMax", "ArgMin",
                      "NonMaxSuppression", "SequenceLength"})
_ALL_BOOL = frozenset({"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
                       "And", "Or", "Xor", "Not", "IsNaN", "IsInf",
                       "OptionalHasElement"})
_OUT = {
    "TopK": ("i0", I64), "MaxPool": ("i0", I64), "Dropout": ("i0", BOOL),
    "BiasDropout": ("i0", BOOL), "Unique": ("i0", I64, I64, I64),
    "LayerNormalization": ("i0", F32, F32), "SimplifiedLayerNormalization": ("i0", F32),
    "SkipLayerNormalization": ("i0", F32, F32, "i0"),
    "SkipSimplifiedLayerNormalization": ("i0", F32, F32, "i0"),
    "EmbedLayerNormalization": ("i2", I32, "i2"), "Where": ("i1",),
    "CastLike": ("i1",), "OneHot": ("i2",), "RMSNormalization": ("i1",),
    "Attention": ("i0", "i0", "i2", "i0"), "BatchNormalization": ("i0", "i3", "i3"),
    "GroupQueryAttention": ("i0", "i3", "i3"),
    "MultiHeadAttention": ("i0", "i0", "i0", None), "GatherBlockQuantized": ("i2",),
    "GridSample": ("i1",), "MatMulIntegerToFloat": ("i2",), "MatMulInteger": (I32,),
    "ConvInteger": (I32,), "QLinearConv": ("i7",), "QLinearMatMul": ("i7",),
    "DynamicQuantizeLinear": (U8, F32, U8),
}
# Output type from an attribute: (attribute, default: element type or "i0").
_ATTR_TYPED = {
    "Cast": ("to", None), "BitCast": ("to", None), "EyeLike": ("dtype", "i0"),
    "RandomNormalLike": ("dtype", "i0"), "RandomUniformLike": ("dtype", "i0"),
    "Bernoulli": ("dtype", "i0"), "RandomNormal": ("dtype", F32),
    "RandomUniform": ("dtype", F32), "Multinomial": ("dtype", I32),
    **dict.fromkeys(("HannWindow", "HammingWindow", "BlackmanWindow",
                     "MelWeightMatrix"), ("output_datatype", F32)),
}
# Non-tensor outputs, or types not modelled here.
_OPAQUE = frozenset({
    "SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceErase",
    "SequenceAt", "SplitToSequence", "ConcatFromSequence", "SequenceMap", "Optional",
    "OptionalGetElement", "StringSplit", "RegexFullMatch", "TfIdfVectorizer",
    "LinearAttention", "QGemm", "QLinearConcat", "QLinearWhere",
})
# fmt: on


def _out_types(node: Node, ins: list, inner: dict) -> list:
    """Element types of ``node``'s outputs (None where unknown)."""
    op, n, a = node.op_type, len(node.outputs), node.attrs
    if node.domain not in ("", _MS) or op in _OPAQUE:
        return [None] * n
    if op in ("If", "Loop", "Scan"):
        body = a.get("then_branch") or a.get("body")
        if not isinstance(body, Graph):
            return [None] * n
        outs = body.outputs[1:] if op == "Loop" else body.outputs
        return [inner[id(body)].get(vi.name) for vi in outs][:n] + [None] * (
            n - len(outs)
        )
    if op in _ALL_I64 or op in _ALL_BOOL:
        return [I64 if op in _ALL_I64 else BOOL] * n
    if op in ("Constant", "ConstantOfShape"):
        key, v = next(iter(a.items()), ("value", None))
        if isinstance(v, np.ndarray):
            return [dtypes.from_numpy_or_none(v.dtype)]
        return [F32 if key.startswith("value_float") or op != "Constant" else
                I64 if key.startswith("value_int") else None]  # fmt: skip
    if op == "DequantizeLinear":
        return [a.get("output_dtype") or (ins[1] if len(ins) > 1 else None)]
    if op == "QuantizeLinear":
        zp = ins[2] if len(ins) > 2 and node.inputs[2] else None
        return [zp or a.get("output_dtype") or U8]
    codes = (_OUT.get(op) or ("i0",) * n)[:n]
    if op in _ATTR_TYPED:
        name, default = _ATTR_TYPED[op]
        codes = (a.get(name, default),) + codes[1:]
    codes += (None,) * (n - len(codes))
    return [_resolve(c, ins) for c in codes]


def _resolve(code, ins: list):
    if not isinstance(code, str):
        return code
    k = int(code[1:])
    return ins[k] if k < len(ins) else None


def _infer(graph: Graph, outer, types: dict, fill=()) -> ChainMap:
    """Element types of the values of ``graph``; subgraphs' go to ``types[id(g)]``."""
    t = ChainMap({}, outer)
    for k, vi in enumerate(graph.inputs):
        declared = vi.elem_type if vi.kind == "tensor" else None
        t[vi.name] = declared or (
            fill[k] if k < len(fill) and vi.kind != "sequence" else None
        )
    for name, arr in graph.initializers.items():
        t[name] = dtypes.from_numpy_or_none(arr.dtype)
    declared = {
        vi.name: vi.elem_type
        for vi in [*graph.value_info.values(), *graph.outputs]
        if vi.kind == "tensor" and vi.elem_type
    }
    for node in graph.nodes:
        ins = [t.get(x) if x else None for x in node.inputs]
        # A Loop body's inputs (iteration, condition, carried values) may leave
        # their types to the Loop's inputs.
        fill = [I64, BOOL, *ins[2:]] if node.op_type == "Loop" else []
        for g in node.subgraphs():
            types[id(g)] = _infer(g, t, types, fill)
        for name, ty in zip(node.outputs, _out_types(node, ins, types)):
            if name:
                t[name] = declared.get(name, ty)
    return t


# --- the pass ---------------------------------------------------------------


def run_float16_in_float32(graph: Graph, ctx: PassContext) -> bool:
    """Insert onnxruntime's Casts around float16 nodes without a float16 kernel."""
    if any(p.name != "NumpyExecutionProvider" for p in ctx.providers[:1]):
        # A GPU provider takes float16 nodes itself (onnxruntime's WebGPU provider
        # too); these Casts are the CPU provider's.
        return False
    types: dict[int, ChainMap] = {}
    top = _infer(graph, {}, types)
    names = _all_names(graph)
    inserted: list[Node] = []
    _insert(graph, top, types, ctx, names, inserted)
    if not inserted:
        return False
    ids = {id(c) for c in inserted}
    _remove_duplicate_casts(graph, top, types, ids)
    _hoist_constant_casts(graph, ctx, ids)
    return True


class _Edges:
    """Producer and consumer nodes of each value inside one graph, as onnxruntime's
    edges: Constant nodes are initializers there, so their outputs have no producer;
    a node whose subgraphs read a value consumes it too."""

    def __init__(self, graph: Graph):
        self.producer = {
            o: n for n in graph.nodes if n.op_type != "Constant" for o in n.outputs if o
        }
        self.consumers: dict[str, list[Node]] = {}
        for n in graph.nodes:
            refs = set().union(*(g.outer_refs() for g in n.subgraphs()))
            for x in [*n.inputs, *refs]:
                if x in self.producer:
                    self.consumers.setdefault(x, []).append(n)


def _has_fp16_kernel(node: Node, opset: int | None) -> bool:
    first = _FP16_KERNELS.get((node.domain, node.op_type))
    last = _FP16_UNTIL.get((node.domain, node.op_type), 1 << 31)
    return first is not None and opset is not None and first <= opset <= last


def _insert(graph, t, types, ctx, names, inserted) -> None:
    """Mark unassigned nodes, force isolated ones to float32, insert the Casts."""
    is16 = lambda x: bool(x) and t.get(x) == F16
    known = lambda n: all(t.get(x) is not None for x in [*n.inputs, *n.outputs] if x)
    unassigned = {
        id(n)
        for n in graph.nodes
        if known(n)
        and any(map(is16, [*n.inputs, *n.outputs]))
        and not _has_fp16_kernel(n, ctx.opsets.get(n.domain))
        and (n.domain, n.op_type) not in _NO_ORT_CPU
    }
    needs_cast = lambda n: id(n) in unassigned and any(map(is16, n.inputs))
    edges = _Edges(graph)
    outputs = {vi.name for vi in graph.outputs}
    for n in graph.nodes:  # IsIsolatedFp16NodeOnCpu, in node order as onnxruntime
        if id(n) in unassigned or not known(n) or n.subgraphs():
            continue
        if not any(x in edges.producer for x in n.inputs) or outputs & set(n.outputs):
            continue
        ins = n.inputs[:1] if n.op_type in _VARIADIC_IN else n.inputs
        outs = n.outputs[:1] if n.op_type in _VARIADIC_OUT else n.outputs
        ins, outs = [x for x in ins if is16(x)], [x for x in outs if is16(x)]
        if (
            ins
            and outs
            and all(needs_cast(edges.producer[x]) for x in ins if x in edges.producer)
            and all(needs_cast(c) for x in outs for c in edges.consumers.get(x, []))
        ):
            unassigned.add(id(n))
    cast_of: dict[str, str] = {}
    order: list[Node] = []
    for n in graph.nodes:
        before, after = [], []
        if needs_cast(n) and not n.subgraphs():
            for k, x in enumerate(n.inputs):
                if is16(x):
                    if x not in cast_of:
                        cast_of[x] = _new_name(x, names)
                        before.append(_cast(cast_of[x], x, cast_of[x], F32))
                        t[cast_of[x]] = F32
                    n.inputs[k] = cast_of[x]
            if n.attrs.get("dtype") == F16:  # generator ops: their dtype says float16
                n.attrs["dtype"] = F32
            for k, y in enumerate(n.outputs):
                if is16(y):
                    n.outputs[k] = _new_name(y, names)
                    t[n.outputs[k]] = F32
                    after.append(_cast(n.outputs[k], n.outputs[k], y, F16))
        for g in n.subgraphs():
            _insert(g, types[id(g)], types, ctx, names, inserted)
        order += [*before, n, *after]
        inserted += before + after
    graph.nodes = order


def _cast(name: str, x: str, y: str, to: int) -> Node:
    return Node(name, "Cast", "", [x], [y], {"to": to})


def _new_name(base: str, names: set[str]) -> str:
    name, k = _PREFIX + base, 0
    while name in names:
        k += 1
        name = f"{_PREFIX}{base}_token_{k}"
    names.add(name)
    return name


def _all_names(graph: Graph) -> set[str]:
    found = {vi.name for vi in [*graph.inputs, *graph.outputs]}
    found.update(graph.initializers)
    for n in graph.nodes:
        found.update(n.outputs)
        for g in n.subgraphs():
            found |= _all_names(g)
    return found


# RemoveDuplicateCastTransformer: Cast(a->b) followed by Cast(b->a) is removed
# unless the first one loses precision (a user's float32->float16 Cast keeps
# its rounding); casts onnxruntime inserted are never counted as losing precision.
# Type group and bit length, as onnxruntime's GetTypeGroup and BitLength.
_D = dtypes
# fmt: off
_KIND = {
    _D.BOOL: ("bool", 1), _D.INT8: ("int", 8), _D.INT16: ("int", 16), I32: ("int", 32),
    I64: ("int", 64), _D.UINT8: ("uint", 8), _D.UINT16: ("uint", 16),
    _D.UINT32: ("uint", 32), _D.UINT64: ("uint", 64), F16: ("float", 16),
    _D.BFLOAT16: ("float", 16), F32: ("float", 32), _D.DOUBLE: ("float", 64),
}
# fmt: on


def _unsafe(src, dst, node: Node) -> bool:
    """onnxruntime's UnsafeCast: may the Cast src->dst lose information?"""
    if src not in _KIND or dst not in _KIND:
        return True
    (gs, bs), (gd, bd) = _KIND[src], _KIND[dst]
    if (gs not in ("bool", "uint") and gd == "uint") or (gs == "float" != gd):
        return True
    if gs in ("int", "uint") and (gd == "float" or (gs == "uint" and gd == "int")):
        return bd <= bs
    if {src, dst} == {F16, _D.BFLOAT16}:
        return True
    return bs > bd and not node.name.startswith(_PREFIX)


def _remove_duplicate_casts(graph: Graph, t, types, inserted: set[int]) -> None:
    edges, outputs = _Edges(graph), {vi.name for vi in graph.outputs}
    is_cast = lambda n: n.op_type == "Cast" and not n.domain
    # onnxruntime's node order: the model's nodes, then the Casts in creation order.
    removed: set[int] = set()
    ours = [n for n in graph.nodes if id(n) in inserted]
    for a in [n for n in graph.nodes if id(n) not in inserted] + ours:
        if id(a) in removed or not is_cast(a):
            for g in a.subgraphs():
                _remove_duplicate_casts(g, types[id(g)], types, inserted)
            continue
        src, dst = t.get(a.inputs[0]), t.get(a.outputs[0])
        if src is None:
            continue
        lossy, kill, keep = _unsafe(src, dst, a), [], []
        children = edges.consumers.get(a.outputs[0], [])
        for b in filter(is_cast, children):
            s1, d1 = t.get(b.inputs[0]), t.get(b.outputs[0])
            if lossy and _unsafe(d1, s1, b):
                break
            same = b.outputs[0] not in outputs and src == d1 and s1 == dst
            (kill if same else keep).append(b)
        else:
            for b in kill:
                for c in edges.consumers.pop(b.outputs[0], []):
                    _rename_input(c, b.outputs[0], a.inputs[0])
                    edges.consumers.setdefault(a.inputs[0], []).append(c)
                removed.add(id(b))
            if (
                children
                and len(kill) + len(keep) == len(children)
                and a.outputs[0] not in outputs
            ):
                for b in keep:
                    b.inputs[0] = a.inputs[0]
                    edges.consumers.setdefault(a.inputs[0], []).append(b)
                removed.add(id(a))
            for c in [a, *kill]:
                if id(c) in removed:
                    users = edges.consumers.get(c.inputs[0], [])
                    users[:] = [u for u in users if u is not c]
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]
    graph.nodes = toposort(graph)


def _rename_input(node: Node, old: str, new: str) -> None:
    """``node`` reads ``new`` where it read ``old``, in its subgraphs too."""
    node.inputs = [new if x == old else x for x in node.inputs]
    for g in node.subgraphs():
        if old in {vi.name for vi in g.inputs} | set(g.initializers):
            continue  # shadowed
        for vi in g.outputs:
            vi.name = new if vi.name == old else vi.name
        for n in g.nodes:
            _rename_input(n, old, new)


def _hoist_constant_casts(graph: Graph, ctx: PassContext, inserted: set[int]) -> None:
    """An inserted Cast of a constant float16 initializer becomes a float32
    initializer (exact, so the results are unchanged; onnxruntime's
    FuseInitializersTransformer does the same); the float16 one goes when unused."""
    consts = set(graph.initializers) - ctx.overridable
    hoisted = [n for n in graph.nodes if id(n) in inserted and n.inputs[0] in consts]
    for n in hoisted:
        w = graph.initializers[n.inputs[0]]
        graph.initializers[n.outputs[0]] = w.astype(np.float32)
    graph.nodes = [n for n in graph.nodes if not any(n is c for c in hoisted)]
    used = {vi.name for vi in graph.outputs} | ctx.overridable
    for n in graph.nodes:
        used.update(n.inputs)
        used |= set().union(*(g.outer_refs() for g in n.subgraphs()))
    for n in hoisted:
        if n.inputs[0] not in used:
            graph.initializers.pop(n.inputs[0], None)
