"""wasm_rt's graph IR: plain Python objects built once from the protobuf.

Kernels never see protobuf messages: attributes become Python values
(int, float, str, lists, numpy arrays, :class:`Graph` for subgraphs), and the
node list of every graph is validated and put in topological order here, so
the executor can trust it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import dtypes
from .errors import InvalidGraph
from .proto import onnx_ir_pb2 as pb
from .registry import normalize_domain
from .tensor import ExternalData, sparse_from_proto, tensor_from_proto

Dim = int | str | None

# Model-local functions are inlined; a function calling another twice per level
# doubles the node count each level, so the total is capped (SessionOptions.max_inlined_nodes).
DEFAULT_MAX_INLINED_NODES = 100_000


def _text(value, what: str) -> str:
    """A name the graph is wired by; proto2 hands back ``bytes`` for non-UTF-8 strings."""
    if isinstance(value, str):
        return value
    raise InvalidGraph(f"{what} {value!r} is not valid UTF-8")


def _texts(values, what: str) -> list[str]:
    return [v if isinstance(v, str) else _text(v, what) for v in values]


def _label(value) -> str:
    """A name that only labels (node and graph names): non-UTF-8 bytes are shown escaped."""
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")


@dataclass
class ValueInfo:
    """Name and type of a graph input/output, as declared in the model."""

    name: str
    kind: str  # 'tensor', 'sequence', 'optional', 'map', 'sparse_tensor' or 'unknown'
    elem_type: int = dtypes.UNDEFINED
    shape: list[Dim] | None = None  # None: rank unknown
    type_string: str = ""


@dataclass
class Node:
    name: str
    op_type: str
    domain: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]

    def describe(self) -> str:
        dom = f"{self.domain}:" if self.domain else ""
        return f"node '{self.name}' ({dom}{self.op_type})"

    def subgraphs(self) -> list[Graph]:
        found = []
        for v in self.attrs.values():
            if isinstance(v, Graph):
                found.append(v)
            elif isinstance(v, list):
                found.extend(g for g in v if isinstance(g, Graph))
        return found


@dataclass
class Graph:
    name: str
    nodes: list[Node]
    inputs: list[ValueInfo]
    outputs: list[ValueInfo]
    initializers: dict[str, np.ndarray]
    value_info: dict[str, ValueInfo] = field(default_factory=dict)

    def outer_refs(self) -> set[str]:
        """Names this graph (or graphs nested in it) reads from enclosing scopes."""
        defined = {vi.name for vi in self.inputs} | set(self.initializers)
        used: set[str] = set()
        for node in self.nodes:
            used.update(n for n in node.inputs if n)
            for g in node.subgraphs():
                used |= g.outer_refs()
            defined.update(node.outputs)
        used.update(vi.name for vi in self.outputs)
        return used - defined


# --- types -------------------------------------------------------------------


def _shape(sp: pb.TensorShapeProto) -> list[Dim]:
    dims: list[Dim] = []
    for d in sp.dim:
        which = d.WhichOneof("value")
        dims.append(int(d.dim_value) if which == "dim_value" else d.dim_param if which == "dim_param" else None)
    return dims


def type_string(tp: pb.TypeProto) -> str:
    """onnxruntime's spelling of a type: 'tensor(float)', 'seq(tensor(int64))' ..."""
    which = tp.WhichOneof("value")
    if which == "tensor_type":
        return f"tensor({dtypes.type_name(tp.tensor_type.elem_type)})"
    if which == "sparse_tensor_type":
        return f"sparse_tensor({dtypes.type_name(tp.sparse_tensor_type.elem_type)})"
    if which == "sequence_type":
        return f"seq({type_string(tp.sequence_type.elem_type)})"
    if which == "optional_type":
        return f"optional({type_string(tp.optional_type.elem_type)})"
    if which == "map_type":
        key = dtypes.type_name(tp.map_type.key_type)
        return f"map({key},{type_string(tp.map_type.value_type)})"
    return "unknown"


def value_info_from_proto(vi: pb.ValueInfoProto) -> ValueInfo:
    tp = vi.type
    which = tp.WhichOneof("value")
    info = ValueInfo(_text(vi.name, "value name"), {None: "unknown", "tensor_type": "tensor", "sequence_type": "sequence",
                               "optional_type": "optional", "map_type": "map",
                               "sparse_tensor_type": "sparse_tensor"}[which], type_string=type_string(tp))
    if which in ("tensor_type", "sparse_tensor_type"):
        t = getattr(tp, which)
        info.elem_type = t.elem_type
        info.shape = _shape(t.shape) if t.HasField("shape") else None
    return info


