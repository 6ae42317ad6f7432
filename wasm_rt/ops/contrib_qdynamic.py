"""com.microsoft operators onnxruntime's quantize_dynamic emits for fused
transformer graphs and LSTMs: QAttention, QEmbedLayerNormalization,
DynamicQuantizeLSTM.

QAttention is Attention with a uint8 input and 8-bit weights: the QKV projection
is the exact int32 product of ``_qgemm`` scaled like MLAS's scale-bias output
processor (``float32(acc) * (input_scale * weight_scale) + bias``), then the
float32 attention of ``_attention_cpu``. QEmbedLayerNormalization dequantizes
the rows it gathers and runs the float EmbedLayerNormalization.
DynamicQuantizeLSTM follows onnxruntime's CPU LSTM step by step (dynamic uint8
quantization of X and of H at every step, exact int32 products, MLAS's sigmoid
and tanh) so that its outputs equal onnxruntime's single-threaded ones.
"""

from __future__ import annotations

import numpy as np

from .. import errors
from ..errors import InvalidArgument
from ..limits import check_alloc
from ..registry import register
from ._attention_cpu import F32, attend, prepare_mask, to_bnsh
from ._qgemm import qgemm_i32
from .contrib_attention import _concat_past
from .contrib_norm import embed_layer_norm
from .quantize import dynamic_quantize_linear
from .rnn import _ACTIVATIONS

MS = "com.microsoft"
I8 = np.dtype(np.int8)
_Q8 = (np.dtype(np.uint8), np.dtype(np.int8))


def _one(x, what, op):
    """A scalar or one-element 1-D tensor, as a 0-d array."""
    x = np.asarray(x)
    if x.size != 1 or x.ndim > 1:
        raise InvalidArgument(
            f"{op}: {what} must be a scalar or a 1-D tensor of size 1, got shape "
            f"{list(x.shape)}"
        )
    return x.reshape(())


def _scalar_or_column(x, n, what, op):
    """A scalar, or one value per weight column ([n])."""
    x = np.asarray(x)
    if x.size == 1 and x.ndim <= 1:
        return x.reshape(())
    if x.shape != (n,):
        raise InvalidArgument(
            f"{op}: {what} must be a scalar or have shape [{n}] (per column), got "
            f"{list(x.shape)}"
        )
    return x


