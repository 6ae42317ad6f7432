"""com.microsoft GroupQueryAttention, MultiHeadAttention and Attention against
onnxruntime's CPU kernels."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import assert_same, run_ort, run_wasm_rt, single_node_model

import wasm_rt

RNG = np.random.default_rng(3)
MS = "com.microsoft"
I32 = np.int32
# float32: both sides compute softmax(QK^T)V in float32 over <= 16 keys with
# different summation orders (BLAS vs numpy); a few ulps of outputs of size ~1.
F32_TOL = dict(rtol=1e-5, atol=1e-5)
# float16 GQA: both upcast to float32 and round once at the end, but float32
# differences can flip that final float16 rounding: one float16 ulp (~1e-3).
F16_TOL = dict(rtol=2e-3, atol=2e-3)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def check(op, inputs, outputs, tol=F32_TOL, **attrs):
    model = single_node_model(op, inputs, outputs, 1, domain=MS, **attrs)
    feeds = {n: v for n, v in inputs.items() if v is not None}
    ours, theirs = run_wasm_rt(model, feeds), run_ort(model, feeds)
    assert_same(ours, theirs, what=op, **tol)
    return ours


def session(op, inputs, outputs=1, **attrs):
    return wasm_rt.InferenceSession(
        single_node_model(op, inputs, outputs, 1, domain=MS, **attrs)
    )


# ---------------------------------------------------------------- GroupQueryAttention
# onnxruntime's CPU GQA wants head sizes that are multiples of 8 (16 with rotary)
# and a rotary cache width (rotary_dim / 2) that is a multiple of 8.
N, NK, H = 4, 2, 32


def gqa_inputs(
    batch,
    seq,
    past_len,
    seqlens,
    total,
    packed=False,
    dtype=np.float32,
    rotary=None,
    **extra,
):
    q = rand(batch, seq, (N + 2 * NK) * H if packed else N * H, dtype=dtype)
    inputs = {
        "query": q,
        "key": None if packed else rand(batch, seq, NK * H, dtype=dtype),
        "value": None if packed else rand(batch, seq, NK * H, dtype=dtype),
        "past_key": rand(batch, NK, past_len, H, dtype=dtype) if past_len else None,
        "past_value": rand(batch, NK, past_len, H, dtype=dtype) if past_len else None,
        "seqlens_k": np.asarray(seqlens, I32),
        "total_sequence_length": np.array(total, I32),
        "cos_cache": None,
        "sin_cache": None,
    }
    if rotary:
        angle = RNG.random((32, rotary // 2)) * 3
        inputs["cos_cache"] = np.cos(angle).astype(dtype)
        inputs["sin_cache"] = np.sin(angle).astype(dtype)
    inputs.update(extra)
    return inputs


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("phase", ["prompt", "decode", "subsequent"])
def test_gqa_phases(packed, phase):
    if phase == "prompt":  # no past; seqlens_k = total - 1
        inputs = gqa_inputs(2, 5, 0, [4, 4], 5, packed)
    elif phase == "decode":  # one new token per entry after 3 and 5 cached ones
        inputs = gqa_inputs(2, 1, 5, [3, 5], 6, packed)
    else:  # a second prompt chunk: batch 1, 3 new tokens after 4 cached
        inputs = gqa_inputs(1, 3, 4, [6], 7, packed)
    check("GroupQueryAttention", inputs, 3, num_heads=N, kv_num_heads=NK)


def test_gqa_shared_buffer():
    # past and present as one max-length (8) buffer: present keeps that length.
    inputs = gqa_inputs(2, 1, 8, [2, 4], 5)
    check("GroupQueryAttention", inputs, 3, num_heads=N, kv_num_heads=NK)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rot", [H, H // 2])
@pytest.mark.parametrize("packed", [False, True])
def test_gqa_rotary(interleaved, rot, packed):
    inputs = gqa_inputs(2, 1, 6, [4, 6], 7, packed, rotary=rot)
    check(
        "GroupQueryAttention",
        inputs,
        3,
        num_heads=N,
        kv_num_heads=NK,
        do_rotary=1,
        rotary_interleaved=interleaved,
    )
    prompt = gqa_inputs(1, 4, 0, [3], 4, packed, rotary=rot)
    check(
        "GroupQueryAttention",
        prompt,
        3,
        num_heads=N,
        kv_num_heads=NK,
        do_rotary=1,
        rotary_interleaved=interleaved,
    )


def test_gqa_rotary_position_ids():
    pos = np.array([[7], [2]], np.int64)
    inputs = gqa_inputs(2, 1, 6, [4, 6], 7, rotary=H, position_ids=pos)
    check("GroupQueryAttention", inputs, 3, num_heads=N, kv_num_heads=NK, do_rotary=1)


@pytest.mark.parametrize("window", [1, 3])
def test_gqa_local_window_softcap_scale(window):
    inputs = gqa_inputs(1, 6, 0, [5], 6)
    check(
        "GroupQueryAttention",
        inputs,
        3,
        num_heads=N,
        kv_num_heads=NK,
        local_window_size=window,
        softcap=2.0,
        scale=0.3,
    )
    decode = gqa_inputs(2, 1, 7, [5, 7], 8)
    check(
        "GroupQueryAttention",
        decode,
        3,
        num_heads=N,
        kv_num_heads=NK,
        local_window_size=window,
    )


@pytest.mark.parametrize("bias_shape", [(2, N, 1, 6), (1, 1, 1, 6)])
def test_gqa_attention_bias_head_sink(bias_shape):
    extra = {
        "position_ids": None,
        "attention_bias": rand(*bias_shape),
        "head_sink": rand(N),
    }
    inputs = gqa_inputs(2, 1, 5, [5, 5], 6, **extra)
    check("GroupQueryAttention", inputs, 3, num_heads=N, kv_num_heads=NK)


def test_gqa_smooth_softmax_and_non_causal():
    inputs = gqa_inputs(1, 4, 0, [3], 4)
    check(
        "GroupQueryAttention", inputs, 3, num_heads=N, kv_num_heads=NK, smooth_softmax=1
    )
    check("GroupQueryAttention", inputs, 3, num_heads=N, kv_num_heads=NK, causal=0)


@pytest.mark.parametrize("mode", [1, 2])
def test_gqa_qk_output(mode):
    # Every entry at full length: onnxruntime leaves the scores of keys past an
    # entry's own length uninitialised.
    inputs = gqa_inputs(2, 1, 4, [4, 4], 5)
    check(
        "GroupQueryAttention", inputs, 4, num_heads=N, kv_num_heads=NK, qk_output=mode
    )
    inputs = gqa_inputs(1, 4, 0, [3], 4)
    check(
        "GroupQueryAttention", inputs, 4, num_heads=N, kv_num_heads=NK, qk_output=mode
    )


@pytest.mark.parametrize("phase", ["prompt", "decode"])
def test_gqa_fp16(phase):
    if phase == "prompt":
        inputs = gqa_inputs(1, 4, 0, [3], 4, dtype=np.float16, rotary=H)
    else:
        inputs = gqa_inputs(2, 1, 4, [2, 4], 5, dtype=np.float16, rotary=H)
    check(
        "GroupQueryAttention",
        inputs,
        3,
        F16_TOL,
        num_heads=N,
        kv_num_heads=NK,
        do_rotary=1,
        softcap=3.0,
    )


def test_gqa_refusals():
    inputs = gqa_inputs(1, 2, 0, [1], 2)
    feeds = {k: v for k, v in inputs.items() if v is not None}
    with pytest.raises(wasm_rt.errors.NotImplemented, match="sliding_window_cache"):
        session(
            "GroupQueryAttention",
            inputs,
            3,
            num_heads=N,
            kv_num_heads=NK,
            sliding_window_cache=1,
            local_window_size=1,
        ).run(None, feeds)
    with pytest.raises(wasm_rt.errors.NotImplemented, match="quant"):
        session(
            "GroupQueryAttention",
            inputs,
            3,
            num_heads=N,
            kv_num_heads=NK,
            k_quant_type="PER_TENSOR",
        ).run(None, feeds)
    bad = dict(feeds, seqlens_k=np.array([5], I32))
    with pytest.raises(wasm_rt.errors.InvalidArgument, match="seqlens_k"):
        session("GroupQueryAttention", inputs, 3, num_heads=N, kv_num_heads=NK).run(
            None, bad
        )


# ---------------------------------------------------------------- MultiHeadAttention
B, S, L, MH, MHD = 2, 3, 4, 2, 4  # batch, q len, kv len, heads, head size


def mha_inputs(**kw):
    inputs = {
        "query": rand(B, S, MH * MHD),
        "key": rand(B, L, MH * MHD),
        "value": rand(B, L, MH * 6),
        "bias": None,
        "key_padding_mask": None,
        "attention_bias": None,
        "past_key": None,
        "past_value": None,
    }
    inputs.update(kw)
    return inputs


@pytest.mark.parametrize("unidirectional", [0, 1])
def test_mha_basic_bias_scale(unidirectional):
    check(
        "MultiHeadAttention",
        mha_inputs(),
        1,
        num_heads=MH,
        unidirectional=unidirectional,
    )
    bias = rand(MH * MHD * 2 + MH * 6)
    check(
        "MultiHeadAttention",
        mha_inputs(bias=bias),
        1,
        num_heads=MH,
        scale=0.2,
        unidirectional=unidirectional,
    )


@pytest.mark.parametrize("form", ["ends", "ends_starts_3b2", "raw2d", "raw3d"])
def test_mha_key_padding_mask(form):
    mask = {
        "ends": np.array([2, 4], I32),
        "ends_starts_3b2": np.array([3, 4, 1, 0, 9, 9, 9, 9], I32),
        "raw2d": np.array([[1, 1, 0, 1], [0, 1, 1, 1]], I32),
        "raw3d": (RNG.random((B, S, L)) > 0.4).astype(I32),
    }[form]
    check(
        "MultiHeadAttention",
        mha_inputs(key_padding_mask=mask),
        1,
        num_heads=MH,
        mask_filter_value=-500.0,
    )


def test_mha_attention_bias_past_present():
    # onnxruntime wants value heads as wide as query heads when a past is given.
    past_k, past_v = rand(B, MH, 2, MHD), rand(B, MH, 2, MHD)
    inputs = mha_inputs(
        value=rand(B, L, MH * MHD),
        attention_bias=rand(1, MH, S, L + 2),
        past_key=past_k,
        past_value=past_v,
        key_padding_mask=np.array([6, 5], I32),
    )
    check("MultiHeadAttention", inputs, 3, num_heads=MH, unidirectional=1)


def test_mha_past_without_present_outputs():
    # With past_key/past_value but no present outputs, onnxruntime's CPU kernel
    # skips the concatenation yet still attends over past + new keys, reading
    # past the end of the new-key buffer (results vary with the memory there).
    # wasm_rt attends over the concatenation, which onnxruntime computes when
    # the present outputs are requested: compare with that output 0.
    inputs = mha_inputs(
        value=rand(B, L, MH * MHD),
        past_key=rand(B, MH, 2, MHD),
        past_value=rand(B, MH, 2, MHD),
    )
    feeds = {n: a for n, a in inputs.items() if a is not None}
    with_present = single_node_model(
        "MultiHeadAttention", inputs, 3, 1, domain=MS, num_heads=MH
    )
    alone = single_node_model(
        "MultiHeadAttention", inputs, 1, 1, domain=MS, num_heads=MH
    )
    (ours,) = run_wasm_rt(alone, feeds)
    np.testing.assert_allclose(ours, run_ort(with_present, feeds)[0], **F32_TOL)


def test_mha_cross_attention_bnsh():
    inputs = mha_inputs(
        key=rand(B, MH, L, MHD), value=rand(B, MH, L, MHD), bias=rand(3 * MH * MHD)
    )
    check("MultiHeadAttention", inputs, 1, num_heads=MH)


def test_mha_packed_layouts_equal_separate():
    # onnxruntime's CPU kernel refuses packed QKV and packed KV, so these compare
    # with the separate-input form it does run.
    q, k, v = rand(B, S, MH, MHD), rand(B, S, MH, MHD), rand(B, S, MH, MHD)
    flat = lambda t: t.reshape(B, t.shape[1], -1)  # noqa: E731
    sep = mha_inputs(query=flat(q), key=flat(k), value=flat(v))
    sep_model = single_node_model(
        "MultiHeadAttention", sep, 1, 1, domain=MS, num_heads=MH
    )
    feeds = {n: a for n, a in sep.items() if a is not None}
    (expected,) = run_ort(sep_model, feeds)
    for packed in (
        {"query": np.stack((q, k, v), axis=3)},
        {"query": flat(q), "key": np.stack((k, v), axis=3)},
    ):
        model = single_node_model(
            "MultiHeadAttention", packed, 1, 1, domain=MS, num_heads=MH
        )
        (ours,) = run_wasm_rt(model, packed)
        np.testing.assert_allclose(ours, expected, **F32_TOL)


def test_mha_refusals():
    inputs = mha_inputs(key_padding_mask=np.ones((B, 1, S, L), I32))
    feeds = {k: v for k, v in inputs.items() if v is not None}
    with pytest.raises(wasm_rt.errors.NotImplemented, match="4-D mask"):
        session("MultiHeadAttention", inputs, num_heads=MH).run(None, feeds)


@pytest.mark.parametrize("shape", [(B, 1), (1, 1), (1, L)])
def test_mha_one_column_mask_refused_like_onnxruntime(shape):
    # Unlike Attention, onnxruntime's MultiHeadAttention refuses a [batch, 1] or
    # [1, 1] key_padding_mask ("Input 'key_padding_mask' shape is not expected").
    inputs = mha_inputs(key_padding_mask=np.ones(shape, I32))
    feeds = {k: v for k, v in inputs.items() if v is not None}
    model = single_node_model("MultiHeadAttention", inputs, 1, 1, domain=MS, num_heads=MH)
    with pytest.raises(Exception, match="key_padding_mask"):
        run_ort(model, feeds)
    with pytest.raises(wasm_rt.errors.InvalidArgument, match="mask shape"):
        run_wasm_rt(model, feeds)


# ---------------------------------------------------------------- Attention
IN = 5


def att_inputs(**kw):
    inputs = {
        "input": rand(B, S, IN),
        "weights": rand(IN, 3 * MH * MHD),
        "bias": rand(3 * MH * MHD),
        "mask_index": None,
        "past": None,
        "attention_bias": None,
    }
    inputs.update(kw)
    return inputs


ATT_MASKS = {
    None: None,
    "ends": np.array([2, 3], I32),
    "ends_starts": np.array([3, 3, 1, 0], I32),
    "raw2d": np.array([[1, 0, 1], [1, 1, 0]], I32),
    "raw3d": (RNG.random((B, S, S)) > 0.3).astype(I32),
    # [batch, 1] and [1, 1]: onnxruntime drops them (one value for every key of
    # a row shifts all its scores equally), whatever the value, 0 included.
    "b1_zeros": np.zeros((B, 1), I32),
    "b1_ones": np.ones((B, 1), I32),
    "one_one": np.zeros((1, 1), I32),
}


@pytest.mark.parametrize("form", list(ATT_MASKS))
@pytest.mark.parametrize("unidirectional", [0, 1])
def test_attention_masks(form, unidirectional):
    mask = ATT_MASKS[form]
    check(
        "Attention",
        att_inputs(mask_index=mask),
        1,
        num_heads=MH,
        unidirectional=unidirectional,
    )


def test_attention_past_present_bias_scale():
    # onnxruntime refuses past together with attention_bias: checked apart.
    inputs = att_inputs(past=rand(2, B, MH, 2, MHD), mask_index=np.array([5, 4], I32))
    check(
        "Attention",
        inputs,
        2,
        num_heads=MH,
        unidirectional=1,
        scale=0.25,
        mask_filter_value=-1000.0,
    )
    check("Attention", att_inputs(attention_bias=rand(B, 1, S, S)), 2, num_heads=MH)


def test_attention_qkv_hidden_sizes():
    inputs = att_inputs(weights=rand(IN, 8 + 8 + 12), bias=rand(28))
    check("Attention", inputs, 1, num_heads=MH, qkv_hidden_sizes=[8, 8, 12])


def test_attention_refusals():
    inputs = att_inputs()
    feeds = {k: v for k, v in inputs.items() if v is not None}
    with pytest.raises(wasm_rt.errors.NotImplemented, match="do_rotary"):
        session("Attention", inputs, num_heads=MH, do_rotary=1).run(None, feeds)
    four_d = dict(inputs, mask_index=np.ones((B, 1, S, S), I32))
    feeds4 = {k: v for k, v in four_d.items() if v is not None}
    with pytest.raises(wasm_rt.errors.NotImplemented, match="4-D mask"):
        session("Attention", four_d, num_heads=MH).run(None, feeds4)
