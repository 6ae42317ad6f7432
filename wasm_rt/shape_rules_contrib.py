"""Shape rules of the com.microsoft contrib ops, the ai.onnx.ml ops and the newest
ONNX ops (LinearAttention, FlexAttention)."""

from __future__ import annotations

from . import symbolic as sy
from .registry import shape_rule
from .shape_inference import RuleContext, ValueType
from .shape_rules import (
    INT64,
    T,
    broadcast_rule,
    broadcast_shapes,
    matmul_shape,
    norm_axis,
    same_shape,
)
from .shape_rules_nn import conv, gemm_shape, layer_norm, pool

MS = "com.microsoft"
ML = "ai.onnx.ml"

for _op in (
    "Gelu",
    "FastGelu",
    "QuickGelu",
    "ScaledSiLU",
    "Inverse",
    "Trilu",
    "RotaryEmbedding",
    "QLinearSigmoid",
    "QLinearLeakyRelu",
    "QLinearSoftmax",
    "BiasGelu",
    "GatedAdd",
):
    shape_rule(_op, domain=MS)(same_shape)
shape_rule("BiasAdd", domain=MS)(broadcast_rule())
shape_rule(("QLinearAdd", "QLinearMul"), domain=MS)(
    broadcast_rule(inputs=slice(0, None, 3))
)
shape_rule("FusedConv", domain=MS)(conv)
shape_rule("QLinearAveragePool", domain=MS)(lambda ctx: pool(ctx)[:1])


@shape_rule("QLinearGlobalAveragePool", domain=MS)
def _qglobal(ctx: RuleContext):
    x = ctx.shape(0)
    if x is None:
        return ctx.input(0)
    if ctx.attr("channels_last", 0):
        return T(ctx.elem(0), (x[0],) + (1,) * (len(x) - 2) + (x[-1],))
    return T(ctx.elem(0), (x[0], x[1]) + (1,) * (len(x) - 2))


@shape_rule("QLinearWhere", domain=MS)
def _qwhere(ctx: RuleContext):
    return T(ctx.elem(1), broadcast_shapes(ctx.shape(0), ctx.shape(1), ctx.shape(4)))


@shape_rule("QLinearConcat", domain=MS)
def _qconcat(ctx: RuleContext):
    from .ops.shape import _concat_shape

    picked = [k for k in range(2, len(ctx.inputs), 3)]
    sub = _Picked(ctx, picked)
    return _concat_shape(sub)


class _Picked:
    """A view of a RuleContext with only some inputs, for rules that reuse others."""

    def __init__(self, ctx: RuleContext, idx: list[int]):
        self._ctx, self._idx = ctx, idx
        self.inputs = [ctx.inputs[i] if i < len(ctx.inputs) else None for i in idx]
        self.attrs, self.node, self.opset = ctx.attrs, ctx.node, ctx.opset
        self.num_outputs = ctx.num_outputs

    def __getattr__(self, name):
        fn = getattr(self._ctx, name)
        if name in ("input", "has", "shape", "elem", "rank", "value", "ints", "dims"):
            return lambda i, *a: (
                fn(self._idx[i], *a) if i < len(self._idx) else fn(10**6)
            )
        return fn


@shape_rule("BiasSplitGelu", domain=MS)
def _bias_split_gelu(ctx: RuleContext):
    x = ctx.shape(0)
    return T(ctx.elem(0), None if x is None else x[:-1] + (sy.floordiv(x[-1], 2),))


@shape_rule("BiasDropout", domain=MS)
def _bias_dropout(ctx: RuleContext):
    return [ctx.input(0), T("bool", ctx.shape(0))]


def _fused_matmul_shape(ctx: RuleContext):
    a, b = ctx.shape(0), ctx.shape(1)
    if a is None or b is None:
        return None

    def arrange(s, trans, trans_batch):
        s = list(s)
        if trans_batch and len(s) >= 3:
            s = s[1:-1] + [s[0], s[-1]]
        if trans and len(s) >= 2:
            s[-1], s[-2] = s[-2], s[-1]
        return tuple(s)

    return matmul_shape(
        arrange(a, ctx.attr("transA", 0), ctx.attr("transBatchA", 0)),
        arrange(b, ctx.attr("transB", 0), ctx.attr("transBatchB", 0)),
    )


@shape_rule(("FusedMatMul", "TransposeMatMul"), domain=MS)
def _fused_matmul(ctx: RuleContext):
    return T(ctx.elem(0), _fused_matmul_shape(ctx))