@register("QAttention", since=1, domain=MS)
def q_attention(
    x,
    weight,
    bias,
    input_scale,
    weight_scale,
    mask_index=None,
    input_zero_point=None,
    weight_zero_point=None,
    past=None,
    *,
    num_heads,
    unidirectional=0,
    do_rotary=0,
    past_present_share_buffer=0,
    mask_filter_value=-10000.0,
    scale=0.0,
):
    op = "QAttention"
    if do_rotary:
        raise errors.NotImplemented(
            f"{op}: do_rotary is not supported (onnxruntime's CPU kernel accepts it but "
            "applies no rotary embedding)"
        )
    if past_present_share_buffer:
        raise errors.NotImplemented(
            f"{op}: past_present_share_buffer is not supported (onnxruntime's CPU "
            "kernel has no shared buffer)"
        )
    if x.dtype != np.uint8:
        raise InvalidArgument(f"{op}: input must be uint8, got {x.dtype}")
    if weight.dtype not in _Q8:
        raise InvalidArgument(f"{op}: weight must be uint8 or int8, got {weight.dtype}")
    if x.ndim != 3 or weight.ndim != 2 or weight.shape[0] != x.shape[2]:
        raise InvalidArgument(
            f"{op}: input must be [batch, seq, in] and weight [in, 3 * hidden], got "
            f"{list(x.shape)} and {list(weight.shape)}"
        )
    n3 = weight.shape[1]
    hidden = n3 // 3
    if n3 % 3 or hidden == 0 or hidden % num_heads:
        raise InvalidArgument(
            f"{op}: weight's {n3} columns must be 3 * hidden with hidden a multiple of "
            f"num_heads={num_heads}"
        )
    if bias.dtype != F32 or bias.shape != (n3,):
        raise InvalidArgument(
            f"{op}: bias must be float32 [{n3}], got {bias.dtype} {list(bias.shape)}"
        )
    a_scale = _one(input_scale, "input_scale", op).astype(F32)
    w_scale = _scalar_or_column(weight_scale, n3, "weight_scale", op).astype(F32)
    a_zp = np.uint8(0)
    if input_zero_point is not None:
        a_zp = _one(input_zero_point, "input_zero_point", op)
        if a_zp.dtype != np.uint8:
            raise InvalidArgument(
                f"{op}: input_zero_point must be uint8, got {a_zp.dtype}"
            )
    w_zp = weight.dtype.type(0)
    if weight_zero_point is not None:
        w_zp = _scalar_or_column(weight_zero_point, n3, "weight_zero_point", op)
        if w_zp.dtype != weight.dtype:
            raise InvalidArgument(
                f"{op}: weight_zero_point is {w_zp.dtype}, weight is {weight.dtype}"
            )
    batch, q_len, k_in = x.shape
    check_alloc((batch * q_len, n3), F32, f"{op} QKV projection")
    acc = qgemm_i32(x.reshape(-1, k_in), a_zp, weight, w_zp)
    # MLAS's output processor: float32(acc) times the folded float32 scale, + bias.
    qkv = acc.astype(F32) * (a_scale * w_scale)
    qkv += bias
    qkv = qkv.reshape(batch, q_len, n3)
    q, k, v = (to_bnsh(qkv[..., i * hidden : (i + 1) * hidden], num_heads, w, op)
               for i, w in enumerate("QKV"))  # fmt: skip
    if past is not None and (past.ndim != 5 or past.shape[0] != 2):
        raise InvalidArgument(
            f"{op}: past must be [2, batch, heads, past, head], got {list(past.shape)}"
        )
    if past is not None and past.dtype != F32:
        raise InvalidArgument(f"{op}: past must be float32, got {past.dtype}")
    k = _concat_past(None if past is None else past[0], k, "past", op)
    v = _concat_past(None if past is None else past[1], v, "past", op)
    total = k.shape[2]
    mask = prepare_mask(
        mask_index, batch, q_len, total, total - q_len, unidirectional,
        mask_filter_value, op,
    )  # fmt: skip
    out = attend(q, k, v, mask, None, scale)
    return out, np.stack((k, v))


