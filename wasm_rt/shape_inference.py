"""Symbolic shape and type inference over a wasm_rt graph.

Every value gets a :class:`ValueType`: an element type name ('float',
'int64', ... or 'seq(tensor(float))' for non-tensors, 'unknown' when nothing
is known) and a shape of ints and :class:`~wasm_rt.symbolic.Dim` expressions
(None when even the rank is unknown).  Dims that nothing determines become
fresh anonymous symbols (``unk__N``), so equal unknowns stay equal downstream.

The rules live next to the kernels and are found through the registry
(:func:`wasm_rt.registry.lookup_rule`); this module walks the graph, feeds
each rule its inputs' types plus the values of small integer tensors (shape
computations: ``Shape -> Gather -> Concat -> Reshape``) and merges the result
with what the model declares in ``value_info``.  Disagreements, failing rules
and ops without a rule are recorded in :attr:`Inference.problems`; inference
itself never raises for a graph the executor can run.

Initializers may be numpy arrays or :class:`TensorMeta` (dims and dtype only):
:func:`metadata_graph` builds a graph from a ModelProto without reading
external data or large tensors, for a pre-flight report.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import dtypes, symbolic
from .errors import WasmRtError
from .ir import Graph, Node, ValueInfo
from .registry import _load_ops, lookup_rule
from .symbolic import Dim, DimLike

# Values kept for data propagation: small tensors only (shapes, axes, pads).
MAX_PROPAGATED = 256


@dataclass(frozen=True)
class ValueType:
    """Element type name ('float', 'int64', 'seq(tensor(float))', 'unknown') and shape."""

    elem_type: str
    shape: tuple[DimLike, ...] | None = None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_tensor(self) -> bool:
        return self.elem_type != "unknown" and "(" not in self.elem_type

    @property
    def type_string(self) -> str:
        """onnxruntime's spelling: 'tensor(float)', 'seq(tensor(int64))', 'unknown'."""
        return f"tensor({self.elem_type})" if self.is_tensor else self.elem_type

    def numel(self) -> DimLike | None:
        if self.shape is None:
            return None
        n: DimLike = 1
        for d in self.shape:
            n = symbolic.mul(n, d)
        return n

    def __str__(self) -> str:
        shape = (
            "?"
            if self.shape is None
            else "[" + ", ".join(str(d) for d in self.shape) + "]"
        )
        return f"{self.elem_type}{shape}"


UNKNOWN = ValueType("unknown", None)
_UNSEEN = object()


@dataclass
class TensorMeta:
    """An initializer known by dims and dtype only (its data not read)."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass
class Inference:
    values: dict[str, ValueType] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # Known contents of small tensors (object arrays when they hold Dims).
    constants: dict[str, np.ndarray] = field(default_factory=dict)

    def onnx_shape(self, name: str) -> list[int | str | None] | None:
        """A value's shape as onnxruntime's NodeArg.shape shows it (None: rank unknown)."""
        vt = self.values.get(name)
        if vt is None or vt.shape is None:
            return None
        return [public_dim(d) for d in vt.shape]


def public_dim(d: DimLike) -> int | str | None:
    """Anonymous symbols (and expressions of them) show as None, as in onnxruntime."""
    if isinstance(d, int):
        return d
    if any(s.startswith("unk__") for s in d.symbols):
        return None
    return str(d)


def type_name_of(dtype) -> str:
    code = dtypes.from_numpy_or_none(np.dtype(dtype)) if dtype is not None else None
    return dtypes.type_name(code) if code is not None else "unknown"


def numpy_dtype(elem_type: str):
    """The numpy dtype of an element type name, or None."""
    code = _NAME_TO_CODE.get(elem_type)
    if code is None:
        return None
    try:
        return dtypes.to_numpy(code)
    except WasmRtError:
        return None


_NAME_TO_CODE = {v: k for k, v in dtypes.ONNX_TYPE_NAMES.items()}


def numpy_dtype_of_code(code: int):
    """The numpy dtype of an ONNX element type code, or None."""
    return numpy_dtype(dtypes.type_name(int(code)))


def itemsize(elem_type: str) -> float:
    """Bytes per element (sub-byte types count as fractions), 8 for unknown/strings."""
    if elem_type in ("uint4", "int4", "float4e2m1"):
        return 0.5
    if elem_type in ("uint2", "int2"):
        return 0.25
    dt = numpy_dtype(elem_type)
    if dt is None or dt == np.dtype(object):
        return 8
    return dt.itemsize


class RuleError(Exception):
    """A rule found the node's inputs inconsistent (recorded as a problem)."""


