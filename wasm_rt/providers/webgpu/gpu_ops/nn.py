"""Conv, pools, normalizations, LRN and softmax."""

from __future__ import annotations

import math

import numpy as np

from ..program import Unsupported
from . import gpu_op
from ._common import emit_copy, require_float, shape_of


def _spatial2d(shape):
    """(N, C, H, W) of a rank-3 or rank-4 tensor (rank 3: H = 1)."""
    if len(shape) == 4:
        return shape
    if len(shape) == 3:
        return (shape[0], shape[1], 1, shape[2])
    raise Unsupported(f"only 1-D and 2-D spatial ops run on the GPU (rank {len(shape)})")


def _pads(node, spatial, in_hw, k_hw, s_hw, d_hw, ceil_mode=False):
    """Begin/end pads per spatial axis after auto_pad, and the output size."""
    auto = node.attrs.get("auto_pad", "NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    pads = list(node.attrs.get("pads", [0] * (2 * spatial)))
    out = []
    begin, end = [], []
    for i in range(spatial):
        n, k, s, d = in_hw[i], k_hw[i], s_hw[i], d_hw[i]
        ek = (k - 1) * d + 1
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-n // s)
            total = max(0, (o - 1) * s + ek - n)
            b = total // 2 if auto == "SAME_UPPER" else total - total // 2
            begin.append(b)
            end.append(total - b)
            out.append(o)
            continue
        if auto == "VALID":
            b = en = 0
        else:
            b, en = pads[i], pads[i + spatial]
        span = n + b + en - ek
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + b:
            o -= 1
        begin.append(b)
        end.append(en)
        out.append(o)
    return begin, end, out


@gpu_op("Conv")
def conv(e, node, inputs, opset):
    x, w = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    dtype = require_float(x, w, bias)
    xs, ws = shape_of(x), shape_of(w)
    sp = len(xs) - 2
    if sp not in (1, 2):
        raise Unsupported(f"Conv{sp}D")
    N, C, H, W = _spatial2d(xs)
    M = ws[0]
    KH, KW = (1, ws[2]) if sp == 1 else (ws[2], ws[3])
    G = int(node.attrs.get("group", 1))
    strides = list(node.attrs.get("strides", [1] * sp))
    dil = list(node.attrs.get("dilations", [1] * sp))
    in_hw, k_hw = ([W], [KW]) if sp == 1 else ([H, W], [KH, KW])
    begin, end, out = _pads(node, sp, in_hw, k_hw, strides, dil)
    if sp == 1:
        strides, dil, begin, out = [1] + strides, [1] + dil, [0] + begin, [1] + out
    OH, OW = out
    Cg, Mg = C // G, M // G
    x, w = e.gpu(x), e.gpu(w)
    b = e.gpu(bias) if bias is not None else x
    y = e.new((N, M, OH, OW) if sp == 2 else (N, M, OW), dtype)
    if y.size == 0:
        return [y]
    params = [C, H, W, M, OH, OW, KH, KW, strides[0], strides[1], begin[0], begin[1],
              dil[0], dil[1], G, Cg, Mg, y.size]
    defines = {"HAS_BIAS": bias is not None, "ACT": "v"}
    if e.tiling == "registers" and Mg >= 8 and Cg * KH * KW >= 8:
        _conv_as_matmul(e, x, w, bias, y, params, dtype)
    elif Mg >= 8 and Cg * KH * KW >= 8:
        groups = (-(-(OH * OW) // 32), -(-Mg // 32), N * G)
        if max(groups) > 65535:
            raise Unsupported("conv grid too large")
        e.dispatch("conv/conv_gemm", dtype, params, [x, w, b, y], defines=defines, groups=groups)
    else:
        e.dispatch("conv/conv_direct", dtype, params, [x, w, b, y], defines=defines, threads=y.size)
    return [y]


def _conv_as_matmul(e, x, w, bias, y, params, dtype):
    """Conv as (im2col unless 1x1/stride 1/no pad) + the batched matmul kernel.

    Batches are (n, g): A = the group's weights (Mg x K), B = the group's
    columns (K x P), Y lands as (N, G, Mg, P) = (N, M, OH, OW). With register
    tiling, K and P are padded to multiples of 4 (zero weights / columns) so the
    vec4 matmul applies; a strided copy then drops the padded columns.
    """
    from .linalg import emit_matmul_raw

    C, H, W, M, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, G, Cg, Mg, _ = params
    N, P, K = x.shape[0], OH * OW, Cg * KH * KW
    pointwise = KH == KW == 1 and SH == SW == 1 and PH == PW == 0 and OH * OW == H * W
    pad = e.tiling == "registers" and (K % 4 or P % 4) and Mg > 4
    K4, P4 = (-(-K // 4) * 4, -(-P // 4) * 4) if pad else (K, P)
    if pointwise and not pad:
        cols, b_batch = x, [C * P, Cg * P]
    else:
        cols = e.new((N, G, K4, P4), dtype)
        e.dispatch("conv/im2col", dtype, params[:17] + [cols.size, K4, P4], [x, cols], threads=cols.size)
        b_batch = [G * K4 * P4, K4 * P4]
    if K4 != K:
        w = _pad_last(e, e.view(w, (M, K)), K4)
    out = y if P4 == P else e.new((N, M, P4), dtype)
    emit_matmul_raw(
        e, w, cols, bias, out, m=Mg, n=P4, k=K4, sam=K4, sak=1, sbk=P4, sbn=1,
        scm=1, scn=0, batch=[N, G], a_batch=[0, Mg * K4], b_batch=b_batch, c_batch=[0, Mg],
        dtype=dtype)
    e.act_dispatch = len(e.program.dispatches) - 1
    if out is not y:
        emit_copy(e, out, y, [N * M, P], [P4, 1], [P, 1])


def _pad_last(e, w, k4):
    """(M, K) -> (M, k4) with zero columns (data/pad)."""
    m, k = w.shape
    out = e.new((m, k4), w.dtype)
    params = [out.size, 0.0, 0, 0, m, k4, 1, 1, 1, 1, 1, 1, m, k, 1, 1, 1, 1, 1, 1,
              0, 0, 0, 0, 0, 0, 0, 0, k, 1, 0, 0, 0, 0, 0, 0]
    e.dispatch("data/pad", w.dtype, params, [w, out], defines={"RANK": 2, "MODE": 0}, threads=out.size)
    return out


@gpu_op("ConvTranspose")
def conv_transpose(e, node, inputs, opset):
    x, w = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    dtype = require_float(x, w, bias)
    xs, ws = shape_of(x), shape_of(w)
    sp = len(xs) - 2
    if sp not in (1, 2):
        raise Unsupported(f"ConvTranspose{sp}D")
    auto = node.attrs.get("auto_pad", "NOTSET")
    if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID"):
        raise Unsupported("ConvTranspose auto_pad SAME_*")
    N, C, H, W = _spatial2d(xs)
    G = int(node.attrs.get("group", 1))
    Mg = ws[1]
    M = Mg * G
    k = list(ws[2:])
    s = list(node.attrs.get("strides", [1] * sp))
    d = list(node.attrs.get("dilations", [1] * sp))
    pads = list(node.attrs.get("pads", [0] * (2 * sp)))
    op = list(node.attrs.get("output_padding", [0] * sp))
    ins = list(xs[2:])
    out = [(ins[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 + op[i] - pads[i] - pads[i + sp] for i in range(sp)]
    if "output_shape" in node.attrs:
        out = list(node.attrs["output_shape"])[-sp:]
        for i in range(sp):
            total = s[i] * (ins[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1 - out[i]
            pads[i] = total - total // 2  # begin pad when auto_pad is NOTSET (ONNX spec)
    if sp == 1:
        k, s, d, pads, out = [1] + k, [1] + s, [1] + d, [0] + pads[:1], [1] + out
    x, w = e.gpu(x), e.gpu(w)
    b = e.gpu(bias) if bias is not None else x
    y = e.new((N, M, *out) if sp == 2 else (N, M, out[1]), dtype)
    params = [C, H, W, M, out[0], out[1], k[0], k[1], s[0], s[1], pads[0], pads[1],
              d[0], d[1], G, C // G, Mg, y.size]
    e.dispatch("conv/conv_transpose", dtype, params, [x, w, b, y],
               defines={"HAS_BIAS": bias is not None}, threads=y.size)
    return [y]


@gpu_op("MaxPool", "AveragePool")
def pool(e, node, inputs, opset):
    x = inputs[0]
    dtype = require_float(x)
    if len([o for o in node.outputs if o]) > 1:
        raise Unsupported("MaxPool indices output")
    if node.attrs.get("storage_order", 0):
        raise Unsupported("storage_order")
    xs = shape_of(x)
    sp = len(xs) - 2
    if sp not in (1, 2):
        raise Unsupported(f"{sp}-D pooling")
    N, C, H, W = _spatial2d(xs)
    k = list(node.attrs["kernel_shape"])
    strides = list(node.attrs.get("strides", [1] * sp))
    dil = list(node.attrs.get("dilations", [1] * sp))
    ceil_mode = bool(node.attrs.get("ceil_mode", 0))
    in_hw = [W] if sp == 1 else [H, W]
    begin, end, out = _pads(node, sp, in_hw, k, strides, dil, ceil_mode)
    if sp == 1:
        k, strides, dil, begin, end, out = [1] + k, [1] + strides, [1] + dil, [0] + begin, [0] + end, [1] + out
    x = e.gpu(x)
    y = e.new((N, C, *out) if sp == 2 else (N, C, out[1]), dtype)
    mode = 0 if node.op_type == "MaxPool" else 1
    params = [y.size, H, W, out[0], out[1], k[0], k[1], strides[0], strides[1], begin[0], begin[1],
              dil[0], dil[1], int(node.attrs.get("count_include_pad", 0)), H + end[0], W + end[1]]
    e.dispatch("pool/pool2d", dtype, params, [x, y], defines={"MODE": mode}, threads=y.size)
    return [y]


@gpu_op("GlobalAveragePool", "GlobalMaxPool")
def global_pool(e, node, inputs, opset):
    x = inputs[0]
    dtype = require_float(x)
    xs = shape_of(x)
    if len(xs) < 3:
        raise Unsupported("global pool of rank < 3")
    n, c, inner = xs[0], xs[1], math.prod(xs[2:])
    x = e.gpu(x)
    y = e.new((n, c) + (1,) * (len(xs) - 2), dtype)
    if node.op_type == "GlobalAveragePool":
        params = [n * c, inner, 1, 0.0, 0, 1]
        e.dispatch("reduce/rows", dtype, params, [x, x, x, y], defines={"OP": 3},
                   groups=_row_groups(n * c))
        return [_scale(e, y, 1.0 / inner)]
    # max: reduce kernel over the trailing axis
    from .reduce import emit_reduce

    return [emit_reduce(e, e.view(x, (n * c, inner)), [1], 2, keepdims=True, out_shape=y.shape)]


def _scale(e, y, s):
    from .elementwise import emit_unary

    return emit_unary(e, y, "a * T(p0)", s)


def _row_groups(rows):
    from ..program import split_groups

    return split_groups(rows)


@gpu_op("BatchNormalization")
def batchnorm(e, node, inputs, opset):
    if len([o for o in node.outputs if o]) > 1 or node.attrs.get("training_mode", 0):
        raise Unsupported("BatchNormalization in training mode")
    x, scale, bias, mean, var = inputs[:5]
    dtype = require_float(x, scale, bias, mean, var)
    xs = shape_of(x)
    c = xs[1] if len(xs) > 1 else 1
    inner = math.prod(xs[2:])
    ts = [e.gpu(t) for t in (x, scale, bias, mean, var)]
    y = e.new(xs, dtype)
    params = [y.size, c, inner, float(node.attrs.get("epsilon", 1e-5))]
    e.dispatch("norm/batchnorm", dtype, params, ts + [y], defines={"ACT": "v"}, threads=y.size)
    return [y]


@gpu_op("LRN")
def lrn(e, node, inputs, opset):
    x = inputs[0]
    dtype = require_float(x)
    xs = shape_of(x)
    x = e.gpu(x)
    y = e.new(xs, dtype)
    params = [y.size, xs[1], math.prod(xs[2:]), int(node.attrs["size"]),
              float(node.attrs.get("alpha", 1e-4)), float(node.attrs.get("beta", 0.75)),
              float(node.attrs.get("bias", 1.0))]
    e.dispatch("norm/lrn", dtype, params, [x, y], threads=y.size)
    return [y]


@gpu_op("Softmax", "LogSoftmax")
def softmax(e, node, inputs, opset):
    x = inputs[0]
    dtype = require_float(x)
    xs = shape_of(x)
    rank = len(xs)
    axis = node.attrs.get("axis", -1 if opset >= 13 else 1) % max(rank, 1)
    if opset >= 13:
        outer, L, inner = math.prod(xs[:axis]), xs[axis], math.prod(xs[axis + 1:])
    else:  # coerced to 2-D at axis
        outer, L, inner = math.prod(xs[:axis]), math.prod(xs[axis:]), 1
    x = e.gpu(x)
    y = e.new(xs, dtype)
    if y.size:
        rows = outer * inner
        e.dispatch("reduce/rows", dtype, [rows, L, inner, 0.0, 0, 1], [x, x, x, y],
                   defines={"OP": 0 if node.op_type == "Softmax" else 1}, groups=_row_groups(rows))
    return [y]


@gpu_op("LayerNormalization")
def layernorm(e, node, inputs, opset):
    if len([o for o in node.outputs if o]) > 1:
        raise Unsupported("LayerNormalization mean/inv-std outputs")
    x, scale = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    dtype = require_float(x, scale, bias)
    xs = shape_of(x)
    axis = node.attrs.get("axis", -1) % len(xs)
    L = math.prod(xs[axis:])
    if math.prod(shape_of(scale)) != L or (bias is not None and math.prod(shape_of(bias)) != L):
        raise Unsupported("LayerNormalization scale/bias must cover the normalized dims")
    x, s = e.gpu(x), e.gpu(scale)
    b = e.gpu(bias) if bias is not None else e.gpu(np.zeros(L, dtype))
    y = e.new(xs, dtype)
    rows = math.prod(xs[:axis])
    if y.size:
        params = [rows, L, 1, float(node.attrs.get("epsilon", 1e-5)), 0, 1]
        e.dispatch("reduce/rows", dtype, params, [x, s, b, y], defines={"OP": 2}, groups=_row_groups(rows))
    return [y]


@gpu_op("InstanceNormalization")
def instancenorm(e, node, inputs, opset):
    x, scale, bias = inputs
    dtype = require_float(x, scale, bias)
    xs = shape_of(x)
    n, c, L = xs[0], xs[1], math.prod(xs[2:])
    x, s, b = e.gpu(x), e.gpu(scale), e.gpu(bias)
    y = e.new(xs, dtype)
    if y.size:
        params = [n * c, L, 1, float(node.attrs.get("epsilon", 1e-5)), 1, c]
        e.dispatch("reduce/rows", dtype, params, [x, s, b, y], defines={"OP": 2}, groups=_row_groups(n * c))
    return [y]