@register("QEmbedLayerNormalization", since=1, domain=MS, context=True)
def q_embed_layer_norm(
    ctx,
    input_ids,
    segment_ids,
    word_embedding,
    position_embedding,
    segment_embedding,
    gamma,
    beta,
    mask,
    word_embedding_scale,
    position_embedding_scale,
    segment_embedding_scale,
    gamma_scale,
    beta_scale,
    word_embedding_zero_point,
    position_embedding_zero_point,
    segment_embedding_zero_point,
    gamma_zero_point,
    beta_zero_point,
    *,
    epsilon=1e-12,
):
    """EmbedLayerNormalization on 8-bit tables, each dequantized as
    ``float32(q - zero_point) * scale`` (onnxruntime's per-tensor Dequantize).

    Only the gathered word rows are dequantized, so a large vocabulary is never
    expanded to float32. Positions are 0..seq-1 (the op has no position_ids).
    """
    op = "QEmbedLayerNormalization"
    if input_ids.ndim != 2:
        raise InvalidArgument(
            f"{op}: input_ids must be 2-D [batch, sequence], got {list(input_ids.shape)}"
        )
    qdt = word_embedding.dtype
    if qdt not in _Q8:
        raise InvalidArgument(f"{op}: word_embedding must be uint8 or int8, got {qdt}")
    has_segment = segment_ids is not None
    tables = {
        "word_embedding": (word_embedding, word_embedding_scale, word_embedding_zero_point),
        "position_embedding": (
            position_embedding, position_embedding_scale, position_embedding_zero_point,
        ),
        "gamma": (gamma, gamma_scale, gamma_zero_point),
        "beta": (beta, beta_scale, beta_zero_point),
    }  # fmt: skip
    if has_segment:
        tables["segment_embedding"] = (
            segment_embedding, segment_embedding_scale, segment_embedding_zero_point,
        )  # fmt: skip
    params = {}
    for name, (t, s, z) in tables.items():
        if t is None or s is None or z is None:
            raise InvalidArgument(
                f"{op}: {name}, its scale and its zero point are required"
            )
        if t.dtype != qdt or np.asarray(z).dtype != qdt:
            raise InvalidArgument(
                f"{op}: {name} and its zero point must be {qdt} like word_embedding, got "
                f"{t.dtype} and {np.asarray(z).dtype}"
            )
        s = _one(s, f"{name} scale", op)
        if s.dtype != F32:
            raise InvalidArgument(f"{op}: {name} scale must be float32, got {s.dtype}")
        params[name] = (s, np.int32(_one(z, f"{name} zero point", op)))

    def deq(name, q):
        s, z = params[name]
        return (q.astype(np.int32) - z).astype(F32) * s

    if word_embedding.ndim != 2:
        raise InvalidArgument(
            f"{op}: word_embedding must be 2-D, got {word_embedding.shape}"
        )
    ids = np.asarray(input_ids)
    if ids.dtype != np.int32:
        raise InvalidArgument(f"{op}: input_ids must be int32, got {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= word_embedding.shape[0]):
        raise InvalidArgument(
            f"{op}: input_ids must be in [0, {word_embedding.shape[0]}), got values in "
            f"[{ids.min()}, {ids.max()}]"
        )
    if position_embedding.ndim != 2 or ids.shape[1] > position_embedding.shape[0]:
        raise InvalidArgument(
            f"{op}: position_embedding must be 2-D with at least sequence length "
            f"{ids.shape[1]} rows, got {list(position_embedding.shape)}"
        )
    check_alloc(ids.shape + word_embedding.shape[1:], F32, f"{op} word rows")
    # The gathered rows become a table of B*S rows indexed 0..B*S-1.
    rows = deq("word_embedding", word_embedding[ids.reshape(-1)])
    local_ids = np.arange(rows.shape[0], dtype=np.int32).reshape(ids.shape)
    outs = embed_layer_norm(
        ctx,
        local_ids,
        segment_ids,
        rows,
        deq("position_embedding", position_embedding),
        deq("segment_embedding", segment_embedding) if has_segment else None,
        deq("gamma", gamma),
        deq("beta", beta),
        mask,
        epsilon=epsilon,
    )
    return outs[:2] if isinstance(outs, tuple) else outs


# ---------------------------------------------------------- DynamicQuantizeLSTM
# onnxruntime's CPU LSTM (``uni_directional_lstm.cc``) evaluates sigmoid and tanh
# with MLAS's rational polynomials (Eigen's coefficients) and, on x86-64 with
# AVX2, fused multiply-adds. Each fma is computed here in float64 (the product
# of two float32 is exact there) and rounded once to float32, which reproduces
# onnxruntime's Sigmoid/Tanh bit for bit on every float32 tried.
_LOGISTIC_P = (4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05,
               8.51377133304701e-03, 2.48287947061529e-01)  # fmt: skip
_LOGISTIC_Q = (6.10247389755681e-13, 5.76102136993427e-09, 6.29106785017040e-06,
               1.70198817374094e-03, 1.16817656904453e-01, 9.93151921023180e-01)  # fmt: skip
_TANH_P = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
           5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
           4.89352455891786e-03)  # fmt: skip
_TANH_Q = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
           4.89352518554385e-03)  # fmt: skip