class RuleContext:
    """What a shape rule sees: the node, its input types and known input values."""

    def __init__(
        self,
        node: Node,
        opset: int,
        inputs: list[ValueType | None],
        values: list[np.ndarray | None],
        fresh: Callable[[], Dim],
        subgraph: Callable[[Graph, list[ValueType | None]], list[ValueType | None]],
        opsets: Mapping[str, int] | None = None,
    ):
        self.node = node
        self.opset = opset
        self.attrs = node.attrs
        self.inputs = inputs
        self._values = values
        self._fresh = fresh
        self._subgraph = subgraph
        self.opsets = opsets or {}
        self.num_outputs = len(node.outputs)
        # Rules may record output contents here (data propagation).
        self.out_values: dict[int, np.ndarray] = {}

    # --- inputs ---------------------------------------------------------------

    def input(self, i: int) -> ValueType | None:
        """Input ``i``'s type; None when omitted or unknown."""
        if i >= len(self.inputs):
            return None
        vt = self.inputs[i]
        return (
            None if vt is None or vt.elem_type == "unknown" and vt.shape is None else vt
        )

    def has(self, i: int) -> bool:
        return i < len(self.node.inputs) and bool(self.node.inputs[i])

    def shape(self, i: int) -> tuple[DimLike, ...] | None:
        vt = self.input(i)
        return None if vt is None else vt.shape

    def elem(self, i: int) -> str:
        vt = self.input(i)
        return "unknown" if vt is None else vt.elem_type

    def rank(self, i: int) -> int | None:
        s = self.shape(i)
        return None if s is None else len(s)

    def value(self, i: int) -> np.ndarray | None:
        """Input ``i``'s contents when known (object dtype when they hold Dims)."""
        return self._values[i] if i < len(self._values) else None

    def ints(self, i: int) -> list[int] | None:
        """Input ``i`` as concrete ints, or None."""
        v = self.value(i)
        if v is None:
            return None
        flat = v.reshape(-1).tolist()
        if not all(
            isinstance(x, (int, np.integer)) or (isinstance(x, float) and x == int(x))
            for x in flat
        ):
            return None
        return [int(x) for x in flat]

    def dims(self, i: int) -> list[DimLike] | None:
        """Input ``i`` (a shape-like 1-D int tensor) as dims, symbolic ones included."""
        v = self.value(i)
        if v is None:
            return None
        return [as_dim(x) for x in v.reshape(-1).tolist()]

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    # --- outputs --------------------------------------------------------------

    def fresh(self) -> Dim:
        """A new anonymous symbol (a data-dependent or unknowable dim)."""
        return self._fresh()

    def fresh_shape(self, rank: int) -> tuple[Dim, ...]:
        return tuple(self._fresh() for _ in range(rank))

    def infer_subgraph(
        self, graph: Graph, inputs: list[ValueType | None]
    ) -> list[ValueType | None]:
        """The output types of ``graph`` with its inputs typed as ``inputs``."""
        return self._subgraph(graph, inputs)

    def set_value(self, i: int, value) -> None:
        arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
        if arr.size <= MAX_PROPAGATED:
            self.out_values[i] = arr


def as_dim(x) -> DimLike:
    if isinstance(x, Dim):
        return x
    return int(x)


def known_array(x) -> np.ndarray | None:
    """A numpy array holding ``x`` with Dims simplified to ints where possible."""
    if isinstance(x, np.ndarray) and x.dtype != object:
        return x
    arr = np.asarray(x, dtype=object)
    flat = [
        as_dim(v) if isinstance(v, (Dim, int, np.integer)) else v
        for v in arr.reshape(-1)
    ]
    if all(isinstance(v, int) for v in flat):
        return np.array(flat, dtype=np.int64).reshape(arr.shape)
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(arr.shape)


# --- the walk ------------------------------------------------------------------


