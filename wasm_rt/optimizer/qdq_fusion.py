"""QDQ fusion: DequantizeLinear -> op -> QuantizeLinear groups become integer ops.

What onnxruntime's QDQSelectorActionTransformer does at its extended level on
the CPU provider (and onnxruntime-web's wasm provider), so that a static QDQ
model computes what onnxruntime computes: onnxruntime runs the fused integer
kernel, whose rounding differs from the float op between a DQ and a Q by one
code now and then. Rules, each matched only where onnxruntime matches it:

* MatMul (DQ A, DQ B, Q Y) -> QLinearMatMul; Conv (DQ X, DQ W, optional DQ
  int32 bias, Q Y) -> QLinearConv; Gemm (DQ A, DQ B, optional DQ int32 C with
  beta 1, optional Q Y) -> com.microsoft QGemm. The activation must be uint8:
  onnxruntime's x86 and wasm builds allow int8 activations only on ARM. W/B may
  be per tensor or per output channel (Conv axis 0, MatMul/Gemm per column).
* Add, Mul -> QLinearAdd, QLinearMul; Softmax, Sigmoid, LeakyRelu,
  AveragePool, GlobalAveragePool -> their com.microsoft QLinear form; Concat ->
  QLinearConcat; Where -> QLinearWhere (inputs, output of one 8-bit type).
* Data-movement ops between a DQ and a Q of the same scale and zero point
  (Reshape, Transpose, Gather, ...) run on the 8-bit values: Q(op(DQ(q))) is
  op(q) exactly there, so dropping the pair changes nothing but the work.

* A weight-only DequantizeLinear (2/4/8-bit, blocked, per tensor or per
  column) feeding MatMul/Gemm -> com.microsoft MatMulNBits
  (``dq_matmul_nbits``), keeping the weight packed.

Every scale and zero point must be a constant initializer, activations per
tensor; a DQ whose output has other consumers stays for them. Runs before
constant folding, which would otherwise turn DQ(weight) into float32 weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..ir import Graph, Node
from .dq_matmul_nbits import fuse_dq_matmul_nbits

if TYPE_CHECKING:
    from . import PassContext

MS = "com.microsoft"
_U8, _I8 = np.dtype(np.uint8), np.dtype(np.int8)
_UNARY = {"Softmax", "Sigmoid", "LeakyRelu", "AveragePool", "GlobalAveragePool"}
# Q(op(DQ(q))) == op(q) when DQ and Q share their parameters (positive scale).
_DROP = {
    "Reshape", "Transpose", "Gather", "Squeeze", "Unsqueeze", "Flatten", "Expand",
    "Slice", "Identity", "MaxPool", "Tile", "GatherElements", "DepthToSpace",
    "SpaceToDepth",
}  # fmt: skip


@dataclass
class _QParams:
    node: Node  # the DequantizeLinear or QuantizeLinear
    x: str  # its quantized side: DQ input 0, Q output 0
    scale: str
    zero_point: str  # "" when absent
    dtype: np.dtype
    per_tensor: bool
    axis: int


class _View:
    def __init__(self, graph: Graph, ctx: PassContext):
        self.graph = graph
        self.consts = {
            k: v for k, v in graph.initializers.items() if k not in ctx.overridable
        }
        self.producer = {o: n for n in graph.nodes for o in n.outputs if o}
        self.consumers: dict[str, list[Node]] = {}
        for node in graph.nodes:
            for name in node.inputs:
                self.consumers.setdefault(name, []).append(node)
            for g in node.subgraphs():
                for name in g.outer_refs():
                    self.consumers.setdefault(name, []).append(node)
        self.outputs = {vi.name for vi in graph.outputs}

    def _params(self, node: Node, x: str) -> _QParams | None:
        ins = node.inputs + [""] * (3 - len(node.inputs))
        scale, zp = ins[1], ins[2]
        if scale not in self.consts or (zp and zp not in self.consts):
            return None
        if node.attrs.get("block_size", 0) or node.attrs.get("output_dtype", 0):
            return None
        s = self.consts[scale]
        if s.dtype != np.float32 or not np.all(np.isfinite(s)) or np.any(s <= 0):
            return None
        if zp:
            dtype = self.consts[zp].dtype
        elif node.op_type == "DequantizeLinear" and x in self.consts:
            dtype = self.consts[x].dtype
        else:
            dtype = _U8 if node.op_type == "QuantizeLinear" else None
        if dtype is None:
            return None
        return _QParams(
            node,
            x,
            scale,
            zp,
            np.dtype(dtype),
            s.size == 1,
            int(node.attrs.get("axis", 1)),
        )

    def dq(self, name: str) -> _QParams | None:
        node = self.producer.get(name)
        if node is None or node.op_type != "DequantizeLinear" or node.domain:
            return None
        return self._params(node, node.inputs[0])

    def q_after(self, node: Node) -> _QParams | None:
        """The one QuantizeLinear that alone reads ``node``'s only output."""
        outs = [o for o in node.outputs if o]
        if len(outs) != 1 or outs[0] in self.outputs:
            return None
        users = self.consumers.get(outs[0], [])
        if len(users) != 1 or users[0].op_type != "QuantizeLinear" or users[0].domain:
            return None
        q = users[0]
        if q.inputs[0] != outs[0] or q.attrs.get("saturate", 1) != 1:
            return None
        p = self._params(q, q.outputs[0])
        return p if p is not None and p.per_tensor and p.zero_point else None

    def same(self, a: _QParams, b: _QParams) -> bool:
        za = self.consts[a.zero_point] if a.zero_point else np.zeros((), a.dtype)
        zb = self.consts[b.zero_point] if b.zero_point else np.zeros((), b.dtype)
        return (
            a.dtype == b.dtype
            and a.per_tensor
            and b.per_tensor
            and float(self.consts[a.scale].reshape(-1)[0])
            == float(self.consts[b.scale].reshape(-1)[0])
            and int(za.reshape(-1)[0]) == int(zb.reshape(-1)[0])
        )

    def zp_or_zero(self, p: _QParams) -> str:
        """p's zero point, or a new zero initializer of its type."""
        if p.zero_point:
            return p.zero_point
        shape = self.consts[p.scale].shape
        name = f"{p.scale}__qdq_zero_point"
        self.graph.initializers[name] = self.consts[name] = np.zeros(shape, p.dtype)
        return name