def _fma(a, b, c):
    return (a.astype(np.float64) * b + np.float64(c)).astype(F32)


def _poly(v2, coeffs):
    p = _fma(v2, F32(coeffs[0]), F32(coeffs[1]))
    for c in coeffs[2:]:
        p = _fma(p, v2, F32(c))
    return p


def mlas_logistic(x):
    v = np.clip(x, F32(-18), F32(18))
    v2 = v * v
    return np.clip(_poly(v2, _LOGISTIC_P) * v / _poly(v2, _LOGISTIC_Q) + F32(0.5), 0, 1)


def mlas_tanh(x):
    v = np.clip(x, F32(-9), F32(9))
    v2 = v * v
    return _poly(v2, _TANH_P) * v / _poly(v2, _TANH_Q)


# onnxruntime's alpha/beta defaults for activations given without them (others 0).
_ORT_ACT_DEFAULTS = {
    "leakyrelu": (0.01, 0.0),
    "hardsigmoid": (0.2, 0.5),
    "elu": (1.0, 0.0),
}


def _ort_activations(names, alphas, betas, op):
    """Bind activation names to functions of x as onnxruntime's LSTM does:
    alpha/beta consumed in order by the functions that take them."""
    alphas, betas = list(alphas or []), list(betas or [])
    fns = []
    for name in names:
        key = (name.decode() if isinstance(name, bytes) else name).lower()
        if key not in _ACTIVATIONS:
            raise InvalidArgument(
                f"{op}: unsupported activation {name!r}; expected one of "
                f"{sorted(_ACTIVATIONS)}"
            )
        f, takes_a, takes_b = _ACTIVATIONS[key]
        da, db = _ORT_ACT_DEFAULTS.get(key, (0.0, 0.0))
        a = F32(alphas.pop(0) if alphas else da) if takes_a is not None else None
        b = F32(betas.pop(0) if betas else db) if takes_b is not None else None
        if key == "sigmoid":
            fns.append(mlas_logistic)
        elif key == "tanh":
            fns.append(mlas_tanh)
        else:
            fns.append(lambda x, f=f, a=a, b=b: f(x, a, b).astype(F32, copy=False))
    return fns


def _direction_params(scale, zp, dirs, hidden, weights, what, op):
    """Per-direction (float32 scale: scalar or per column, zero point) pairs.

    Shapes [dirs] or [dirs, 4 * hidden]; like onnxruntime, a per-column zero
    point must be all 0 for int8 and one repeated value for uint8, and only its
    first value is used."""
    out = []
    for name, t in (("scale", scale), ("zero_point", zp)):
        if t is None:
            raise InvalidArgument(f"{op}: {what}_{name} is required")
        if (
            t.ndim not in (1, 2)
            or t.shape[0] != dirs
            or (t.ndim == 2 and t.shape[1] != 4 * hidden)
        ):
            raise InvalidArgument(
                f"{op}: {what}_{name} must be [{dirs}] (per tensor) or "
                f"[{dirs}, {4 * hidden}] (per column), got {list(t.shape)}"
            )
    if scale.dtype != F32:
        raise InvalidArgument(f"{op}: {what}_scale must be float32, got {scale.dtype}")
    if zp.dtype != weights.dtype:
        raise InvalidArgument(
            f"{op}: {what}_zero_point is {zp.dtype}, {what} is {weights.dtype}"
        )
    z = zp.reshape(dirs, -1)
    if zp.ndim == 2 and (np.any(z != 0) if zp.dtype == I8 else np.any(z != z[:, :1])):
        raise InvalidArgument(
            f"{op}: a per-column {what}_zero_point must be "
            + ("all zero for int8" if zp.dtype == I8 else "one constant value")
        )
    s = scale.reshape(dirs, -1)
    for d in range(dirs):
        out.append((s[d] if s.shape[1] > 1 else s[d, 0], z[d, 0]))
    return out