# --- attributes --------------------------------------------------------------

_A = pb.AttributeProto


def attribute_value(attr: pb.AttributeProto, ctx: _BuildContext):
    """The Python value of an attribute (graphs are built recursively)."""
    kind = attr.type
    if kind == _A.UNDEFINED:
        kind = _infer_attr_type(attr)
    if kind == _A.FLOAT:
        return float(attr.f)
    if kind == _A.INT:
        return int(attr.i)
    if kind == _A.STRING:
        return attr.s.decode("utf-8", errors="surrogateescape")
    if kind == _A.TENSOR:
        return tensor_from_proto(attr.t, ctx.ext)
    if kind == _A.SPARSE_TENSOR:
        return sparse_from_proto(attr.sparse_tensor, ctx.ext)
    if kind == _A.GRAPH:
        return ctx.build_graph(attr.g, f"{attr.name}")
    if kind == _A.FLOATS:
        return [float(v) for v in attr.floats]
    if kind == _A.INTS:
        return [int(v) for v in attr.ints]
    if kind == _A.STRINGS:
        return [s.decode("utf-8", errors="surrogateescape") for s in attr.strings]
    if kind == _A.TENSORS:
        return [tensor_from_proto(t, ctx.ext) for t in attr.tensors]
    if kind == _A.GRAPHS:
        return [ctx.build_graph(g, attr.name) for g in attr.graphs]
    if kind == _A.SPARSE_TENSORS:
        return [sparse_from_proto(s, ctx.ext) for s in attr.sparse_tensors]
    if kind == _A.TYPE_PROTO:
        return attr.tp
    if kind == _A.TYPE_PROTOS:
        return list(attr.type_protos)
    raise InvalidGraph(f"attribute '{attr.name}' has unknown type {kind}")


def _infer_attr_type(attr: pb.AttributeProto) -> int:
    """IR v1-style attributes carry no type; infer it from the field that is set."""
    for fld, kind in (("f", _A.FLOAT), ("i", _A.INT), ("s", _A.STRING), ("t", _A.TENSOR), ("g", _A.GRAPH)):
        if attr.HasField(fld):
            return kind
    for fld, kind in (("floats", _A.FLOATS), ("ints", _A.INTS), ("strings", _A.STRINGS),
                      ("tensors", _A.TENSORS), ("graphs", _A.GRAPHS)):
        if len(getattr(attr, fld)):
            return kind
    raise InvalidGraph(f"attribute '{attr.name}' has no type and no value")


# --- building ----------------------------------------------------------------


class _BuildContext:
    def __init__(self, ext: ExternalData, functions: dict[tuple[str, str], pb.FunctionProto],
                 max_inlined_nodes: int = DEFAULT_MAX_INLINED_NODES):
        self.ext = ext
        self.functions = functions
        self.counter = 0
        self.depth = 0
        self.max_inlined_nodes = max_inlined_nodes
        self.inlined = 0  # nodes made from function bodies so far
        self.calls: list[str] = []  # the chain of functions being inlined
        self.sizes: dict[tuple[str, str], int | None] = {}  # inlined node count per function
        self.planned = 0  # nodes the top-level calls seen so far will inline

    def callee(self, n: pb.NodeProto) -> pb.FunctionProto | None:
        return self.functions.get((normalize_domain(n.domain), n.op_type))

    def inlined_size(self, fn: pb.FunctionProto, depth: int = 0) -> int:
        """How many nodes inlining ``fn`` makes (capped just above the limit), computed
        from the bodies without expanding them, so an exponential case fails at once."""
        key = (fn.domain, fn.name)
        if key in self.sizes:
            if self.sizes[key] is None or depth > 64:
                raise InvalidGraph(f"function '{fn.name}' calls itself or nests more than 64 deep")
            return self.sizes[key]
        self.sizes[key] = None
        total = 0
        for n in fn.node:
            callee = self.callee(n)
            total += 1 if callee is None else self.inlined_size(callee, depth + 1)
            total = min(total, self.max_inlined_nodes + 1)
        self.sizes[key] = total
        return total

    def heaviest_chain(self, call: pb.NodeProto, fn: pb.FunctionProto) -> list[str]:
        """The call chain that contributes most nodes, for the error message."""
        chain = [f"{_label(call.name) or '?'} ({call.op_type})"]
        while len(chain) < 64:
            calls = [(self.inlined_size(c), n) for n in fn.node if (c := self.callee(n))]
            if not calls:
                break
            _, call = max(calls, key=lambda sc: sc[0])
            fn = self.callee(call)
            chain.append(f"{_label(call.name) or '?'} ({call.op_type})")
        return chain

    def too_many(self, chain: list[str]) -> InvalidGraph:
        return InvalidGraph(
            f"inlining model-local functions makes more than {self.max_inlined_nodes:,} "
            f"nodes (at the call chain {' -> '.join(chain)}); functions that call "
            "others several times grow exponentially (raise "
            "SessionOptions.max_inlined_nodes if this model is trusted)"
        )

    def build_graph(self, g: pb.GraphProto, what: str) -> Graph:
        self.depth += 1
        if self.depth > 64:
            raise InvalidGraph("subgraphs are nested more than 64 levels deep")
        try:
            return _build_graph(g, self, what)
        finally:
            self.depth -= 1