@shape_rule("FusedGemm", domain=MS)
def _fused_gemm(ctx: RuleContext):
    return T(ctx.elem(0), gemm_shape(ctx))


@shape_rule(("DynamicQuantizeMatMul", "MatMulIntegerToFloat"), domain=MS)
def _qmatmul_float(ctx: RuleContext):
    elem = ctx.elem(2) if ctx.elem(2) != "unknown" else "float"
    return T(elem, matmul_shape(ctx.shape(0), ctx.shape(1)))


@shape_rule("QGemm", domain=MS)
def _qgemm(ctx: RuleContext):
    elem = ctx.elem(8) if ctx.has(8) else "float"
    return T(elem, gemm_shape(ctx, 0, 3))


@shape_rule("MatMulNBits", domain=MS)
def _matmul_nbits(ctx: RuleContext):
    a = ctx.shape(0)
    return T(ctx.elem(0), None if a is None else a[:-1] + (ctx.attr("N"),))


@shape_rule("GatherBlockQuantized", domain=MS)
def _gather_block_quantized(ctx: RuleContext):
    data, idx = ctx.shape(0), ctx.shape(1)
    if data is None or idx is None:
        return T(ctx.elem(2), None)
    rank = len(data)
    ga = norm_axis(ctx.attr("gather_axis", 0), rank)
    qa = norm_axis(ctx.attr("quantize_axis", 1), rank)
    dims = list(data)
    if ctx.elem(0) == "uint8":
        dims[qa] = sy.mul(dims[qa], 8 // ctx.attr("bits", 4))
    return T(ctx.elem(2), tuple(dims[:ga]) + tuple(idx) + tuple(dims[ga + 1 :]))


@shape_rule(("SkipLayerNormalization", "SkipSimplifiedLayerNormalization"), domain=MS)
def _skip_layer_norm(ctx: RuleContext):
    x = ctx.shape(0)
    y = T(ctx.elem(0), x)
    stat = T("float", None if x is None else tuple(x[:-1]) + (1,))
    # Both forms declare (output, mean, inv_std_var, input_skip_bias_sum).
    return [y, stat, stat, y]


shape_rule("SimplifiedLayerNormalization", domain=MS)(layer_norm)
shape_rule("LayerNormalization", domain=MS)(layer_norm)


@shape_rule("EmbedLayerNormalization", domain=MS)
def _embed_layer_norm(ctx: RuleContext):
    ids, word = ctx.shape(0), ctx.shape(2)
    elem = ctx.elem(2)
    if ids is None or word is None:
        return [T(elem, None), T("int32", None), T(elem, None)]
    out = (ids[0], ids[1], word[1])
    return [T(elem, out), T("int32", (ids[0],)), T(elem, out)]


@shape_rule("Attention", domain=MS)
def _ms_attention(ctx: RuleContext):
    x, w = ctx.shape(0), ctx.shape(1)
    elem = ctx.elem(0)
    heads = ctx.attr("num_heads")
    if x is None or w is None:
        return [T(elem, None), T(elem, None)]
    sizes = ctx.attr("qkv_hidden_sizes")
    v_hidden = sizes[2] if sizes else sy.floordiv(w[1], 3)
    k_hidden = sizes[1] if sizes else v_hidden
    b, s = x[0], x[1]
    past = ctx.shape(4)
    share = ctx.attr("past_present_share_buffer", 0)
    total = s if past is None else (past[3] if share else sy.add(past[3], s))
    present = T(elem, (2, b, heads, total, sy.floordiv(k_hidden, heads)))
    return [T(elem, (b, s, v_hidden)), present]


@shape_rule("MultiHeadAttention", domain=MS)
def _mha(ctx: RuleContext):
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    elem = ctx.elem(0)
    heads = ctx.attr("num_heads")
    if q is None:
        return [T(elem, None)] * 4
    b, s = q[0], q[1]
    if len(q) == 5:  # packed QKV (B, S, N, 3, H)
        head = q[4]
        out = (b, s, sy.mul(q[2], head))
        kv_len, v_head = s, head
    else:
        d = q[2]
        head = sy.floordiv(d, heads)
        if k is not None and len(k) == 5:  # packed KV (B, L, N, 2, H)
            kv_len, v_head = k[1], k[4]
        elif k is not None and len(k) == 4:  # (B, N, L, H): already in cache layout
            kv_len = k[2]
            v_head = v[3] if v is not None and len(v) == 4 else head
        elif k is not None:
            kv_len = k[1]
            v_head = sy.floordiv(v[2], heads) if v is not None and len(v) == 3 else head
        else:
            kv_len, v_head = s, head
        out = (b, s, sy.mul(heads, v_head))
    past_k = ctx.shape(6)
    total = kv_len
    if past_k is not None and not (k is not None and len(k) == 4):
        total = sy.add(past_k[2], kv_len)
    present_k = T(elem, (b, heads, total, head))
    present_v = T(elem, (b, heads, total, v_head))
    qk = T(elem, (b, heads, s, total))
    return [T(elem, out), present_k, present_v, qk]


@shape_rule("GroupQueryAttention", domain=MS)
def _gqa(ctx: RuleContext):
    q = ctx.shape(0)
    elem = ctx.elem(0)
    heads, kv_heads = ctx.attr("num_heads"), ctx.attr("kv_num_heads")
    if q is None:
        return [T(elem, None)] * 4
    b, s, d = q
    if not ctx.has(1):  # packed QKV
        head = sy.floordiv(d, heads + 2 * kv_heads)
    else:
        head = sy.floordiv(d, heads)
    past = ctx.shape(3)
    total_v = ctx.dims(6)
    if past is not None:
        total = past[2]
        if total_v is not None and not isinstance(total, int):
            total = sy.dmax(total, total_v[0])
    else:
        total = total_v[0] if total_v is not None else s
    present = T(elem, (b, kv_heads, total, head))
    qk = T(elem, (b, heads, s, total))
    return [T(elem, (b, s, sy.mul(heads, head))), present, present, qk]


# --- newer ONNX ops ---------------------------------------------------------------


# --- ai.onnx.ml ---------------------------------------------------------------------


def _rows(ctx: RuleContext):
    x = ctx.shape(0)
    if x is None:
        return ctx.fresh()
    return x[0] if len(x) == 2 else 1


def _labels(ctx: RuleContext, ints_attr: str, strings_attr: str):
    if ctx.attr(strings_attr):
        return "string", len(ctx.attr(strings_attr))
    return INT64, len(ctx.attr(ints_attr) or [])


for _op in ("Binarizer", "Imputer"):
    shape_rule(_op, domain=ML)(same_shape)


@shape_rule(("Scaler", "Normalizer"), domain=ML)
def _ml_float(ctx: RuleContext):
    x = ctx.shape(0)
    if ctx.node.op_type == "Normalizer" and x is not None and len(x) == 1:
        x = (1,) + tuple(x)
    return T("float", x)


@shape_rule("LabelEncoder", domain=ML)
def _label_encoder(ctx: RuleContext):
    a = ctx.attrs
    if ctx.opset < 2:
        elem = INT64 if ctx.elem(0) == "string" else "string"
    elif "values_tensor" in a:
        from .shape_rules import _array_type

        elem = _array_type(a["values_tensor"])[0]
    elif "values_strings" in a:
        elem = "string"
    elif "values_int64s" in a:
        elem = INT64
    elif "values_floats" in a:
        elem = "float"
    else:
        elem = "unknown"
    return T(elem, ctx.shape(0))


@shape_rule("CategoryMapper", domain=ML)
def _category_mapper(ctx: RuleContext):
    return T(INT64 if ctx.elem(0) == "string" else "string", ctx.shape(0))


@shape_rule("ArrayFeatureExtractor", domain=ML)
def _afe(ctx: RuleContext):
    x, y = ctx.shape(0), ctx.shape(1)
    if x is None:
        return T(ctx.elem(0), None)
    k = ctx.fresh() if y is None else sy.mul(1, _numel(y))
    if len(x) == 1:
        return T(ctx.elem(0), (1, k))
    return T(ctx.elem(0), tuple(x[:-1]) + (k,))


def _numel(shape):
    n = 1
    for d in shape:
        n = sy.mul(n, d)
    return n


@shape_rule("OneHotEncoder", domain=ML)
def _one_hot_encoder(ctx: RuleContext):
    x = ctx.shape(0)
    n = len(ctx.attr("cats_strings") or ctx.attr("cats_int64s") or [])
    return T("float", None if x is None else tuple(x) + (n,))


@shape_rule("LinearRegressor", domain=ML)
def _linear_regressor(ctx: RuleContext):
    return T("float", (_rows(ctx), ctx.attr("targets", 1)))


@shape_rule(("LinearClassifier", "SVMClassifier", "TreeEnsembleClassifier"), domain=ML)
def _classifier(ctx: RuleContext):
    elem, n = _labels(
        ctx,
        "classlabels_ints"
        if ctx.node.op_type != "TreeEnsembleClassifier"
        else "classlabels_int64s",
        "classlabels_strings",
    )
    if ctx.node.op_type == "TreeEnsembleClassifier":
        elem, n = _labels(ctx, "classlabels_int64s", "classlabels_strings")
    rows = _rows(ctx)
    scores = n if n != 2 or ctx.node.op_type == "TreeEnsembleClassifier" else 2
    if ctx.node.op_type == "LinearClassifier":
        coefs = ctx.attr("coefficients") or []
        x = ctx.shape(0)
        feats = x[-1] if x is not None else None
        if isinstance(feats, int) and feats:
            scores = len(coefs) // feats
    elif ctx.node.op_type == "SVMClassifier":
        scores = (
            ctx.fresh()
        )  # onnxruntime's binary layouts depend on several attributes
    return [T(elem, (rows,)), T("float", (rows, scores))]


@shape_rule("SVMRegressor", domain=ML)
def _svm_regressor(ctx: RuleContext):
    return T("float", (_rows(ctx), 1))


@shape_rule("TreeEnsembleRegressor", domain=ML)
def _tree_regressor(ctx: RuleContext):
    return T("float", (_rows(ctx), ctx.attr("n_targets", 1)))


@shape_rule("TreeEnsemble", domain=ML)
def _tree_ensemble(ctx: RuleContext):
    return T(ctx.elem(0), (_rows(ctx), ctx.attr("n_targets", 1)))


@shape_rule("ZipMap", domain=ML)
def _zipmap(ctx: RuleContext):
    key = "string" if ctx.attr("classlabels_strings") else INT64
    return ValueType(f"seq(map({key},tensor(float)))", None)


@shape_rule("FeatureVectorizer", domain=ML)
def _feature_vectorizer(ctx: RuleContext):
    dims = ctx.attr("inputdimensions") or []
    return T("float", (_rows(ctx), sum(dims)))


@shape_rule("QAttention", domain=MS)
def _q_attention(ctx: RuleContext):
    x, w = ctx.shape(0), ctx.shape(1)
    elem = (
        ctx.elem(3) if ctx.elem(3) != "unknown" else "float"
    )  # the input scale's type
    heads = ctx.attr("num_heads")
    if x is None or w is None:
        return [T(elem, None), T(elem, None)]
    b, s = x[0], x[1]
    hidden = sy.floordiv(w[1], 3)
    past = ctx.shape(8)
    share = ctx.attr("past_present_share_buffer", 0)
    total = s if past is None else (past[3] if share else sy.add(past[3], s))
    return [
        T(elem, (b, s, hidden)),
        T(elem, (2, b, heads, total, sy.floordiv(hidden, heads))),
    ]


@shape_rule("QEmbedLayerNormalization", domain=MS)
def _q_embed_layer_norm(ctx: RuleContext):
    ids, word = ctx.shape(0), ctx.shape(2)
    elem = ctx.elem(8) if ctx.elem(8) != "unknown" else "float"  # the dequantized type
    if ids is None or word is None:
        return [T(elem, None), T("int32", None)]
    return [T(elem, (ids[0], ids[1], word[1])), T("int32", (ids[0],))]


def _map_value_elem(ctx: RuleContext) -> str:
    """'float' from an input typed 'map(int64,tensor(float))'."""
    t = ctx.elem(0)
    if t.startswith("map(") and "tensor(" in t:
        return t[t.index("tensor(") + len("tensor(") :].rstrip(")")
    return "unknown"


@shape_rule("DictVectorizer", domain=ML)
def _dict_vectorizer(ctx: RuleContext):
    vocab = ctx.attr("string_vocabulary") or ctx.attr("int64_vocabulary") or []
    return T(_map_value_elem(ctx), (1, len(vocab)))


@shape_rule("CastMap", domain=ML)
def _cast_map(ctx: RuleContext):
    elem = {"TO_FLOAT": "float", "TO_STRING": "string", "TO_INT64": INT64}.get(
        ctx.attr("cast_to", "TO_FLOAT"), "unknown"
    )
    n = (
        ctx.attr("max_map", 1)
        if ctx.attr("map_form", "DENSE") == "SPARSE"
        else ctx.fresh()
    )
    return T(elem, (1, n))


@shape_rule("DynamicQuantizeLSTM", domain=MS)
def _dynamic_quantize_lstm(ctx: RuleContext):
    from .ops.rnn import _rnn_shape

    return _rnn_shape(ctx)
