"""Writing a session's optimized graph back out as an ONNX model.

``SessionOptions.optimized_model_filepath`` makes the session save the graph it runs
(after the optimizer's passes, model-local functions inlined) as a ``.onnx`` file that
onnxruntime and wasm_rt load and that computes the same outputs. Initializers of at least
``session.optimized_model_external_initializers_min_size_in_bytes`` (default 1024) go to
the file named by ``session.optimized_model_external_initializers_file_name``, next to the
model, when that key is set, as onnxruntime does.
"""

from __future__ import annotations

import os
import re

import numpy as np

from . import dtypes
from .errors import InvalidArgument
from .errors import NotImplemented as NotImplementedErr
from .ir import Graph, Node, ValueInfo
from .proto import onnx_ir_pb2 as pb
from .tensor import tensor_to_proto

__all__ = ["model_proto", "write_optimized_model"]

_A = pb.AttributeProto
_NAME_TO_TYPE = {name: code for code, name in dtypes.ONNX_TYPE_NAMES.items()}


def _type_proto(text: str) -> pb.TypeProto:
    """A TypeProto from onnxruntime's type string ('seq(tensor(float))' ...)."""
    tp = pb.TypeProto()
    m = re.fullmatch(r"(tensor|sparse_tensor|seq|optional|map)\((.*)\)", text)
    if not m:
        return tp
    kind, inner = m.groups()
    if kind in ("tensor", "sparse_tensor"):
        getattr(tp, f"{kind}_type").elem_type = _NAME_TO_TYPE.get(inner, 0)
    elif kind == "seq":
        tp.sequence_type.elem_type.CopyFrom(_type_proto(inner))
    elif kind == "optional":
        tp.optional_type.elem_type.CopyFrom(_type_proto(inner))
    else:
        key, value = inner.split(",", 1)
        tp.map_type.key_type = _NAME_TO_TYPE.get(key, 0)
        tp.map_type.value_type.CopyFrom(_type_proto(value))
    return tp


def _value_info(vi: ValueInfo) -> pb.ValueInfoProto:
    out = pb.ValueInfoProto(name=vi.name)
    out.type.CopyFrom(_type_proto(vi.type_string))
    if vi.kind in ("tensor", "sparse_tensor") and vi.shape is not None:
        shape = getattr(out.type, f"{vi.kind}_type").shape
        shape.SetInParent()
        for d in vi.shape:
            dim = shape.dim.add()
            if isinstance(d, int) and d >= 0:
                dim.dim_value = d
            elif isinstance(d, str):
                dim.dim_param = d
    return out


def _attribute(name: str, value, known: dict[str, int]) -> pb.AttributeProto:
    a = pb.AttributeProto(name=name)
    if isinstance(value, list) and not value:
        a.type = known.get(name, _A.INTS)  # the model's own type; empty INTS otherwise
        return a
    items = value if isinstance(value, list) else [value]
    first = items[0]
    if isinstance(first, Graph):
        graphs = [_graph_proto(g) for g in items]
        if isinstance(value, list):
            a.type = _A.GRAPHS
            a.graphs.extend(graphs)
        else:
            a.type, a.g = _A.GRAPH, graphs[0]
    elif isinstance(first, np.ndarray):
        tensors = [tensor_to_proto(t) for t in items]
        if isinstance(value, list):
            a.type = _A.TENSORS
            a.tensors.extend(tensors)
        else:
            a.type = _A.TENSOR
            a.t.CopyFrom(tensors[0])
    elif isinstance(first, pb.TypeProto):
        if isinstance(value, list):
            a.type = _A.TYPE_PROTOS
            a.type_protos.extend(items)
        else:
            a.type = _A.TYPE_PROTO
            a.tp.CopyFrom(first)
    elif isinstance(first, str):
        data = [s.encode("utf-8", errors="surrogateescape") for s in items]
        if isinstance(value, list):
            a.type = _A.STRINGS
            a.strings.extend(data)
        else:
            a.type, a.s = _A.STRING, data[0]
    elif all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items) and (
            known.get(name) not in (_A.FLOAT, _A.FLOATS)):
        if isinstance(value, list):
            a.type = _A.INTS
            a.ints.extend(int(v) for v in items)
        else:
            a.type, a.i = _A.INT, int(first)
    elif all(isinstance(v, (int, float, np.number)) for v in items):
        if isinstance(value, list):
            a.type = _A.FLOATS
            a.floats.extend(float(v) for v in items)
        else:
            a.type, a.f = _A.FLOAT, float(first)
    else:
        raise NotImplementedErr(f"cannot serialize attribute '{name}' of type {type(first).__name__}")
    return a


