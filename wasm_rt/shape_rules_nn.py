"""Shape rules of the neural-network ops: MatMul/Gemm, convolutions and pools,
normalizations, Resize, recurrent ops, quantization and the ONNX attention ops."""

from __future__ import annotations

from . import symbolic as sy
from .registry import shape_rule
from .shape_inference import RuleContext, RuleError
from .shape_rules import (
    INT64,
    T,
    norm_axis,
    type_of_code,
)
from .symbolic import DimLike

# --- matrix products -----------------------------------------------------------------


def gemm_shape(ctx: RuleContext, a_idx: int = 0, b_idx: int = 1):
    a, b = ctx.shape(a_idx), ctx.shape(b_idx)
    if a is None or b is None:
        return None
    if len(a) != 2 or len(b) != 2:
        raise RuleError(f"Gemm needs 2-D inputs, got ranks {len(a)} and {len(b)}")
    m = a[1] if ctx.attr("transA", 0) else a[0]
    n = b[0] if ctx.attr("transB", 0) else b[1]
    return (m, n)


# --- convolution and pooling -----------------------------------------------------------


def _window_dims(
    ctx: RuleContext,
    spatial,
    kernel,
    ceil: bool = False,
    transpose: bool = False,
    out_pad=None,
):
    n = len(spatial)
    strides = ctx.attr("strides") or [1] * n
    dil = ctx.attr("dilations") or [1] * n
    pads = ctx.attr("pads") or [0] * (2 * n)
    auto = ctx.attr("auto_pad", "NOTSET")
    out: list[DimLike] = []
    for k in range(n):
        d, kk, s, dl = spatial[k], kernel[k], strides[k], dil[k]
        if not isinstance(kk, int):
            out.append(ctx.fresh())
            continue
        eff = (kk - 1) * dl + 1
        if transpose:
            if auto in ("SAME_UPPER", "SAME_LOWER"):
                out.append(sy.mul(d, s))
            else:
                op = (out_pad or [0] * n)[k]
                out.append(
                    sy.add(sy.mul(s, sy.add(d, -1)), op + eff - pads[k] - pads[k + n])
                )
            continue
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            out.append(sy.ceildiv(d, s))
        elif auto == "VALID":
            out.append(sy.add(sy.floordiv(sy.add(d, -eff), s), 1))
        else:
            total = sy.add(d, pads[k] + pads[k + n] - eff)
            if ceil:
                q = sy.ceildiv(total, s)
                # A last window starting in the end padding is dropped (as onnxruntime does).
                if isinstance(q, int) and isinstance(d, int) and q * s >= d + pads[k]:
                    q -= 1
                out.append(sy.add(q, 1))
            else:
                out.append(sy.add(sy.floordiv(total, s), 1))
    for v in out:
        if isinstance(v, int) and v < 0:
            raise RuleError(f"window output size {v} is negative")
    return out


@shape_rule(("Conv", "ConvInteger", "FusedConv", "DeformConv"))
def conv(ctx: RuleContext):
    wi = 3 if ctx.node.op_type == "QLinearConv" else 1
    x, w = ctx.shape(0), ctx.shape(wi)
    elem = (
        "int32"
        if ctx.node.op_type == "ConvInteger"
        else (ctx.elem(7) if ctx.node.op_type == "QLinearConv" else ctx.elem(0))
    )
    if x is None:
        return T(elem, None)
    if w is None:
        return T(elem, (x[0], ctx.fresh()) + ctx.fresh_shape(len(x) - 2))
    kernel = ctx.attr("kernel_shape") or list(w[2:])
    return T(elem, (x[0], w[0], *_window_dims(ctx, x[2:], kernel)))


shape_rule("QLinearConv")(conv)


@shape_rule("ConvTranspose")
def _conv_transpose(ctx: RuleContext):
    x, w = ctx.shape(0), ctx.shape(1)
    if x is None or w is None:
        return T(ctx.elem(0), None)
    group = ctx.attr("group", 1)
    c = sy.mul(w[1], group)
    if ctx.attr("output_shape"):
        return T(ctx.elem(0), (x[0], c, *ctx.attr("output_shape")[-(len(x) - 2) :]))
    kernel = ctx.attr("kernel_shape") or list(w[2:])
    dims = _window_dims(
        ctx, x[2:], kernel, transpose=True, out_pad=ctx.attr("output_padding")
    )
    return T(ctx.elem(0), (x[0], c, *dims))


@shape_rule(("MaxPool", "AveragePool", "LpPool", "QLinearAveragePool"))
def pool(ctx: RuleContext):
    x = ctx.shape(0)
    elem = ctx.elem(0)
    if x is None:
        return [T(elem, None), T(INT64, None)]
    channels_last = ctx.attr("channels_last", 0)
    spatial = x[1:-1] if channels_last else x[2:]
    dims = _window_dims(
        ctx, spatial, ctx.attr("kernel_shape"), ceil=bool(ctx.attr("ceil_mode", 0))
    )
    out = (x[0], *dims, x[-1]) if channels_last else (x[0], x[1], *dims)
    return [T(elem, out), T(INT64, out)]