def _build_graph(g: pb.GraphProto, ctx: _BuildContext, what: str) -> Graph:
    inits: dict[str, np.ndarray] = {}
    for t in g.initializer:
        _text(t.name, f"graph '{_label(g.name)}': initializer name")
        if t.name in inits:
            raise InvalidGraph(f"graph '{g.name}': initializer '{t.name}' is defined twice")
        inits[t.name] = tensor_from_proto(t, ctx.ext)
    for sp in g.sparse_initializer:
        inits[_text(sp.values.name, "sparse initializer name")] = sparse_from_proto(sp, ctx.ext)
    nodes: list[Node] = []
    for i, n in enumerate(g.node):
        nodes.extend(_expand_node(n, i, ctx))
    graph = Graph(
        name=_label(g.name) or what,
        nodes=nodes,
        inputs=[value_info_from_proto(v) for v in g.input],
        outputs=[value_info_from_proto(v) for v in g.output],
        initializers=inits,
        value_info={vi.name: vi for vi in map(value_info_from_proto, g.value_info)},
    )
    graph.nodes = toposort(graph)
    return graph


def _node_from_proto(n: pb.NodeProto, index: int, ctx: _BuildContext) -> Node:
    name = _label(n.name)
    what = f"node #{index} '{name}'"
    op_type = _text(n.op_type, f"{what}: op_type")
    domain = _text(n.domain, f"{what} ({op_type}): domain")
    if ctx.calls:
        ctx.inlined += 1
        if ctx.inlined > ctx.max_inlined_nodes:  # a backstop: planned counts come first
            raise ctx.too_many(ctx.calls)
    attrs = {}
    for a in n.attribute:
        aname = _text(a.name, f"{what} ({op_type}): attribute name")
        if aname in attrs:
            raise InvalidGraph(f"{what} ({op_type}): attribute '{aname}' given twice")
        attrs[aname] = attribute_value(a, ctx)
    return Node(
        name=name or f"{op_type}_{index}",
        op_type=op_type,
        domain=normalize_domain(domain),
        inputs=_texts(n.input, f"{what} ({op_type}): input name"),
        outputs=_texts(n.output, f"{what} ({op_type}): output name"),
        attrs=attrs,
    )


# Inside an inlined function body: the function mapping a body's value names to the
# final graph's names, and the node-name prefix; None at graph level.
_Scope = tuple[Callable[[str], str], str] | None


def _expand_node(n: pb.NodeProto, index: int, ctx: _BuildContext, scope: _Scope = None) -> list[Node]:
    """A node, or the body of the model-local function it calls, inlined."""
    fn = ctx.callee(n)
    if fn is None:
        node = _node_from_proto(n, index, ctx)
        if scope is not None:
            # Renamed once, however deep the call chain (not once per enclosing level).
            resolve, prefix = scope
            node.name = prefix + node.name
            node.inputs = [resolve(x) for x in node.inputs]
            node.outputs = [resolve(x) for x in node.outputs]
        return [node]
    if not ctx.calls:  # a call from a graph: count what it will make before making it
        ctx.planned += ctx.inlined_size(fn)
        if ctx.planned > ctx.max_inlined_nodes:
            raise ctx.too_many(ctx.heaviest_chain(n, fn))
    ctx.depth += 1
    ctx.calls.append(f"{_label(n.name) or '?'} ({n.op_type})")
    if ctx.depth > 64:
        raise InvalidGraph(f"function '{n.op_type}' calls itself or nests more than 64 deep")
    try:
        return _inline_function(n, fn, ctx, scope)
    finally:
        ctx.depth -= 1
        ctx.calls.pop()


