"""Applying SessionOptions to a model at session creation, as onnxruntime does.

Config embedded in the model (``ORT_LOAD_CONFIG_FROM_MODEL=1`` and the ``ort_config``
metadata entry), initializers supplied by the caller (``add_initializer``,
``add_external_initializers``), free dimension overrides, the config keys that have a
meaning here, and the graph-assignment record.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from . import lowprec
from .errors import Fail, InvalidArgument, InvalidGraph
from .errors import NotImplemented as NotImplementedErr
from .ir import Graph
from .proto import onnx_ir_pb2 as pb
from .tensor import tensor_to_proto

_FORMAT_KEYS = ("session.load_model_format", "session.save_model_format")


def check_config(options) -> None:
    """Refuse config values that ask for what wasm_rt cannot do."""
    for key in _FORMAT_KEYS:
        value = options._config.get(key, "ONNX")
        if value.upper() == "ORT":
            raise NotImplementedErr(f"{key}=ORT: wasm_rt reads and writes ONNX models only, not "
                                 "onnxruntime's ORT format")
        if value.upper() != "ONNX":
            raise InvalidArgument(f"{key} must be ONNX or ORT, got '{value}'")


def apply_model_config(options, proto: pb.ModelProto) -> None:
    """With ORT_LOAD_CONFIG_FROM_MODEL=1, take session options from the model's 'ort_config'
    metadata (JSON ``{"session_options": {name: value}}``), as onnxruntime does."""
    if os.environ.get("ORT_LOAD_CONFIG_FROM_MODEL") != "1":
        return
    text = next((p.value for p in proto.metadata_props if p.key == "ort_config"), None)
    if text is None:
        return
    try:
        config = json.loads(text)
        entries = config.get("session_options", {})
        if not isinstance(entries, dict):
            raise TypeError("'session_options' is not an object")
    except (ValueError, TypeError, AttributeError) as e:
        raise InvalidGraph(f"the model's ort_config metadata is not valid: {e}") from None
    from .environment import ExecutionMode, ExecutionOrder
    from .optimizer import GraphOptimizationLevel

    kinds = {"intra_op_num_threads": int, "inter_op_num_threads": int,
             "graph_optimization_level": GraphOptimizationLevel, "enable_profiling": bool,
             "execution_mode": ExecutionMode, "execution_order": ExecutionOrder,
             "optimized_model_filepath": str, "enable_mem_pattern": bool,
             "enable_cpu_mem_arena": bool, "profile_file_prefix": str,
             "log_severity_level": int, "log_verbosity_level": int, "session_logid": str}
    for name, value in entries.items():
        if name not in kinds:
            raise InvalidGraph(f"the model's ort_config sets unknown session option '{name}'")
        try:
            setattr(options, "logid" if name == "session_logid" else name, kinds[name](value))
        except (ValueError, TypeError) as e:
            raise InvalidGraph(f"the model's ort_config: bad value {value!r} for '{name}': {e}") from None


def replace_external_initializers(options, proto: pb.ModelProto) -> None:
    """Initializers given by ``add_external_initializers`` replace the model's tensors of that
    name (usually ones stored in files that are not there) before anything is read."""
    given = options._external_initializers
    if not given:
        return
    for i, t in enumerate(proto.graph.initializer):
        if t.name in given:
            arr = given[t.name]._tensor()
            proto.graph.initializer[i].CopyFrom(tensor_to_proto(arr, t.name))


def apply_initializers(options, graph: Graph) -> None:
    """``add_initializer`` values override the model's initializers of the same name (a name
    the model lacks is ignored, as onnxruntime ignores it); type and shape must match."""
    for name, value in options._initializers.items():
        if name not in graph.initializers:
            continue
        old, new = graph.initializers[name], lowprec.internal_value(value._tensor())
        if old.dtype != new.dtype or old.shape != new.shape:
            raise InvalidArgument(
                f"add_initializer('{name}'): the model's initializer is {old.dtype} "
                f"{list(old.shape)}, the given value is {new.dtype} {list(new.shape)}"
            )
        graph.initializers[name] = new


def apply_free_dimensions(options, proto: pb.ModelProto, graph: Graph) -> None:
    """Fix symbolic input dimensions by name (dim_param) or denotation, as onnxruntime does."""
    by_name, by_den = options._dims_by_name, options._dims_by_denotation
    if not by_name and not by_den:
        return
    declared = {vi.name: vi for vi in proto.graph.input}
    for vi in graph.inputs:
        src = declared.get(vi.name)
        if vi.shape is None or src is None or not src.type.HasField("tensor_type"):
            continue
        for axis, dim in enumerate(src.type.tensor_type.shape.dim):
            value = by_den.get(dim.denotation) if dim.denotation else None
            if value is None and dim.WhichOneof("value") == "dim_param":
                value = by_name.get(dim.dim_param)
            if value is None:
                continue
            fixed = vi.shape[axis]
            if isinstance(fixed, int) and fixed >= 0 and fixed != value:
                raise InvalidArgument(
                    f"free dimension override {value} for input '{vi.name}' axis {axis} "
                    f"conflicts with its fixed size {fixed}"
                )
            vi.shape[axis] = value


@dataclass
class OrtEpAssignedNode:
    """A node as the graph-assignment record names it."""

    name: str
    op_type: str
    domain: str


@dataclass
class OrtEpAssignedSubgraph:
    """Nodes one provider runs together (the CPU provider runs each node on its own)."""

    ep_name: str
    nodes: list[OrtEpAssignedNode] = field(default_factory=list)

    def get_nodes(self) -> list[OrtEpAssignedNode]:
        return list(self.nodes)


def graph_assignment(options, plan, provider_names: dict[str, str]) -> list[OrtEpAssignedSubgraph]:
    if options._config.get("session.record_ep_graph_assignment_info") != "1":
        raise Fail("Session configuration entry 'session.record_ep_graph_assignment_info' must "
                   "be set to \"1\" to retrieve EP graph assignment information.")
    subgraphs: list[OrtEpAssignedSubgraph] = []
    for step in plan.steps:
        node, name = step.node, provider_names.get(step.provider, step.provider)
        # numpy runs node by node (onnxruntime's CPU provider too); others group runs.
        if not subgraphs or subgraphs[-1].ep_name != name or step.provider == "NumpyExecutionProvider":
            subgraphs.append(OrtEpAssignedSubgraph(name))
        subgraphs[-1].nodes.append(OrtEpAssignedNode(node.name, node.op_type, node.domain))
    return subgraphs