@shape_rule(
    ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "QLinearGlobalAveragePool")
)
def _global_pool(ctx: RuleContext):
    x = ctx.shape(0)
    if x is None:
        return T(ctx.elem(0), None)
    if ctx.attr("channels_last", 0):
        return T(ctx.elem(0), (x[0],) + (1,) * (len(x) - 2) + (x[-1],))
    return T(ctx.elem(0), (x[0], x[1]) + (1,) * (len(x) - 2))


@shape_rule("MaxUnpool")
def _max_unpool(ctx: RuleContext):
    x = ctx.shape(0)
    if ctx.has(2):
        out = ctx.dims(2)
        return T(ctx.elem(0), out if out is not None else None)
    if x is None:
        return T(ctx.elem(0), None)
    n = len(x) - 2
    k = ctx.attr("kernel_shape")
    s = ctx.attr("strides") or [1] * n
    p = ctx.attr("pads") or [0] * (2 * n)
    dims = [
        sy.add(sy.mul(sy.add(x[2 + i], -1), s[i]), k[i] - p[i] - p[i + n])
        for i in range(n)
    ]
    return T(ctx.elem(0), (x[0], x[1], *dims))


@shape_rule("Col2Im")
def _col2im(ctx: RuleContext):
    x = ctx.shape(0)
    image = ctx.dims(1)
    block = ctx.ints(2)
    if x is None:
        return T(ctx.elem(0), None)
    if image is None or block is None:
        n = ctx.shape(1)
        if n is None or not isinstance(n[0], int):
            return T(ctx.elem(0), None)
        c = sy.floordiv(x[1], _prod(block)) if block is not None else ctx.fresh()
        return T(ctx.elem(0), (x[0], c, *ctx.fresh_shape(n[0])))
    return T(ctx.elem(0), (x[0], sy.floordiv(x[1], _prod(block)), *image))


def _prod(xs):
    out = 1
    for x in xs:
        out *= x
    return out


# --- normalization -----------------------------------------------------------------


@shape_rule("BatchNormalization")
def _batch_norm(ctx: RuleContext):
    x = ctx.input(0)
    c = ctx.shape(1)
    stat = T(ctx.elem(1), c)
    return [x, stat, stat, stat, stat][: max(ctx.num_outputs, 1)]


@shape_rule(("LayerNormalization", "SimplifiedLayerNormalization", "RMSNormalization"))
def layer_norm(ctx: RuleContext):
    x = ctx.shape(0)
    y = T(ctx.elem(0), x)
    if x is None:
        return [y, T("float", None), T("float", None)]
    axis = norm_axis(ctx.attr("axis", -1), len(x))
    stash = type_of_code(ctx.attr("stash_type", 1))
    stat = T(stash, tuple(x[:axis]) + (1,) * (len(x) - axis))
    if ctx.node.op_type == "SimplifiedLayerNormalization":
        return [y, stat]
    return [y, stat, stat]


@shape_rule("GroupNormalization")
def _group_norm(ctx: RuleContext):
    return ctx.input(0)


# --- recurrent -------------------------------------------------------------------


# --- quantization ---------------------------------------------------------------


@shape_rule("QuantizeLinear")
def _quantize(ctx: RuleContext):
    if ctx.has(2) and ctx.elem(2) != "unknown":
        elem = ctx.elem(2)
    elif ctx.attr("output_dtype"):
        elem = type_of_code(ctx.attr("output_dtype"))
    else:
        elem = "uint8"
    return T(elem, ctx.shape(0))


@shape_rule("DequantizeLinear")
def _dequantize(ctx: RuleContext):
    elem = (
        type_of_code(ctx.attr("output_dtype"))
        if ctx.attr("output_dtype")
        else ctx.elem(1)
    )
    return T(elem if elem != "unknown" else "float", ctx.shape(0))


shape_rule("QuantizeLinear", domain="com.microsoft")(_quantize)
shape_rule("DequantizeLinear", domain="com.microsoft")(_dequantize)


@shape_rule("DynamicQuantizeLinear")
def _dynamic_quantize(ctx: RuleContext):
    return [T("uint8", ctx.shape(0)), T("float", ()), T("uint8", ())]


# --- ONNX attention (opset 23+) ------------------------------------------------------


@shape_rule("Attention", since=23)
def _attention(ctx: RuleContext):
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    elem = ctx.elem(0)
    if q is None or k is None or v is None:
        return [T(elem, None)] * 4
    past_k, past_v = ctx.shape(4), ctx.shape(5)
    if len(q) == 4:
        b, hq, sq, _ = q
        dv = v[3]
        skv = k[2]
        out = (b, hq, sq, dv)
        kv_heads = k[1]
        dk = k[3]
    else:
        b, sq = q[0], q[1]
        hq, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
        if hq is None or kv_heads is None:
            return [T(elem, (b, sq, ctx.fresh()))] + [T(elem, None)] * 3
        dv = sy.floordiv(v[2], kv_heads)
        dk = sy.floordiv(k[2], kv_heads)
        skv = k[1]
        out = (b, sq, sy.mul(hq, dv))
    total = sy.add(skv, past_k[2]) if past_k is not None else skv
    present_k = T(elem, (b, kv_heads, total, dk))
    present_v = T(elem, (b, kv_heads, total, dv if past_v is None else past_v[3]))
    qk = T(elem, (b, hq, sq, total))
    return [T(elem, out), present_k, present_v, qk]


@shape_rule("RotaryEmbedding", since=23)
def _rotary(ctx: RuleContext):
    return ctx.input(0)