def _triple(v: _View, p: _QParams) -> list[str]:
    return [p.x, p.scale, v.zp_or_zero(p)]


def _per_column_ok(v: _View, p: _QParams, rank: int, n_axis: int) -> bool:
    """Per tensor, or per axis along the output-channel axis of the weight."""
    if p.per_tensor:
        return True
    return p.axis in (n_axis, n_axis - rank) and v.consts[p.scale].ndim == 1


def _rank(v: _View, name: str) -> int | None:
    return v.consts[name].ndim if name in v.consts else None


def _match(v: _View, node: Node, opset: int) -> tuple[Node, list[Node]] | None:
    """(replacement, nodes it absorbs besides the target and DQs), or None."""
    op = node.op_type
    if node.domain or not node.inputs:
        return None
    if op in _DROP:
        src = v.dq(node.inputs[0])
        q = v.q_after(node)
        if src is None or q is None or not v.same(src, q):
            return None
        repl = Node(
            node.name, op, "", [src.x] + node.inputs[1:], [q.x], dict(node.attrs)
        )
        return repl, [q.node]
    q = v.q_after(node)
    if op in ("MatMul", "Conv", "Gemm"):
        return _match_gemm(v, node, q)
    if q is None:
        return None
    ins = [v.dq(n) if n else None for n in node.inputs]
    if op in ("Add", "Mul") and len(ins) == 2:
        if not all(p and p.per_tensor and p.dtype == q.dtype for p in ins):
            return None
        inputs = _triple(v, ins[0]) + _triple(v, ins[1]) + [q.scale, q.zero_point]
        return Node(node.name, f"QLinear{op}", MS, inputs, [q.x], {}), [q.node]
    if op in _UNARY and len(ins) == 1:
        p = ins[0]
        if not (p and p.per_tensor and p.dtype == q.dtype):
            return None
        attrs = dict(node.attrs)
        if op == "Softmax":
            attrs["opset"] = opset
        inputs = _triple(v, p) + [q.scale, q.zero_point]
        return Node(node.name, f"QLinear{op}", MS, inputs, [q.x], attrs), [q.node]
    if op == "Concat":
        if not all(p and p.per_tensor and p.dtype == q.dtype for p in ins):
            return None
        inputs = [q.scale, q.zero_point] + [n for p in ins for n in _triple(v, p)]
        return Node(node.name, "QLinearConcat", MS, inputs, [q.x], dict(node.attrs)), [
            q.node
        ]
    if op == "Where" and len(ins) == 3:
        a, b = ins[1], ins[2]
        if not all(p and p.per_tensor and p.dtype == q.dtype for p in (a, b)):
            return None
        inputs = (
            [node.inputs[0]] + _triple(v, a) + _triple(v, b) + [q.scale, q.zero_point]
        )
        return Node(node.name, "QLinearWhere", MS, inputs, [q.x], {}), [q.node]
    return None