class _Walker:
    def __init__(self, opsets: Mapping[str, int], dims: Mapping[str, int] | None):
        self.opsets = opsets
        self.dims = dict(dims or {})
        self.result = Inference()
        self._counter = itertools.count()
        self._rules: dict[tuple[str, str, int], Callable | None] = {}

    def fresh(self) -> Dim:
        return symbolic.sym(f"unk__{next(self._counter)}")

    # Declared types -> ValueType.

    def declared(self, vi: ValueInfo, anonymous: bool = True) -> ValueType:
        if vi.kind == "tensor":
            elem = dtypes.type_name(vi.elem_type) if vi.elem_type else "unknown"
            if elem.startswith("<"):
                elem = "unknown"
            if vi.shape is None:
                return ValueType(elem, None)
            return ValueType(
                elem, tuple(self._declared_dim(d, anonymous) for d in vi.shape)
            )
        if vi.kind == "unknown" or not vi.type_string:
            return UNKNOWN
        return ValueType(vi.type_string, None)

    def _declared_dim(self, d, anonymous: bool) -> DimLike:
        if isinstance(d, int):
            return d
        if isinstance(d, str) and d:
            if d in self.dims:
                return int(self.dims[d])
            return symbolic.substitute(symbolic.parse_param(d), self.dims)
        return self.fresh() if anonymous else None  # type: ignore[return-value]

    def constant_type(self, name: str, arr) -> ValueType:
        if isinstance(arr, TensorMeta):
            return ValueType(type_name_of(arr.dtype), tuple(int(d) for d in arr.shape))
        if isinstance(arr, np.ndarray):
            if arr.size <= MAX_PROPAGATED and arr.dtype.kind in "biuf":
                self.result.constants[name] = arr
            return ValueType(type_name_of(arr.dtype), tuple(int(d) for d in arr.shape))
        shape = getattr(arr, "shape", None)  # sparse initializers
        dtype = getattr(arr, "dtype", None)
        return ValueType(
            type_name_of(dtype), tuple(int(d) for d in shape) if shape else None
        )

    def graph(
        self,
        graph: Graph,
        scope: dict[str, ValueType],
        input_types: Sequence[ValueType | None] | None = None,
    ) -> list[ValueType | None]:
        values = self.result.values
        local = dict(scope)
        for name, arr in graph.initializers.items():
            local[name] = values[name] = self.constant_type(name, arr)
        for k, vi in enumerate(graph.inputs):
            if vi.name in graph.initializers and input_types is None:
                continue
            vt = self.declared(vi)
            given = (
                input_types[k]
                if input_types is not None and k < len(input_types)
                else None
            )
            if given is not None:
                vt = self.merge(vi.name, given, vt, report=False)
            local[vi.name] = values[vi.name] = vt
        for node in graph.nodes:
            self.node(node, local, graph)
        outs = []
        for vi in graph.outputs:
            got = local.get(vi.name)
            decl = self.declared(vi, anonymous=False)
            vt = self.merge(vi.name, got, decl) if got is not None else decl
            local[vi.name] = values[vi.name] = vt
            outs.append(vt)
        return outs

    def node(self, node: Node, local: dict[str, ValueType], graph: Graph) -> None:
        values, consts = self.result.values, self.result.constants
        in_types = [local.get(n) if n else None for n in node.inputs]
        in_vals = [consts.get(n) if n else None for n in node.inputs]
        opset = self.opsets.get(node.domain)
        out_types: list[ValueType | None] = []
        ctx = None
        if opset is not None:
            key = (node.domain, node.op_type, opset)
            rule = self._rules.get(key, _UNSEEN)
            if rule is _UNSEEN:
                rule = self._rules[key] = lookup_rule(*key)
            if rule is None:
                self.result.problems.append(
                    f"{node.describe()}: no shape inference rule"
                )
            else:
                ctx = RuleContext(
                    node,
                    opset,
                    in_types,
                    in_vals,
                    self.fresh,
                    lambda g, ts: self.graph(g, local, ts),
                    self.opsets,
                )
                try:
                    got = rule(ctx)
                    out_types = list(got) if isinstance(got, (list, tuple)) else [got]
                except Exception as e:  # noqa: BLE001 - a failing rule must not stop the session
                    self.result.problems.append(
                        f"{node.describe()}: shape inference failed: {type(e).__name__}: {e}"
                    )
                    out_types, ctx = [], None
        for k, name in enumerate(node.outputs):
            if not name:
                continue
            vt = out_types[k] if k < len(out_types) else None
            vt = _tidy(vt, self.fresh) if vt is not None else UNKNOWN
            decl = graph.value_info.get(name)
            if decl is not None:
                vt = self.merge(name, vt, self.declared(decl, anonymous=False))
            local[name] = values[name] = vt
            if ctx is not None and k in ctx.out_values:
                known = known_array(ctx.out_values[k])
                if known.dtype != object or not any(
                    _too_big(x) for x in known.reshape(-1)
                ):
                    consts[name] = known

    def merge(
        self, name: str, ours: ValueType | None, decl: ValueType, report: bool = True
    ) -> ValueType:
        """Our type refined by a declared one; disagreements become problems."""
        if (
            ours is None
            or ours is UNKNOWN
            or ours.elem_type == "unknown"
            and ours.shape is None
        ):
            if decl.shape is None:
                return decl
            return ValueType(
                decl.elem_type,
                tuple(d if d is not None else self.fresh() for d in decl.shape),
            )
        elem = ours.elem_type
        if decl.elem_type != "unknown" and elem != decl.elem_type:
            if elem != "unknown" and report:
                self.result.problems.append(
                    f"value '{name}': declared type {decl.elem_type}, inferred {elem}"
                )
            if elem == "unknown":
                elem = decl.elem_type
        if decl.shape is None:
            return ValueType(elem, ours.shape)
        if ours.shape is None:
            return ValueType(
                elem, tuple(d if d is not None else self.fresh() for d in decl.shape)
            )
        if len(ours.shape) != len(decl.shape):
            if report:
                self.result.problems.append(
                    f"value '{name}': declared rank {len(decl.shape)} "
                    f"{_fmt(decl.shape)}, inferred rank {len(ours.shape)} {_fmt(ours.shape)}"
                )
            return ValueType(elem, ours.shape)
        dims = []
        for a, b in zip(ours.shape, decl.shape):
            if b is None:
                dims.append(a)
            elif isinstance(a, int) and isinstance(b, int):
                if a != b and report:
                    self.result.problems.append(
                        f"value '{name}': declared shape {_fmt(decl.shape)}, "
                        f"inferred {_fmt(ours.shape)}"
                    )
                    report = False
                dims.append(a)
            elif isinstance(a, int):
                dims.append(
                    a
                )  # our concrete dim is more specific than a declared symbol
            else:
                # The declared dim (a value or a name) refines a symbolic one of ours.
                dims.append(b if isinstance(b, int) or public_dim(a) is None else a)
        return ValueType(elem, tuple(dims))


