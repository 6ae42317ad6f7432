"""wasm_rt's graph IR: plain Python objects built once from the protobuf.

Kernels never see protobuf messages: attributes become Python values
(int, float, str, lists, numpy arrays, :class:`Graph` for subgraphs), and the
node list of every graph is validated and put in topological order here, so
the executor can trust it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import dtypes
from .errors import InvalidGraph
from .proto import onnx_ir_pb2 as pb
from .registry import normalize_domain
from .tensor import ExternalData, sparse_from_proto, tensor_from_proto

Dim = int | str | None


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

    def subgraphs(self) -> list["Graph"]:
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
    info = ValueInfo(vi.name, {None: "unknown", "tensor_type": "tensor", "sequence_type": "sequence",
                               "optional_type": "optional", "map_type": "map",
                               "sparse_tensor_type": "sparse_tensor"}[which], type_string=type_string(tp))
    if which in ("tensor_type", "sparse_tensor_type"):
        t = getattr(tp, which)
        info.elem_type = t.elem_type
        info.shape = _shape(t.shape) if t.HasField("shape") else None
    return info


# --- attributes --------------------------------------------------------------

_A = pb.AttributeProto


def attribute_value(attr: pb.AttributeProto, ctx: "_BuildContext"):
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
    def __init__(self, ext: ExternalData, functions: dict[tuple[str, str], pb.FunctionProto]):
        self.ext = ext
        self.functions = functions
        self.counter = 0
        self.depth = 0

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
        if t.name in inits:
            raise InvalidGraph(f"graph '{g.name}': initializer '{t.name}' is defined twice")
        inits[t.name] = tensor_from_proto(t, ctx.ext)
    for sp in g.sparse_initializer:
        inits[sp.values.name] = sparse_from_proto(sp, ctx.ext)
    nodes: list[Node] = []
    for i, n in enumerate(g.node):
        nodes.extend(_expand_node(n, i, ctx))
    graph = Graph(
        name=g.name or what,
        nodes=nodes,
        inputs=[value_info_from_proto(v) for v in g.input],
        outputs=[value_info_from_proto(v) for v in g.output],
        initializers=inits,
        value_info={v.name: value_info_from_proto(v) for v in g.value_info},
    )
    graph.nodes = toposort(graph)
    return graph


def _node_from_proto(n: pb.NodeProto, index: int, ctx: _BuildContext) -> Node:
    attrs = {}
    for a in n.attribute:
        if not isinstance(a.name, str):  # proto2 returns bytes for non-UTF-8 strings
            raise InvalidGraph(f"node '{n.name}' ({n.op_type}): attribute name {a.name!r} is not UTF-8")
        if a.name in attrs:
            raise InvalidGraph(f"node '{n.name}' ({n.op_type}): attribute '{a.name}' given twice")
        attrs[a.name] = attribute_value(a, ctx)
    return Node(
        name=n.name or f"{n.op_type}_{index}",
        op_type=n.op_type,
        domain=normalize_domain(n.domain),
        inputs=list(n.input),
        outputs=list(n.output),
        attrs=attrs,
    )


def _expand_node(n: pb.NodeProto, index: int, ctx: _BuildContext) -> list[Node]:
    """A node, or the body of the model-local function it calls, inlined."""
    fn = ctx.functions.get((normalize_domain(n.domain), n.op_type))
    if fn is None:
        return [_node_from_proto(n, index, ctx)]
    ctx.depth += 1
    if ctx.depth > 64:
        raise InvalidGraph(f"function '{n.op_type}' calls itself or nests more than 64 deep")
    try:
        return _inline_function(n, fn, ctx)
    finally:
        ctx.depth -= 1


def _inline_function(call: pb.NodeProto, fn: pb.FunctionProto, ctx: _BuildContext) -> list[Node]:
    ctx.counter += 1
    prefix = f"{call.name or fn.name}__{ctx.counter}/"
    rename = {formal: actual for formal, actual in zip(fn.input, call.input)}
    rename.update({formal: "" for formal in list(fn.input)[len(call.input):]})
    rename.update({formal: actual for formal, actual in zip(fn.output, call.output)})
    # Attribute values: the call's, falling back to the function's defaults.
    given = {a.name: a for a in fn.attribute_proto}
    given.update({a.name: a for a in call.attribute})
    body: list[Node] = []
    for i, inner in enumerate(fn.node):
        inner = _bind_attr_refs(inner, given)
        expanded = _expand_node(inner, i, ctx)
        for node in expanded:
            node.name = prefix + node.name
            node.inputs = [_rename(x, rename, prefix) for x in node.inputs]
            node.outputs = [_rename(x, rename, prefix) for x in node.outputs]
        body.extend(expanded)
    return body


def _rename(name: str, rename: dict[str, str], prefix: str) -> str:
    if not name:
        return name
    return rename[name] if name in rename else prefix + name


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


def build_model_graph(model: pb.ModelProto, ext: ExternalData) -> Graph:
    functions = {(normalize_domain(f.domain), f.name): f for f in model.functions}
    ctx = _BuildContext(ext, functions)
    return ctx.build_graph(model.graph, "main_graph")