def _match_gemm(v: _View, node: Node, q: _QParams | None):
    op = node.op_type
    a, b = v.dq(node.inputs[0]), v.dq(node.inputs[1]) if len(node.inputs) > 1 else None
    if a is None or b is None or not a.per_tensor or a.dtype != _U8:
        return None
    if b.dtype not in (_U8, _I8) or (q is not None and q.dtype != a.dtype):
        return None
    has_bias = len(node.inputs) > 2 and bool(node.inputs[2])
    bias = v.dq(node.inputs[2]) if has_bias else None
    if has_bias and (bias is None or bias.dtype != np.int32):
        return None
    absorbed = [] if q is None else [q.node]
    if op == "MatMul":
        rank = _rank(v, b.x)
        if q is None or not (
            b.per_tensor or (rank == 2 and _per_column_ok(v, b, 2, 1))
        ):
            return None
        inputs = _triple(v, a) + _triple(v, b) + [q.scale, q.zero_point]
        return Node(node.name, "QLinearMatMul", "", inputs, [q.x], {}), absorbed
    if op == "Conv":
        rank = _rank(v, b.x)
        if q is None or rank is None or not _per_column_ok(v, b, rank, 0):
            return None
        inputs = _triple(v, a) + _triple(v, b) + [q.scale, q.zero_point]
        if bias is not None:
            inputs.append(bias.x)
        return Node(
            node.name, "QLinearConv", "", inputs, [q.x], dict(node.attrs)
        ), absorbed
    # Gemm -> QGemm: C only as int32 with beta 1; a float output without Q.
    if bias is not None and float(node.attrs.get("beta", 1.0)) != 1.0:
        return None
    n_axis = 0 if node.attrs.get("transB", 0) else 1
    if _rank(v, b.x) != 2 or not _per_column_ok(v, b, 2, n_axis):
        return None
    inputs = _triple(v, a) + _triple(v, b) + [bias.x if bias is not None else ""]
    if q is not None:
        inputs += [q.scale, q.zero_point]
    attrs = {k: node.attrs[k] for k in ("alpha", "transA", "transB") if k in node.attrs}
    out = [q.x] if q is not None else list(node.outputs)
    return Node(node.name, "QGemm", MS, inputs, out, attrs), absorbed


def fuse_qdq(graph: Graph, ctx: PassContext) -> bool:
    """Rewrite the QDQ groups and dynamic int8 products onnxruntime fuses."""
    # Weight-only DQ -> MatMul/Gemm first: those groups have no Q and one DQ,
    # which no other rule matches, and must not reach constant folding.
    nbits = fuse_dq_matmul_nbits(graph, ctx)
    groups = _fuse_groups(graph, ctx) or nbits
    return _fuse_integer_to_float(graph, ctx) or groups


def _fuse_integer_to_float(graph: Graph, ctx: PassContext) -> bool:
    """quantize_dynamic's MatMulInteger -> Cast -> Mul(., a_scale * b_scale)
    [-> Add(., bias)] becomes com.microsoft MatMulIntegerToFloat (onnxruntime's
    MatMulIntegerToFloatFusion). The kernel does the same float32 operations in
    the same order (float32(acc) * (a_scale * b_scale) + bias), so outputs are
    bit-identical; the Cast, Mul and Add nodes and their buffers go."""
    if not any(n.op_type == "MatMulInteger" for n in graph.nodes):
        return False
    v = _View(graph, ctx)
    replaced: dict[int, Node] = {}
    dropped: set[int] = set()
    for mmi in graph.nodes:
        if mmi.op_type != "MatMulInteger" or mmi.domain or len(mmi.inputs) < 2:
            continue
        found = _int_to_float_chain(v, mmi)
        if found is not None:
            replaced[id(mmi)] = found[0]
            dropped.update(id(n) for n in found[1])
    if not replaced:
        return False
    graph.nodes = [replaced.get(id(n), n) for n in graph.nodes if id(n) not in dropped]
    if isinstance(ctx.opsets, dict):
        ctx.opsets.setdefault(MS, 1)
    return True


