"""MatMul and Gemm on the tiled kernel linalg/matmul.wgsl."""

from __future__ import annotations

import numpy as np

from ..program import Unsupported
from . import gpu_op
from ._common import require_float, shape_of


def emit_matmul(e, a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=1.0, act="v"):
    """Y = alpha * op(A) @ op(B) + beta * C, batched over leading dims (numpy rules)."""
    dtype = require_float(a, b, c)
    a, b = e.gpu(a), e.gpu(b)
    sa, sb = list(a.shape), list(b.shape)
    squeeze_a = len(sa) == 1
    squeeze_b = len(sb) == 1
    if squeeze_a:
        sa = [1] + sa
    if squeeze_b:
        sb = sb + [1]
    m, k = (sa[-1], sa[-2]) if trans_a else (sa[-2], sa[-1])
    k2, n = (sb[-1], sb[-2]) if trans_b else (sb[-2], sb[-1])
    if k != k2:
        raise ValueError(f"MatMul inner dims differ: {a.shape} @ {b.shape}")
    batch = tuple(np.broadcast_shapes(tuple(sa[:-2]), tuple(sb[:-2])))
    if len(batch) > 4:
        raise Unsupported("more than 4 batch dims")
    nb = int(np.prod(batch)) if batch else 1
    if nb > 65535:
        raise Unsupported("more than 65,535 matrices in a batch")

    def batch_strides(shape, mat):
        full = [1] * (len(batch) - len(shape)) + list(shape)
        s, acc = [0] * len(batch), mat
        for i in range(len(batch) - 1, -1, -1):
            s[i] = 0 if full[i] == 1 else acc
            acc *= full[i]
        return s

    sam, sak = (1, sa[-1]) if trans_a else (sa[-1], 1)
    sbk, sbn = (1, sb[-1]) if trans_b else (sb[-1], 1)
    out_shape = list(batch) + [m, n]
    has_c = c is not None
    scm = scn = 0
    cstr = [0] * len(batch)
    if has_c:
        c = e.gpu(c)
        cs = list(c.shape)
        if len(cs) > 2 and batch:
            cstr = batch_strides(cs[:-2], cs[-1] * cs[-2])
        cs2 = ([1, 1] + cs)[-2:]
        scn = 0 if cs2[1] == 1 else 1
        scm = 0 if cs2[0] == 1 else cs2[1]
    y = e.new(out_shape, dtype)
    if y.size == 0:
        return y, squeeze_a, squeeze_b
    r = len(batch)
    params = [m, n, k, sam, sak, sbk, sbn, scm, scn, float(alpha), float(beta), r]
    params += list(batch) + [1] * (4 - r)
    params += batch_strides(sa[:-2], sa[-1] * sa[-2]) + [0] * (4 - r)
    params += batch_strides(sb[:-2], sb[-1] * sb[-2]) + [0] * (4 - r)
    params += cstr + [0] * (4 - r)
    kernel, groups = _pick_kernel(e, m, n, k, sam, sak, sbk, sbn, nb,
                                  batch_strides(sa[:-2], sa[-1] * sa[-2]) + batch_strides(sb[:-2], sb[-1] * sb[-2]))
    e.dispatch(kernel, dtype, params, [a, b, c if has_c else a, y],
               defines={"HAS_C": has_c, "ACT": act}, groups=groups)
    return y, squeeze_a, squeeze_b


def _pick_kernel(e, m, n, k, sam, sak, sbk, sbn, nb, batch_strides):
    """GEMV for few rows; else workgroup tiles, or register blocks (vec4 when aligned)."""
    if m <= 4 and n <= 65535:
        return "linalg/gemv", (n, m, nb)
    groups = (-(-n // 32), -(-m // 32), nb)
    if e.tiling != "registers":
        return "linalg/matmul", groups
    aligned = sak == 1 and sbn == 1 and all(v % 4 == 0 for v in [n, k, sam, sbk] + list(batch_strides))
    return ("linalg/matmul_vec4" if aligned else "linalg/matmul_reg"), groups


def emit_matmul_raw(e, a, b, c, y, *, m, n, k, sam, sak, sbk, sbn, scm, scn, batch, a_batch,
                    b_batch, c_batch, dtype, alpha=1.0, beta=1.0, act="v"):
    """One matmul dispatch with explicit strides (Conv uses it on im2col columns)."""
    r = len(batch)
    nb = int(np.prod(batch)) if batch else 1
    has_c = c is not None
    params = [m, n, k, sam, sak, sbk, sbn, scm, scn, float(alpha), float(beta), r]
    params += list(batch) + [1] * (4 - r)
    for s in (a_batch, b_batch, c_batch):
        params += list(s) + [0] * (4 - r)
    kernel, groups = _pick_kernel(e, m, n, k, sam, sak, sbk, sbn, nb, list(a_batch) + list(b_batch))
    if nb > 65535 or max(groups) > 65535:
        raise Unsupported(f"matmul grid {groups} too large")
    e.dispatch(kernel, dtype, params, [a, b, e.gpu(c) if has_c else a, y],
               defines={"HAS_C": has_c, "ACT": act}, groups=groups)


@gpu_op("MatMul")
def matmul(e, node, inputs, opset):
    y, sq_a, sq_b = emit_matmul(e, inputs[0], inputs[1], beta=0.0)
    shape = list(y.shape)
    if sq_b:
        del shape[-1]
    if sq_a:
        del shape[-1 if sq_b else -2]
    return [e.view(y, shape)]


@gpu_op("Gemm")
def gemm(e, node, inputs, opset):
    a, b = inputs[0], inputs[1]
    c = inputs[2] if len(inputs) > 2 else None
    if len(shape_of(a)) != 2 or len(shape_of(b)) != 2:
        raise Unsupported("Gemm takes 2-D A and B")
    if c is not None and len(shape_of(c)) > 2:
        raise Unsupported("Gemm C of rank > 2")
    y, _, _ = emit_matmul(
        e, a, b, c, trans_a=bool(node.attrs.get("transA", 0)), trans_b=bool(node.attrs.get("transB", 0)),
        alpha=node.attrs.get("alpha", 1.0), beta=node.attrs.get("beta", 1.0),
    )
    return [y]