def _inline_function(call: pb.NodeProto, fn: pb.FunctionProto, ctx: _BuildContext,
                     scope: _Scope) -> list[Node]:
    ctx.counter += 1
    outer_resolve, outer_prefix = scope if scope is not None else (lambda x: x, "")
    prefix = f"{outer_prefix}{_label(call.name) or fn.name}__{ctx.counter}/"
    what = f"function '{fn.name}'"
    formal_in = _texts(fn.input, f"{what}: input name")
    formal_out = _texts(fn.output, f"{what}: output name")
    # The call's own names belong to the caller's body: resolved there, once.
    actual_in = [outer_resolve(x) for x in _texts(call.input, f"call of {what}: input name")]
    actual_out = [outer_resolve(x) for x in _texts(call.output, f"call of {what}: output name")]
    rename = {formal: actual for formal, actual in zip(formal_in, actual_in)}
    rename.update({formal: "" for formal in formal_in[len(actual_in):]})
    rename.update({formal: actual for formal, actual in zip(formal_out, actual_out)})
    # Attribute values: the call's, falling back to the function's defaults.
    given = {a.name: a for a in fn.attribute_proto}
    given.update({a.name: a for a in call.attribute})

    def resolve(name: str) -> str:
        if not name:
            return name
        return rename[name] if name in rename else prefix + name

    body: list[Node] = []
    for i, inner in enumerate(fn.node):
        body.extend(_expand_node(_bind_attr_refs(inner, given), i, ctx, (resolve, prefix)))
    return body


def _bind_attr_refs(node: pb.NodeProto, given: dict[str, pb.AttributeProto]) -> pb.NodeProto:
    if not any(a.ref_attr_name for a in node.attribute):
        return node
    bound = pb.NodeProto()
    bound.CopyFrom(node)
    del bound.attribute[:]
    for a in node.attribute:
        if a.ref_attr_name:
            if a.ref_attr_name not in given:
                continue  # an unset optional attribute of the function
            value = pb.AttributeProto()
            value.CopyFrom(given[a.ref_attr_name])
            value.name = a.name
            bound.attribute.append(value)
        else:
            bound.attribute.append(a)
    return bound


def toposort(graph: Graph) -> list[Node]:
    """The nodes in a valid execution order; InvalidGraph on cycles or dangling inputs.

    Names the graph does not define (not an input, initializer or node output)
    are taken to come from enclosing scopes; the session checks that the
    outermost graph has none.
    """
    producers: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for out in node.outputs:
            if not out:
                continue
            if out in producers:
                raise InvalidGraph(
                    f"graph '{graph.name}': value '{out}' is produced by both "
                    f"{graph.nodes[producers[out]].describe()} and {node.describe()}"
                )
            producers[out] = i
    deps: list[set[int]] = []
    users: list[list[int]] = [[] for _ in graph.nodes]
    for i, node in enumerate(graph.nodes):
        needed = {n for n in node.inputs if n}
        for g in node.subgraphs():
            needed |= g.outer_refs()
        d = {producers[n] for n in needed if n in producers}
        if i in d:
            raise InvalidGraph(f"{node.describe()} consumes its own output")
        deps.append(d)
        for j in d:
            users[j].append(i)
    remaining = [len(d) for d in deps]
    ready = [i for i, r in enumerate(remaining) if r == 0]
    order: list[int] = []
    # Keep the model's own order among ready nodes: it is usually already valid.
    heapq.heapify(ready)
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            remaining[u] -= 1
            if remaining[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(graph.nodes):
        stuck = [graph.nodes[i].describe() for i, r in enumerate(remaining) if r > 0][:5]
        raise InvalidGraph(f"graph '{graph.name}' has a cycle involving {', '.join(stuck)}")
    return [graph.nodes[i] for i in order]


def build_model_graph(model: pb.ModelProto, ext: ExternalData,
                      max_inlined_nodes: int = DEFAULT_MAX_INLINED_NODES) -> Graph:
    functions = {
        (normalize_domain(_text(f.domain, "function domain")), _text(f.name, "function name")): f
        for f in model.functions
    }
    ctx = _BuildContext(ext, functions, max_inlined_nodes)
    return ctx.build_graph(model.graph, "main_graph")