def _fmt(shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


# Expressions past this size become fresh symbols, so a hostile graph cannot make
# inference slow by growing polynomials ((n + 1)**k ...).
MAX_TERMS = 16
MAX_DEGREE = 6


def _too_big(d: DimLike) -> bool:
    return isinstance(d, Dim) and (
        len(d.terms) > MAX_TERMS or max(len(m) for m in d.terms) > MAX_DEGREE
    )


def _tidy(vt: ValueType, fresh: Callable[[], Dim]) -> ValueType:
    if vt.shape is None or all(type(d) is int for d in vt.shape):
        return vt
    return ValueType(
        vt.elem_type, tuple(fresh() if _too_big(d) else as_dim(d) for d in vt.shape)
    )


def infer(
    graph: Graph, opsets: Mapping[str, int], dims: Mapping[str, int] | None = None
) -> Inference:
    """Types and shapes of every value of ``graph`` (subgraphs included).

    ``dims`` binds symbolic input dims (``{"batch": 4}``) so shapes come out
    concrete where they depend only on those.
    """
    _load_ops()
    walker = _Walker({k if k != "ai.onnx" else "": v for k, v in opsets.items()}, dims)
    walker.graph(graph, {})
    return walker.result


# --- one node with concrete inputs (run-time allocation checks) ------------------


def node_output_types(
    node: Node, opset: int, args: Sequence[Any], opsets: Mapping[str, int] | None = None
) -> list[ValueType | None] | None:
    """Output types of ``node`` for actual input values ``args``; None without a rule."""
    rule = lookup_rule(node.domain, node.op_type, opset)
    if rule is None:
        return None
    types: list[ValueType | None] = []
    vals: list[np.ndarray | None] = []
    for a in args:
        if a is None:
            types.append(None)
            vals.append(None)
            continue
        shape = getattr(a, "shape", None)
        dtype = getattr(a, "dtype", None)
        if shape is None:
            types.append(UNKNOWN)
            vals.append(None)
            continue
        types.append(ValueType(type_name_of(dtype), tuple(int(d) for d in shape)))
        size = getattr(a, "size", MAX_PROPAGATED + 1)
        vals.append(
            a
            if size <= MAX_PROPAGATED and dtype is not None and dtype.kind in "biuf"
            else None
        )
    counter = itertools.count()
    ctx = RuleContext(
        node,
        opset,
        types,
        vals,
        lambda: symbolic.sym(f"unk__{next(counter)}"),
        lambda g, ts: [None] * len(g.outputs),
        opsets,
    )
    got = rule(ctx)
    return list(got) if isinstance(got, (list, tuple)) else [got]


# --- graphs from metadata only -------------------------------------------------------


def metadata_graph(model, max_elements: int = MAX_PROPAGATED):
    """``(graph, opsets)`` from a ModelProto, its bytes or a path, without reading
    external data.

    Initializers stored externally or holding more than ``max_elements``
    elements become :class:`TensorMeta` (dims and dtype); small ones are read
    so shape computations that use them (Reshape shapes, Slice starts) infer.
    """
    from .ir import build_model_graph
    from .proto import onnx_ir_pb2 as pb
    from .tensor import ExternalData

    proto = pb.ModelProto()
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as f:
            proto.ParseFromString(f.read())
    elif isinstance(model, (bytes, bytearray, memoryview)):
        proto.ParseFromString(bytes(model))
    elif isinstance(model, pb.ModelProto):
        proto.CopyFrom(model)
    else:  # another protobuf ModelProto class (onnx's)
        proto.ParseFromString(model.SerializeToString())
    metas: dict[str, TensorMeta] = {}

    def strip(g):
        for t in g.initializer:
            n = int(np.prod(list(t.dims), dtype=np.int64)) if len(t.dims) else 1
            if t.data_location == pb.TensorProto.EXTERNAL or n > max_elements:
                try:
                    dt = dtypes.to_numpy(t.data_type)
                except WasmRtError:
                    dt = np.dtype(np.uint8)
                metas[t.name] = TensorMeta(tuple(int(d) for d in t.dims), dt)
                name, keep_type = t.name, t.data_type
                t.Clear()
                t.name, t.data_type = name, keep_type
                t.dims.append(0)
        for node in g.node:
            for a in node.attribute:
                if a.HasField("g"):
                    strip(a.g)
                for sub in a.graphs:
                    strip(sub)

    strip(proto.graph)
    graph = build_model_graph(proto, ExternalData(None, {}))

    def restore(g: Graph):
        for name in list(g.initializers):
            if name in metas:
                g.initializers[name] = metas[name]
        for node in g.nodes:
            for sub in node.subgraphs():
                restore(sub)

    restore(graph)
    opsets = {
        ("" if o.domain in ("", "ai.onnx") else o.domain): int(o.version)
        for o in proto.opset_import
    }
    return graph, opsets


# --- what a session reports ---------------------------------------------------------


def session_inference(graph: Graph, opsets: Mapping[str, int]) -> Inference:
    """``infer`` for a session: never raises, and reports disagreements with the
    model's declared types through the ``wasm_rt`` logger (warning level)."""
    from .environment import logger

    try:
        result = infer(graph, opsets)
    except Exception as e:  # noqa: BLE001 - inference must never stop a runnable model
        result = Inference(
            problems=[f"shape inference failed: {type(e).__name__}: {e}"]
        )
    for p in result.problems:
        if "declared" in p:
            logger.warning("shape inference: %s", p)
        else:
            logger.debug("shape inference: %s", p)
    return result


def node_arg_fields(vi: ValueInfo, inferred: Inference | None) -> tuple[str, list]:
    """(type string, shape) for NodeArg: the declaration, completed by inference
    where it leaves the type or dims open (symbolic dims as strings, as onnxruntime)."""
    declared_shape = list(vi.shape) if vi.shape is not None else None
    type_string = vi.type_string or "unknown"
    vt = inferred.values.get(vi.name) if inferred is not None else None
    if vt is None:
        return type_string, declared_shape or []
    if type_string == "unknown":
        type_string = vt.type_string
    if vt.shape is None or vi.kind not in ("tensor", "unknown"):
        return type_string, declared_shape or []
    if declared_shape is not None and len(declared_shape) != len(vt.shape):
        return type_string, declared_shape  # a disagreement, reported in problems
    shape = []
    for k, d in enumerate(vt.shape):
        decl = declared_shape[k] if declared_shape is not None else None
        shape.append(decl if decl not in (None, "") else public_dim(d))
    return type_string, shape