def _reverse_within(x, lens):
    """Each batch entry's first len steps reversed, the padding left in place
    (onnxruntime's ReverseSequence); an involution, used both ways."""
    seq = x.shape[0]
    t = np.arange(seq)[:, None]
    src = np.where(t < lens[None, :], lens[None, :] - 1 - t, t)
    return x[src, np.arange(x.shape[1])[None, :]]


def _qgemm_f32(a, w, w_scale, w_zp):
    """onnxruntime's quantized rnn ComputeGemm: A (float32) quantized to uint8 over
    the whole matrix, exact int32 product, times float32(a_scale * w_scale)."""
    a_q, a_scale, a_zp = dynamic_quantize_linear(a)
    acc = qgemm_i32(a_q, a_zp, w, w_zp)
    return acc.astype(F32) * (a_scale.astype(F32) * w_scale)


def _dq_lstm_direction(x, lens, w, r, bias, peep, h0, c0, acts, clip, input_forget,
                       reverse, keep_y):  # fmt: skip
    """One direction, single-threaded onnxruntime order of operations.

    Returns Y [seq, batch, hidden] (zero past each length), Y_h, Y_c."""
    (w, ws, wz), (r, rs, rz) = w, r
    seq, batch, _ = x.shape
    hs = h0.shape[1]
    f, g, hfn = acts
    max_len = int(lens.max()) if batch else 0
    if reverse:
        x = _reverse_within(x, lens)
    # The input projection of every step at once: X quantized as one matrix
    # over the first max_len steps (padding rows included, as onnxruntime does).
    iofc = _qgemm_f32(x[:max_len].reshape(-1, x.shape[2]), w, ws, wz)
    iofc = iofc.reshape(max_len, batch, 4 * hs)
    y = np.zeros((seq, batch, hs), F32)
    h, c = h0.copy(), c0.copy()
    h_src = h  # what the next step quantizes: Y's row (0 when done) or the state
    lo = -F32(clip)
    for step in range(max_len):
        gates = iofc[step] + _qgemm_f32(h_src, r, rs, rz)
        live = (step < lens)[:, None]

        def pre(k, cell, gates=gates):
            v = gates[:, k * hs : (k + 1) * hs]
            if peep is not None and k < 3:
                v = v + cell * peep[k]
            if bias is not None:
                v = v + bias[k]
            return np.clip(v, lo, F32(clip))

        # Gate order i, o, f, c; peepholes i, o, f.
        i = f(pre(0, c))
        fg = F32(1) - i if input_forget else f(pre(2, c))
        c_new = c * fg + i * g(pre(3, c))
        o = f(pre(1, c_new))
        h_new = hfn(c_new) * o
        c = np.where(live, c_new, c)
        h = np.where(live, h_new, h)
        y[step] = np.where(live, h_new, F32(0))
        h_src = y[step] if keep_y else h
    if reverse:
        y = _reverse_within(y, lens)
    done = (lens == 0)[:, None]
    return y, np.where(done, F32(0), h), np.where(done, F32(0), c)


