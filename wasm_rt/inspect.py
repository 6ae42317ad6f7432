"""A pre-flight report on a model, made before any weight is read.

``wasm_rt.inspect(model, dims={"batch": 4})`` reads only the ``.onnx`` protobuf:
externally stored tensors are known by their dims, data type and ``length``
entry, and their files are never opened; large inline tensors are never
decoded. The report lists opsets, op counts, the ops each provider cannot run,
parameters by dtype, and an estimate of the peak memory a run needs with the
given input dims:

    weights (initializers and the constants folded at load time that some node
    still reads) + the largest sum, over the plan's steps, of the live
    intermediate tensors (inputs, outputs and scratch buffers of the step
    included), with values freed after their last use as the executor does
    + the session's own Python objects (SESSION_BYTES_PER_NODE a node).

Shapes come from :mod:`wasm_rt.shape_inference`; a value whose size stays
unknown (data-dependent dims) counts 0 bytes and is listed in the report.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import dtypes, symbolic
from .errors import WasmRtError
from .ir import Graph, Node
from .model import opset_map, parse_model, read_model_bytes
from .optimizer.constant_folding import NOT_FOLDABLE
from .proto import onnx_ir_pb2 as pb
from .registry import resolve

NUMPY = "NumpyExecutionProvider"
WEBGPU = "WebGpuExecutionProvider"
# Bits per element as TensorProto stores them (packed sub-byte types).
_PACKED_BITS = {dtypes.UINT4: 4, dtypes.INT4: 4, dtypes.FLOAT4E2M1: 4, dtypes.UINT2: 2,
                dtypes.INT2: 2}
_SHOWN_NODES = 5
# The session's own Python objects (IR nodes, attributes, plan steps, release
# lists): 1.4-2.4 KiB per planned node under tracemalloc on CPython 3.11 across
# the transformer exports; it matters for models whose weights are small.
SESSION_BYTES_PER_NODE = 1536


@dataclass
class InspectReport:
    """What ``wasm_rt.inspect`` found; ``to_dict()`` is JSON-able, ``str()`` readable."""

    model: str
    ir_version: int
    producer: str
    opsets: dict[str, int]
    node_count: int
    op_counts: dict[str, dict[str, int]]
    functions: dict[str, dict[str, int]]
    unsupported: dict[str, list[dict[str, Any]]]
    parameters: dict[str, Any]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    dims: dict[str, int]
    assumed_dims: dict[str, int]
    memory: dict[str, Any]
    inference_problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def runs_on(self, provider: str = NUMPY) -> bool:
        """True when every node has a kernel (for WebGPU: on the GPU, no numpy fallback)."""
        return not self.unsupported.get(provider)

    def __str__(self) -> str:
        p, m = self.parameters, self.memory
        lines = [
            f"model:       {self.model} (IR {self.ir_version}"
            + (f", {self.producer})" if self.producer else ")"),
            "opsets:      " + ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in sorted(self.opsets.items())),
            f"nodes:       {self.node_count} ("
            + ", ".join(f"{op} {n}" for op, n in _top_ops(self.op_counts)) + ")",
        ]
        for prov, rows in self.unsupported.items():
            if not rows:
                lines.append(f"{prov}: every node supported")
                continue
            lines.append(f"{prov}: {len(rows)} unsupported")
            lines.extend(f"  {r['op']} ({r['domain'] or 'ai.onnx'}, opset {r['opset']}) x{r['count']}: "
                         f"{r['reason']}" for r in rows)
        lines.append(f"parameters:  {p['count']:,} in {p['tensors']} tensors, {_mib(p['bytes'])}"
                     + (f" ({_mib(p['external_bytes'])} external)" if p["external_bytes"] else ""))
        lines.extend(f"  {dt:<12} {v['count']:>14,}  {_mib(v['bytes'])}"
                     for dt, v in sorted(p["by_dtype"].items()))
        for kind, vis in (("input", self.inputs), ("output", self.outputs)):
            lines.extend(f"{kind + ':':<12} {v['name']} {v['type']} {v['shape']}" for v in vis)
        dims = {**self.dims, **{k: f"{v} (assumed)" for k, v in self.assumed_dims.items()}}
        lines.append("dims:        " + (", ".join(f"{k}={v}" for k, v in dims.items()) or "-"))
        lines.append(f"peak memory: {_mib(m['peak_bytes'])} estimated = weights "
                     f"{_mib(m['weights_bytes'])} + activations {_mib(m['activation_peak_bytes'])}"
                     + (f" (at node '{m['peak_node']}')" if m["peak_node"] else "")
                     + f" + session {_mib(m['session_bytes'])}")
        if m["unknown_values"]:
            lines.append(f"  {m['unknown_values']} values of unknown size counted as 0 bytes, e.g. "
                         + ", ".join(m["unknown_examples"]))
        lines.append(f"inspected in {self.seconds * 1000:.1f} ms, no weights read")
        return "\n".join(lines)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.2f} MiB" if n >= 2**20 else f"{n:,} B"


def _top_ops(counts: dict[str, dict[str, int]], k: int = 8) -> list[tuple[str, int]]:
    flat = collections.Counter()
    for domain, ops in counts.items():
        for op, n in ops.items():
            flat[op if domain in ("", "ai.onnx") else f"{domain}:{op}"] += n
    top = flat.most_common(k)
    if len(flat) > k:
        top.append((f"+{len(flat) - k} more op types", sum(flat.values()) - sum(n for _, n in top)))
    return top


# --- the entry point ------------------------------------------------------------------


def inspect(
    model: Any,
    dims: Mapping[str, int] | None = None,
    providers: Sequence[str] | None = None,
    optimization_level: int = 99,
) -> InspectReport:
    """Pre-flight report on ``model`` (a path, bytes, binary file object or ModelProto).

    ``dims`` binds symbolic input dims (``{"batch": 4, "seq": 128}``); unbound
    ones are taken as 1 (listed as ``assumed_dims``). ``providers`` names the
    providers to check (default numpy and WebGPU). ``optimization_level``
    says whether load-time constant folding is modelled (it is from 1, as in
    the session). Never reads external data files nor decodes large tensors.
    """
    from .errors import InvalidArgument
    from .shape_inference import infer, metadata_graph

    t0 = time.perf_counter()
    dims = dict(dims or {})
    for k, v in dims.items():
        if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise InvalidArgument(f"inspect: dims must map names to non-negative ints, got {k!r}: {v!r}")
    if hasattr(model, "SerializeToString") and not isinstance(model, (str, bytes)):
        model = model.SerializeToString()  # an onnx.ModelProto (or wasm_rt's own)
    data, _folder, source = read_model_bytes(model)
    proto = parse_model(data, source)
    del data
    opsets = opset_map(proto)
    graph, _ = metadata_graph(proto)
    assumed = {name: 1 for name in _input_symbols(graph) if name not in dims}
    bindings = {**dims, **assumed}
    inference = infer(graph, opsets, bindings)
    wanted = list(providers) if providers else [NUMPY, WEBGPU]
    unknown = [p for p in wanted if p not in (NUMPY, WEBGPU, "CPUExecutionProvider")]
    if unknown:
        raise InvalidArgument(f"inspect: unknown provider(s) {unknown}; use {NUMPY} or {WEBGPU}")
    wanted = [NUMPY if p == "CPUExecutionProvider" else p for p in wanted]
    overridable = {vi.name for vi in graph.inputs if vi.name in graph.initializers} \
        if proto.ir_version >= 4 else set()
    # The memory estimate walks the graph as the session will plan it: the rewrites
    # that run before constant folding (QDQ fusion ...) need no weights, so they run
    # here on a second metadata graph; folding itself is modelled in estimate_memory.
    planned, _ = metadata_graph(proto)
    _structural_passes(planned, opsets, overridable, optimization_level)
    sizes = _Sizes(infer(planned, opsets, bindings).values, bindings)
    report = InspectReport(
        model=source,
        ir_version=int(proto.ir_version),
        producer=" ".join(x for x in (proto.producer_name, proto.producer_version) if x),
        opsets={(o.domain or "ai.onnx"): int(o.version) for o in proto.opset_import},
        node_count=0,
        op_counts={},
        functions={f.name: _count_ops(f.node)[0] for f in proto.functions},
        unsupported={p: _unsupported(graph, opsets, p) for p in dict.fromkeys(wanted)},
        parameters=_parameters(proto.graph),
        inputs=[_io(vi.name, inference) for vi in graph.inputs if vi.name not in graph.initializers],
        outputs=[_io(vi.name, inference) for vi in graph.outputs],
        dims=dims,
        assumed_dims=assumed,
        memory=estimate_memory(planned, opsets, sizes, overridable, optimization_level >= 1),
        inference_problems=list(inference.problems),
    )
    report.op_counts, report.node_count = _count_ops(proto.graph.node)
    report.seconds = time.perf_counter() - t0
    return report


def _structural_passes(graph: Graph, opsets, overridable, level: int) -> None:
    """The session's optimizer passes that come before constant folding, which are
    rewrites of the graph's structure (they see weights' dtypes and small constants)."""
    from .optimizer import PASSES, PassContext
    from .providers import NumpyExecutionProvider

    ctx = PassContext(opsets, [NumpyExecutionProvider()], frozenset(overridable))
    for min_level, name, fn in PASSES:
        if name == "constant_folding":
            return
        if level >= min_level:
            fn(graph, ctx)


def _input_symbols(graph: Graph) -> list[str]:
    names = []
    for vi in graph.inputs:
        for d in vi.shape or ():
            if isinstance(d, str) and d and d not in names:
                names.append(d)
    return names


def _io(name: str, inference) -> dict[str, Any]:
    vt = inference.values.get(name)
    if vt is None:
        return {"name": name, "type": "unknown", "shape": None}
    return {"name": name, "type": vt.type_string,
            "shape": None if vt.shape is None else [symbolic.to_onnx_dim(d) for d in vt.shape]}


# --- counting ---------------------------------------------------------------------------


def _count_ops(nodes) -> tuple[dict[str, dict[str, int]], int]:
    """Op counts per domain over ``nodes`` and the graphs nested in their attributes."""
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    total = 0
    stack = list(nodes)
    while stack:
        n = stack.pop()
        total += 1
        counts[n.domain or "ai.onnx"][n.op_type] += 1
        for a in n.attribute:
            if a.HasField("g"):
                stack.extend(a.g.node)
            for g in a.graphs:
                stack.extend(g.node)
    return {d: dict(sorted(c.items())) for d, c in sorted(counts.items())}, total


def tensor_storage(t: pb.TensorProto) -> tuple[int, int, str | None]:
    """(elements, bytes as stored, external file or None), read from dims, data_type
    and the external_data entries only; the data itself is never touched."""
    count = math.prod(int(d) for d in t.dims)
    bits = _PACKED_BITS.get(t.data_type)
    if bits is None:
        try:
            bits = 8 * (dtypes.to_numpy(t.data_type).itemsize if t.data_type != dtypes.STRING else 0)
        except WasmRtError:  # float6 and unknown codes: nothing wasm_rt could hold
            bits = 0
    nbytes = -(-count * bits // 8)
    location = None
    if t.data_location == pb.TensorProto.EXTERNAL:
        info = {e.key: e.value for e in t.external_data}
        location = str(info.get("location", ""))
        length = str(info.get("length", ""))
        if length.isascii() and length.isdigit():
            nbytes = int(length)
    return count, nbytes, location


def _parameters(g: pb.GraphProto) -> dict[str, Any]:
    by_dtype: dict[str, dict[str, int]] = {}
    files: dict[str, int] = collections.Counter()
    count = nbytes = tensors = external = 0
    stack = [g]
    while stack:
        graph = stack.pop()
        items = [(t, t.data_type) for t in graph.initializer]
        items += [(s.values, s.values.data_type) for s in graph.sparse_initializer]
        for t, code in items:
            n, b, location = tensor_storage(t)
            name = dtypes.type_name(code) if code in dtypes.ONNX_TYPE_NAMES else f"type {code}"
            row = by_dtype.setdefault(name, {"count": 0, "bytes": 0, "tensors": 0})
            row["count"] += n
            row["bytes"] += b
            row["tensors"] += 1
            count, nbytes, tensors = count + n, nbytes + b, tensors + 1
            if location is not None:
                external += b
                files[location] += b
        for node in graph.node:
            for a in node.attribute:
                if a.HasField("g"):
                    stack.append(a.g)
                stack.extend(a.graphs)
    return {"count": count, "bytes": nbytes, "tensors": tensors, "by_dtype": by_dtype,
            "external_bytes": external, "external_files": dict(files)}


# --- providers ---------------------------------------------------------------------------


def _all_nodes(graph: Graph):
    for node in graph.nodes:
        yield node
        for g in node.subgraphs():
            yield from _all_nodes(g)


def _numpy_problem(node: Node, opset: int | None) -> str | None:
    """Why the numpy provider cannot run ``node`` (the planner's checks), or None."""
    if opset is None:
        return f"domain '{node.domain}' is not imported by the model or is not supported"
    kernel = resolve(node.domain, node.op_type, opset)
    if kernel is None:
        return "no kernel for this op at this opset"
    bad = [a for a in node.attrs if a not in kernel.attributes]
    if bad and not kernel.accepts_any_attribute:
        return f"attribute(s) {', '.join(sorted(bad))} not supported by {kernel.qualified_name}"
    if kernel.max_inputs is not None and len(node.inputs) > kernel.max_inputs:
        return f"{len(node.inputs)} inputs given, {kernel.qualified_name} takes {kernel.max_inputs}"
    return None


def _webgpu_problem(node: Node, opset: int | None) -> str | None:
    """Why the WebGPU provider would not claim ``node`` (it then runs on numpy), or None.
    Dtypes and shapes are checked when a GPU segment is first built, not here."""
    from .providers.webgpu.gpu_ops import GPU_OPS
    from .providers.webgpu.provider import HOST_ONLY

    numpy_problem = _numpy_problem(node, opset)
    if numpy_problem is not None:
        return numpy_problem + " (on any provider)"
    if node.domain not in ("", "ai.onnx") or node.op_type not in GPU_OPS:
        return None if node.op_type in HOST_ONLY else "no WebGPU kernel: runs on numpy"
    return None


def _unsupported(graph: Graph, opsets: Mapping[str, int], provider: str) -> list[dict[str, Any]]:
    check = _numpy_problem if provider == NUMPY else _webgpu_problem
    rows: dict[tuple, dict[str, Any]] = {}
    for node in _all_nodes(graph):
        opset = opsets.get(node.domain)
        reason = check(node, opset)
        if reason is None:
            continue
        key = (node.domain, node.op_type, opset, reason)
        row = rows.setdefault(key, {"op": node.op_type, "domain": node.domain or "ai.onnx",
                                    "opset": opset, "count": 0, "nodes": [], "reason": reason})
        row["count"] += 1
        if len(row["nodes"]) < _SHOWN_NODES:
            row["nodes"].append(node.name)
    return sorted(rows.values(), key=lambda r: (r["domain"], r["op"]))


# --- memory -------------------------------------------------------------------------------


class _Sizes:
    """Bytes of a value as numpy holds it, from the inferred type and the bound dims."""

    def __init__(self, values, bindings: Mapping[str, int]):
        self.values = values
        self.bindings = bindings
        self.unknown: list[str] = []
        self._cache: dict[str, int | None] = {}

    def shape(self, name: str) -> tuple[int, ...] | None:
        vt = self.values.get(name)
        if vt is None or vt.shape is None:
            return None
        dims = [d if isinstance(d, int) else symbolic.evaluate(d, self.bindings) for d in vt.shape]
        return None if any(d is None for d in dims) else tuple(dims)

    def itemsize(self, name: str) -> int | None:
        from .shape_inference import numpy_dtype

        vt = self.values.get(name)
        if vt is None or not vt.is_tensor:
            return None
        dt = numpy_dtype(vt.elem_type)
        return None if dt is None else dt.itemsize  # sub-byte types: one value per byte

    def nbytes(self, name: str) -> int:
        if name in self._cache:
            return self._cache[name] or 0
        shape, size = self.shape(name), self.itemsize(name)
        value = None if shape is None or size is None else math.prod(shape) * size
        self._cache[name] = value
        if value is None:
            self.unknown.append(name)
        return value or 0


def _foldable(node: Node, opsets, constants: set[str]) -> bool:
    """The session's constant folding would replace ``node`` by initializers."""
    if node.op_type in NOT_FOLDABLE or node.subgraphs() or not node.outputs:
        return False
    if not all(n in constants for n in node.inputs if n):
        return False
    opset = opsets.get(node.domain)
    kernel = resolve(node.domain, node.op_type, opset) if opset is not None else None
    return kernel is not None and not kernel.context and all(a in kernel.attributes for a in node.attrs)


def _workspace(node: Node, sizes: _Sizes) -> int:
    """Scratch bytes a kernel holds besides its inputs and outputs (the big ones only)."""
    if node.op_type in ("Conv", "ConvInteger", "QLinearConv", "FusedConv") and len(node.inputs) > 1:
        x, w = sizes.shape(node.inputs[0]), sizes.shape(node.inputs[1])
        y = sizes.shape(node.outputs[0]) if node.outputs else None
        item = sizes.itemsize(node.inputs[0]) or 4
        if x is None or w is None or y is None or len(x) < 3:
            return 0
        kernel = math.prod(w[2:])
        strides = node.attrs.get("strides") or [1] * (len(x) - 2)
        pads = node.attrs.get("pads") or [0] * (2 * (len(x) - 2))
        if kernel == 1 and all(s == 1 for s in strides) and not any(pads):
            return 0  # 1x1 convolutions use the input as their column matrix
        # im2col columns (N, C*K, L), plus the padded copy of the input.
        cols = x[0] * x[1] * kernel * math.prod(y[2:]) * item
        padded = 0
        if any(pads) or node.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            spatial = len(x) - 2
            grow = [pads[i] + pads[i + spatial] for i in range(spatial)] if any(pads) else w[2:]
            padded = x[0] * x[1] * math.prod(n + g for n, g in zip(x[2:], grow)) * item
        return cols + padded
    if node.op_type == "MatMulNBits" and node.domain == "com.microsoft":
        # B is dequantized 4 MiB of float32 columns at a time (ops/contrib_quant.py): the
        # unpacked codes, their float32 copy and the gathered scales are alive together.
        k, n = node.attrs.get("K") or 0, node.attrs.get("N") or 0
        return 3 * min(4 * k * n, 1 << 22)
    if node.op_type in _INTEGER_GEMMS and len(node.inputs) > 1:
        return _integer_gemm_scratch(node, sizes)
    if node.op_type in ("MaxPool", "AveragePool", "LpPool"):
        pads = node.attrs.get("pads")
        return sizes.nbytes(node.inputs[0]) if pads and any(pads) else 0
    return 0


# 8-bit products through ops/_qgemm.qgemm_i32 (B is the second input for all of them).
_INTEGER_GEMMS = {"MatMulInteger", "QLinearMatMul", "DynamicQuantizeMatMul",
                  "MatMulIntegerToFloat", "QGemm"}
_QGEMM_CHUNK_BYTES = 1 << 23


def _integer_gemm_scratch(node: Node, sizes: _Sizes) -> int:
    """qgemm_i32 off the SIMD path (desktop): A as float64, B 8 MiB of float64 columns at
    a time, the float64 product and its int64 copy; QLinearMatMul's A input is input 0,
    its B input 3."""
    b_name = node.inputs[3] if node.op_type == "QLinearMatMul" and len(node.inputs) > 3 \
        else node.inputs[1]
    a, b = sizes.shape(node.inputs[0]), sizes.shape(b_name)
    y = sizes.shape(node.outputs[0]) if node.outputs else None
    if a is None or b is None or y is None or len(b) < 2:
        return 0
    product = 8 * math.prod(y)
    return 8 * math.prod(a) + min(8 * math.prod(b), _QGEMM_CHUNK_BYTES) + 2 * product


def estimate_memory(graph: Graph, opsets, sizes: _Sizes, overridable=frozenset(),
                    fold: bool = True) -> dict[str, Any]:
    """Weights + the largest live set of activations over the plan (see module doc)."""
    constants = set(graph.initializers) - set(overridable)
    folded: set[str] = set()
    steps: list[Node] = []
    for node in graph.nodes:
        if fold and _foldable(node, opsets, constants):
            outs = {o for o in node.outputs if o}
            constants |= outs
            folded |= outs
        else:
            steps.append(node)
    # Dead-node elimination, then the constants some remaining node (or output) reads.
    needed = {vi.name for vi in graph.outputs}
    kept: list[Node] = []
    for node in reversed(steps):
        if not fold or any(o in needed for o in node.outputs if o):
            kept.append(node)
            needed.update(n for n in node.inputs if n)
            for g in node.subgraphs():
                needed |= g.outer_refs()
    kept.reverse()
    resident = {n for n in constants if n in needed} | (set(graph.initializers) & set(overridable))
    if not fold:
        resident = set(graph.initializers)
    weights = sum(_constant_bytes(graph, n, sizes) for n in resident)
    if fold:
        weights += _bn_fusion_bytes(graph, kept, constants, sizes)
    activations, at = _activation_peak(graph, kept, resident, sizes, opsets)
    nodes = len(kept) + sum(_node_total(g) for node in kept for g in node.subgraphs())
    overhead = SESSION_BYTES_PER_NODE * nodes
    return {
        "weights_bytes": int(weights),
        "activation_peak_bytes": int(activations),
        "session_bytes": int(overhead),
        "peak_bytes": int(weights + activations + overhead),
        "peak_node": at,
        "folded_constants": len(folded & resident),
        "unknown_values": len(sizes.unknown),
        "unknown_examples": sizes.unknown[:_SHOWN_NODES],
    }


def _node_total(g: Graph) -> int:
    return len(g.nodes) + sum(_node_total(s) for node in g.nodes for s in node.subgraphs())


def _bn_fusion_bytes(graph: Graph, steps: list[Node], constants: set[str], sizes: _Sizes) -> int:
    """Conv + inference BatchNormalization fused at load: new W and B initializers
    replace the originals, which optimizer/fusion.py drops when nothing else reads them;
    the difference (new B minus the BN parameters and old B) is what this returns."""
    readers = collections.Counter(n for node in steps for n in node.inputs if n)
    outputs = {vi.name for vi in graph.outputs}
    producers = {node.outputs[0]: node for node in steps if node.op_type == "Conv" and node.outputs}
    extra = 0
    for bn in steps:
        if bn.op_type != "BatchNormalization" or bn.domain or len(bn.inputs) != 5:
            continue
        conv = producers.get(bn.inputs[0])
        if conv is None or conv.domain or len(conv.outputs) != 1 or len(conv.inputs) < 2:
            continue
        if readers[conv.outputs[0]] != 1 or conv.outputs[0] in outputs:
            continue
        if not all(n in constants for n in list(conv.inputs[1:]) + list(bn.inputs[1:]) if n):
            continue
        if bn.attrs.get("training_mode", 0) or bn.attrs.get("spatial", 1) != 1:
            continue
        w = _constant_bytes(graph, conv.inputs[1], sizes)
        shape = sizes.shape(conv.inputs[1])
        channels = shape[0] if shape else 0
        extra += w + channels * (sizes.itemsize(conv.inputs[1]) or 4)
        originals = {n for n in list(conv.inputs[1:]) + list(bn.inputs[1:]) if n}
        extra -= sum(_constant_bytes(graph, n, sizes) for n in originals if readers[n] == 1)
    return extra


def _constant_bytes(graph: Graph, name: str, sizes: _Sizes) -> int:
    value = graph.initializers.get(name)
    if value is not None and hasattr(value, "shape") and hasattr(value, "dtype"):
        return math.prod(int(d) for d in value.shape) * np.dtype(value.dtype).itemsize
    return sizes.nbytes(name)


def _activation_peak(graph: Graph, steps: list[Node], constants: set[str], sizes: _Sizes,
                     opsets) -> tuple[int, str]:
    """Walks the steps freeing values after their last use (executor._compute_releases)."""
    keep = {vi.name for vi in graph.outputs} | constants | set(graph.initializers)
    last_use: dict[str, int] = {}
    for i, node in enumerate(steps):
        reads = {n for n in node.inputs if n}
        for g in node.subgraphs():
            reads |= g.outer_refs()
        for name in reads:
            last_use[name] = i
        for name in node.outputs:
            if name and name not in last_use:
                last_use[name] = i
    release: dict[int, list[str]] = collections.defaultdict(list)
    for name, i in last_use.items():
        if name not in keep:
            release[i].append(name)
    live: dict[str, int] = {}
    for vi in graph.inputs:
        if vi.name not in graph.initializers and (vi.name in last_use or vi.name in keep):
            live[vi.name] = sizes.nbytes(vi.name)
    current = sum(live.values())
    peak, at = current, ""
    for i, node in enumerate(steps):
        outs = [o for o in node.outputs if o and o not in live]
        made = sum(sizes.nbytes(o) for o in outs)
        scratch = _workspace(node, sizes)
        for g in node.subgraphs():
            inner, _ = _activation_peak(g, g.nodes, set(g.initializers), sizes, opsets)
            scratch = max(scratch, inner)
        if current + made + scratch > peak:
            peak, at = current + made + scratch, node.name
        for o in outs:
            live[o] = sizes.nbytes(o)
        current += made
        for name in release.get(i, ()):
            current -= live.pop(name, 0)
    return peak, at
