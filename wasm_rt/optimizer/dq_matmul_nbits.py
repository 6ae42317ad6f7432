"""DequantizeLinear(2/4/8-bit weight) -> MatMul/Gemm becomes com.microsoft MatMulNBits.

What onnxruntime's QDQ transformer does (its DQMatMulToMatMulNBits rule, CPU
provider, extended level): int4 QDQ models (``MatMulNBitsQuantizer`` with
``quant_format=QDQ``, blocked DequantizeLinear) would otherwise be folded into
float32 matrices, 8x the packed weight. The rewrite repacks the weight into
MatMulNBits' layout, so the resident weight stays at its packed size:

* the DQ reads a constant rank-2 [K, N] weight of int2/uint2/int4/uint4/
  int8/uint8, float32 or float16 scales, either blocked along K (axis 0,
  block_size a power of 2 >= 16, scales and zero points [ceil(K / bs), N]),
  per tensor, or per column (axis 1, [N]); the latter two become blocks of 32
  with the scale repeated, as onnxruntime does;
* its output feeds only input B of one MatMul, or of a Gemm with alpha 1, no
  transposes and (beta 1, [N]) bias, whose A does not come from a DQ;
* B becomes [N, blocks, bs * bits / 8] (K values of a column, low bits first),
  scales and zero points [N * blocks] / [N * ceil(blocks * bits / 8)] column
  by column. Signed values move up by 2**(bits - 1) (MatMulNBits is unsigned),
  which makes a signed weight's absent zero point MatMulNBits' default; an
  unsigned weight without zero point gets an explicit zero one.

Numerics: wasm_rt's MatMulNBits dequantizes exactly what DequantizeLinear
computes ((q - zp) * scale in float32) and multiplies in float32 whatever
accuracy_level says, so the rewrite does not change results; the node is
written with accuracy_level 0, the level whose arithmetic that is. onnxruntime
writes its session option ``session.qdq_matmulnbits_accuracy_level``
(default 4: A quantized to int8 per block, an approximation of the float
product); wasm_rt matches onnxruntime run with that option set to "0".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import dtypes
from ..ir import Graph, Node

if TYPE_CHECKING:
    from . import PassContext

MS = "com.microsoft"
# Element type -> (bits, signed, integer view of the values).
_NBITS = {
    np.dtype(np.int8): (8, True, np.int8),
    np.dtype(np.uint8): (8, False, np.uint8),
}
for _name, _bits, _signed in (("int4", 4, True), ("uint4", 4, False),
                              ("int2", 2, True), ("uint2", 2, False)):
    _dt = getattr(dtypes, _name, None)
    if _dt is not None:
        _NBITS[np.dtype(_dt)] = (_bits, _signed, np.int8 if _signed else np.uint8)
_PER_COLUMN_BLOCK = 32  # onnxruntime's block size for per-tensor / per-column weights


def _pack(values: np.ndarray, bits: int) -> np.ndarray:
    """uint8 [..., m] (m a multiple of 8 // bits) -> [..., m * bits // 8], low bits first."""
    per = 8 // bits
    if per == 1:
        return values
    v = values.reshape(values.shape[:-1] + (-1, per))
    out = v[..., 0].copy()
    for i in range(1, per):
        out |= v[..., i] << np.uint8(i * bits)
    return out


def _unsigned(x: np.ndarray, bits: int, signed: bool, view) -> np.ndarray:
    """The values as uint8 in [0, 2**bits): signed ones shifted up by 2**(bits-1)
    (uint8 wrap-around does it: -8 is 248, and 248 + 8 wraps to 0)."""
    u = np.ascontiguousarray(x).view(view).view(np.uint8)
    return u + np.uint8(1 << (bits - 1)) if signed else u.copy()


class _Weight:
    """A DQ's weight, scales and zero points in blocked [blocks, N] form."""

    def __init__(self, consts, dq: Node):
        ins = dq.inputs + [""] * (3 - len(dq.inputs))
        w, s = consts.get(ins[0]), consts.get(ins[1])
        z = consts.get(ins[2]) if ins[2] else None
        self.ok = False
        if w is None or s is None or (ins[2] and z is None) or w.ndim != 2:
            return
        if w.dtype not in _NBITS or s.dtype not in (np.float32, np.float16):
            return
        if z is not None and z.dtype != w.dtype:
            return
        k, n = w.shape
        bs = int(dq.attrs.get("block_size", 0) or 0)
        axis = int(dq.attrs.get("axis", 1))
        if dq.attrs.get("output_dtype", 0) not in (0, None):
            return
        if bs > 0:
            nb = -(-k // bs)
            if axis != 0 or bs < 16 or bs & (bs - 1) or s.shape != (nb, n):
                return
            if z is not None and z.shape != s.shape:
                return
        # Per column only with axis 1 (absent or written), as onnxruntime: not -1.
        elif s.ndim == 0 or (s.ndim == 1 and s.shape == (n,) and axis == 1):
            if z is not None and z.shape != s.shape:
                return
            bs = _PER_COLUMN_BLOCK
            nb = -(-k // bs)
            s = np.broadcast_to(s.reshape(1, -1), (nb, n))
            z = None if z is None else np.broadcast_to(z.reshape(1, -1), (nb, n))
        else:
            return
        self.bits, self.signed, self.view = _NBITS[w.dtype]
        self.w, self.s, self.z, self.k, self.n, self.bs, self.nb = w, s, z, k, n, bs, nb
        self.ok = True

    def repack(self):
        """(B [N, blocks, bs*bits/8], scales [N*blocks], zero points or None)."""
        bits, k, n, bs, nb = self.bits, self.k, self.n, self.bs, self.nb
        q = _unsigned(self.w, bits, self.signed, self.view)
        col = np.zeros((n, nb * bs), np.uint8)
        col[:, :k] = q.T
        b = _pack(col, bits).reshape(n, nb, bs * bits // 8)
        scales = np.ascontiguousarray(self.s.T).reshape(-1)
        if self.z is not None:
            zq = _unsigned(self.z, bits, self.signed, self.view)
        elif self.signed:
            return b, scales, None  # zero 0 shifted is MatMulNBits' default zero point
        else:
            zq = np.zeros((nb, n), np.uint8)
        per = 8 // bits
        zcol = np.zeros((n, -(-nb // per) * per), np.uint8)
        zcol[:, :nb] = zq.T
        return b, scales, _pack(zcol, bits).reshape(-1)


def _close(x, v: float) -> bool:
    return abs(float(x) - v) <= 1e-6


def _target(graph: Graph, consts, producer, consumers, outputs, dq: Node):
    """(MatMul/Gemm node, bias name or "") that the DQ alone feeds as B, or None."""
    out = dq.outputs[0] if dq.outputs else ""
    users = consumers.get(out, [])
    if not out or out in outputs or len(users) != 1:
        return None
    node = users[0]
    if node.domain or node.op_type not in ("MatMul", "Gemm") or len(node.inputs) < 2:
        return None
    if node.inputs[1] != out or node.inputs[0] == out:
        return None
    a_src = producer.get(node.inputs[0])
    if a_src is not None and a_src.op_type == "DequantizeLinear" and not a_src.domain:
        return None
    if node.op_type == "MatMul":
        return node, ""
    at = node.attrs
    if not _close(at.get("alpha", 1.0), 1.0) or at.get("transA", 0) or at.get("transB", 0):
        return None
    bias = node.inputs[2] if len(node.inputs) > 2 else ""
    if bias:
        if not _close(at.get("beta", 1.0), 1.0):
            return None
        n = consts[dq.inputs[0]].shape[1]
        src = producer.get(bias)
        c = consts.get(bias)
        if c is None and src is not None and src.op_type == "DequantizeLinear":
            c = consts.get(src.inputs[0])
        if c is None or c.shape != (n,):
            return None
    return node, bias


def fuse_dq_matmul_nbits(graph: Graph, ctx: PassContext) -> bool:
    if not any(n.op_type == "DequantizeLinear" for n in graph.nodes):
        return False
    consts = {k: v for k, v in graph.initializers.items() if k not in ctx.overridable}
    producer = {o: n for n in graph.nodes for o in n.outputs if o}
    consumers: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for name in node.inputs:
            consumers.setdefault(name, []).append(node)
        for g in node.subgraphs():
            for name in g.outer_refs():
                consumers.setdefault(name, []).append(node)
    outputs = {vi.name for vi in graph.outputs}
    replaced: dict[int, Node] = {}
    dropped: set[int] = set()
    sources: set[str] = set()
    for dq in graph.nodes:
        if dq.op_type != "DequantizeLinear" or dq.domain or not dq.inputs:
            continue
        found = _target(graph, consts, producer, consumers, outputs, dq)
        if found is None or id(found[0]) in replaced:
            continue
        w = _Weight(consts, dq)
        if not w.ok:
            continue
        node, bias = found
        b, scales, zp = w.repack()
        base = dq.inputs[0]
        names = [f"{base}__nbits_B", f"{dq.inputs[1]}__nbits_scales", ""]
        graph.initializers[names[0]], graph.initializers[names[1]] = b, scales
        if zp is not None:
            names[2] = f"{base}__nbits_zero_points"
            graph.initializers[names[2]] = zp
        inputs = [node.inputs[0]] + names + (["", bias] if bias else [])
        while inputs and not inputs[-1]:
            inputs.pop()
        attrs = {"K": w.k, "N": w.n, "bits": w.bits, "block_size": w.bs, "accuracy_level": 0}
        replaced[id(node)] = Node(node.name, "MatMulNBits", MS, inputs, list(node.outputs[:1]),
                                  attrs)
        dropped.add(id(dq))
        sources.update(dq.inputs)
    if not replaced:
        return False
    graph.nodes = [replaced.get(id(n), n) for n in graph.nodes if id(n) not in dropped]
    # The QDQ weights no node reads any more go, so only the packed copy stays.
    used = {name for n in graph.nodes for name in n.inputs}
    used |= {name for n in graph.nodes for g in n.subgraphs() for name in g.outer_refs()}
    used |= outputs
    for name in sources - used - set(ctx.overridable):
        graph.initializers.pop(name, None)
    if isinstance(ctx.opsets, dict):
        ctx.opsets.setdefault(MS, 1)
    return True