def _only_user(v: _View, name: str, op: str) -> Node | None:
    users = v.consumers.get(name, [])
    if (
        name in v.outputs
        or len(users) != 1
        or users[0].op_type != op
        or users[0].domain
    ):
        return None
    return users[0]


def _int_to_float_chain(v: _View, mmi: Node):
    a, b = mmi.inputs[0], mmi.inputs[1]
    dql = v.producer.get(a)
    if dql is None or dql.op_type != "DynamicQuantizeLinear" or b not in v.consts:
        return None
    a_scale, a_zp = dql.outputs[1], dql.outputs[2]
    ins = mmi.inputs + [""] * (4 - len(mmi.inputs))
    if ins[2] != a_zp or (ins[3] and ins[3] not in v.consts) or v.consts[b].ndim != 2:
        return None
    cast = _only_user(v, mmi.outputs[0], "Cast")
    if cast is None or cast.attrs.get("to") != 1:  # float32
        return None
    mul = _only_user(v, cast.outputs[0], "Mul")
    if mul is None:
        return None
    scale_name = mul.inputs[1] if mul.inputs[0] == cast.outputs[0] else mul.inputs[0]
    smul = v.producer.get(scale_name)
    if (
        smul is None
        or smul.op_type != "Mul"
        or smul.domain
        or a_scale not in smul.inputs
    ):
        return None
    b_scale = smul.inputs[1] if smul.inputs[0] == a_scale else smul.inputs[0]
    n = v.consts[b].shape[1]
    bs = v.consts.get(b_scale)
    if bs is None or bs.dtype != np.float32 or bs.size not in (1, n) or bs.ndim > 1:
        return None
    # The product a_scale * b_scale must be the one the kernel forms (a first).
    if smul.inputs[0] != a_scale:
        return None
    out, absorbed, bias = mul.outputs[0], [cast, mul], ""
    add = _only_user(v, out, "Add")
    if add is not None:
        other = add.inputs[1] if add.inputs[0] == out else add.inputs[0]
        c = v.consts.get(other)
        if c is not None and c.dtype == np.float32 and c.shape == (n,) and other != out:
            out, bias = add.outputs[0], other
            absorbed.append(add)
    inputs = [a, b, a_scale, b_scale, a_zp, ins[3], bias]
    while inputs and not inputs[-1]:
        inputs.pop()
    return Node(mmi.name, "MatMulIntegerToFloat", MS, inputs, [out], {}), absorbed


def _fuse_groups(graph: Graph, ctx: PassContext) -> bool:
    if not any(n.op_type == "DequantizeLinear" for n in graph.nodes):
        return False
    v = _View(graph, ctx)
    opset = int(ctx.opsets.get("", 1))
    replaced: dict[int, Node] = {}
    dropped: set[int] = set()
    for node in graph.nodes:
        if id(node) in dropped:
            continue
        found = _match(v, node, opset)
        if found is None:
            continue
        replaced[id(node)] = found[0]
        dropped.update(id(n) for n in found[1])
    if not replaced:
        return False
    nodes = [replaced.get(id(n), n) for n in graph.nodes if id(n) not in dropped]
    # DQ nodes no one reads any more go too (those with other readers stay).
    used = {name for n in nodes for name in n.inputs}
    used |= {name for n in nodes for g in n.subgraphs() for name in g.outer_refs()}
    used |= v.outputs
    graph.nodes = [
        n
        for n in nodes
        if not (
            n.op_type == "DequantizeLinear"
            and not n.domain
            and n.outputs[0] not in used
        )
    ]
    if any(n.domain == MS for n in replaced.values()) and isinstance(ctx.opsets, dict):
        ctx.opsets.setdefault(MS, 1)
    return True