# Attribute types of the nodes of the model being written, by (node name, attribute):
# the IR holds plain Python values, so an empty list needs the model's own type.
_known_types: dict[str, dict[str, int]] = {}


def _node_proto(node: Node) -> pb.NodeProto:
    known = _known_types.get(node.name, {})
    out = pb.NodeProto(name=node.name, op_type=node.op_type, domain=node.domain,
                       input=node.inputs, output=node.outputs)
    out.attribute.extend(_attribute(k, v, known) for k, v in node.attrs.items())
    return out


def _graph_proto(g: Graph, initializers=None) -> pb.GraphProto:
    out = pb.GraphProto(name=g.name)
    out.node.extend(_node_proto(n) for n in g.nodes)
    out.input.extend(_value_info(vi) for vi in g.inputs)
    out.output.extend(_value_info(vi) for vi in g.outputs)
    items = initializers if initializers is not None else g.initializers.items()
    for name, arr in items:
        out.initializer.append(tensor_to_proto(np.asarray(arr), name))
    return out


def _collect_types(graph: pb.GraphProto) -> None:
    for n in graph.node:
        _known_types.setdefault(n.name, {}).update({a.name: a.type for a in n.attribute})
        for a in n.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                _collect_types(g)


def model_proto(graph: Graph, original: pb.ModelProto, opsets: dict[str, int]) -> pb.ModelProto:
    """The ModelProto of ``graph``, keeping the original's IR version and metadata."""
    _known_types.clear()
    _collect_types(original.graph)
    try:
        model = pb.ModelProto(ir_version=original.ir_version, producer_name=original.producer_name,
                              producer_version=original.producer_version, domain=original.domain,
                              model_version=original.model_version, doc_string=original.doc_string)
        model.metadata_props.extend(original.metadata_props)
        domains = dict(opsets)
        for node in _all_nodes(graph):
            domains.setdefault(node.domain, 1)
        for domain, version in sorted(domains.items()):
            model.opset_import.add(domain=domain, version=int(version))
        # Initializers the passes left unused (folded weights ...) are not written.
        used = {vi.name for vi in graph.outputs} | {vi.name for vi in graph.inputs}
        for node in graph.nodes:
            used.update(node.inputs)
            for g in node.subgraphs():
                used |= g.outer_refs()
        kept = [(n, a) for n, a in graph.initializers.items() if n in used]
        model.graph.CopyFrom(_graph_proto(graph, kept))
    finally:
        _known_types.clear()
    return model


def _all_nodes(graph: Graph):
    for node in graph.nodes:
        yield node
        for g in node.subgraphs():
            yield from _all_nodes(g)


def write_optimized_model(path: str, graph: Graph, original: pb.ModelProto,
                          opsets: dict[str, int], config: dict[str, str]) -> None:
    """Write ``graph`` to ``path`` (external initializers as ``config`` asks)."""
    model = model_proto(graph, original, opsets)
    ext_name = config.get("session.optimized_model_external_initializers_file_name")
    if ext_name:
        try:
            min_size = int(config.get(
                "session.optimized_model_external_initializers_min_size_in_bytes", "1024"))
        except ValueError:
            raise InvalidArgument("session.optimized_model_external_initializers_min_size_in_bytes "
                                  "must be an integer") from None
        if os.path.isabs(ext_name) or ".." in ext_name.replace("\\", "/").split("/"):
            raise InvalidArgument(f"external initializers file name '{ext_name}' must be relative "
                                  "to the optimized model's folder")
        folder = os.path.dirname(os.path.abspath(path))
        with open(os.path.join(folder, ext_name), "wb") as f:
            for t in model.graph.initializer:
                if t.HasField("raw_data") and len(t.raw_data) >= min_size:
                    offset = f.tell()
                    f.write(t.raw_data)
                    t.ClearField("raw_data")
                    t.data_location = pb.TensorProto.EXTERNAL
                    for key, value in (("location", ext_name), ("offset", str(offset)),
                                       ("length", str(f.tell() - offset))):
                        t.external_data.add(key=key, value=value)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