@register("DynamicQuantizeLSTM", since=1, domain=MS, context=True)
def dynamic_quantize_lstm(
    ctx,
    x,
    w,
    r,
    b=None,
    sequence_lens=None,
    initial_h=None,
    initial_c=None,
    p=None,
    w_scale=None,
    w_zero_point=None,
    r_scale=None,
    r_zero_point=None,
    *,
    activation_alpha=None,
    activation_beta=None,
    activations=None,
    clip=None,
    direction="forward",
    hidden_size=None,
    input_forget=0,
):
    """LSTM with 8-bit W [dirs, input, 4*hidden] and R [dirs, hidden, 4*hidden].

    Every product quantizes its float operand dynamically to uint8 as one
    matrix (X once over all steps, H once per step over the whole batch) and
    multiplies exactly in int32, as onnxruntime's CPU kernel does with one
    intra-op thread (with more, it quantizes H per block of batch rows, so its
    own results depend on the thread count).
    """
    op = "DynamicQuantizeLSTM"
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction not in ("forward", "reverse", "bidirectional"):
        raise InvalidArgument(
            f"{op}: direction must be forward, reverse or bidirectional, got {direction!r}"
        )
    dirs = 2 if direction == "bidirectional" else 1
    if not hidden_size or hidden_size <= 0:
        raise InvalidArgument(f"{op}: the hidden_size attribute is required (> 0)")
    hs = int(hidden_size)
    if clip is not None and clip <= 0:
        raise InvalidArgument(f"{op}: clip must be positive, got {clip}")
    clip = np.finfo(F32).max if clip is None else clip
    if x.dtype != F32 or x.ndim != 3:
        raise InvalidArgument(
            f"{op}: X must be float32 [seq, batch, input], got {x.dtype} {list(x.shape)}"
        )
    seq, batch, n_in = x.shape
    for name, t, k in (("W", w, n_in), ("R", r, hs)):
        if t.dtype not in _Q8 or t.shape != (dirs, k, 4 * hs):
            raise InvalidArgument(
                f"{op}: {name} must be uint8/int8 [{dirs}, {k}, {4 * hs}], got "
                f"{t.dtype} {list(t.shape)}"
            )
    wq = _direction_params(w_scale, w_zero_point, dirs, hs, w, "W", op)
    rq = _direction_params(r_scale, r_zero_point, dirs, hs, r, "R", op)
    shapes = {"B": (b, (dirs, 8 * hs)), "initial_h": (initial_h, (dirs, batch, hs)),
              "initial_c": (initial_c, (dirs, batch, hs)), "P": (p, (dirs, 3 * hs))}  # fmt: skip
    for name, (t, shape) in shapes.items():
        if t is not None and (t.dtype != F32 or t.shape != shape):
            raise InvalidArgument(
                f"{op}: {name} must be float32 {list(shape)}, got {t.dtype} "
                f"{list(t.shape)}"
            )
    if sequence_lens is None:
        lens = np.full(batch, seq, np.int64)
    else:
        lens = np.asarray(sequence_lens).astype(np.int64)
        if (
            sequence_lens.dtype != np.int32
            or lens.shape != (batch,)
            or np.any((lens < 0) | (lens > seq))
        ):
            raise InvalidArgument(
                f"{op}: sequence_lens must be int32 [{batch}] with values in [0, {seq}], "
                f"got {sequence_lens.dtype} {lens.tolist()}"
            )
    names = list(activations) if activations else ["Sigmoid", "Tanh", "Tanh"] * dirs
    if len(names) != 3 * dirs:
        raise InvalidArgument(
            f"{op}: expected {3 * dirs} activations for {direction}, got {names}"
        )
    acts = _ort_activations(names, activation_alpha, activation_beta, op)
    check_alloc((seq, dirs, batch, hs), F32, f"{op} Y")
    check_alloc((seq * batch, 4 * hs), F32, f"{op} input projection")
    keep_y = ctx.num_outputs >= 1 and bool(ctx.output_names[0])
    zeros = np.zeros((batch, hs), F32)
    results = []
    for d in range(dirs):
        # Wb + Rb, folded once in float32, per gate (i, o, f, c).
        bias = None if b is None else (b[d, : 4 * hs] + b[d, 4 * hs :]).reshape(4, hs)
        results.append(_dq_lstm_direction(
            x, lens, (w[d],) + wq[d], (r[d],) + rq[d], bias,
            None if p is None else p[d].reshape(3, hs),
            zeros if initial_h is None else initial_h[d],
            zeros if initial_c is None else initial_c[d],
            acts[3 * d : 3 * d + 3], clip, input_forget,
            direction == "reverse" or d == 1, keep_y,
        ))  # fmt: skip
    y, yh, yc = (np.stack(v) for v in zip(*results))
    return y.transpose(1, 0, 2, 3), yh, yc
