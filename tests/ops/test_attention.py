"""Attention, RotaryEmbedding and RMSNormalization against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import check_op

F32 = np.float32
RNG = np.random.default_rng(0)

# float32 softmax(QK^T)V over <= 16 keys: both runtimes accumulate in float32
# with different summation orders, so a few ulps of the 0..~3 outputs differ.
RTOL, ATOL = 1e-5, 1e-6


def rand(*shape, dtype=F32):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("opset", [23, 24])
@pytest.mark.parametrize("is_causal", [0, 1])
@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_attention_4d_mask_past(opset, is_causal, mode):
    q, k, v = rand(2, 4, 3, 8), rand(2, 4, 5, 8), rand(2, 4, 5, 6)
    past_k, past_v = rand(2, 4, 2, 8), rand(2, 4, 2, 6)
    mask = rand(3, 7)
    # With mode 2 under is_causal, onnxruntime writes float32's lowest value where
    # the spec (and its reference) puts -inf, so that output is left out there.
    outputs = 3 if (mode == 2 and is_causal) else 4
    check_op(
        "Attention", {"Q": q, "K": k, "V": v, "attn_mask": mask, "past_key": past_k, "past_value": past_v},
        outputs, opset, RTOL, ATOL, is_causal=is_causal, qk_matmul_output_mode=mode,
    )


@pytest.mark.parametrize("softcap", [0.0, 2.0])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_attention_3d_gqa_bool_mask(softcap, scale):
    q, k, v = rand(2, 4, 6 * 4), rand(2, 5, 2 * 4), rand(2, 5, 2 * 3)
    mask = RNG.random((2, 1, 4, 5)) > 0.3
    mask[..., 0] = True  # keep every row attendable
    attrs = {"q_num_heads": 6, "kv_num_heads": 2, "softcap": softcap}
    if scale is not None:
        attrs["scale"] = scale
    check_op("Attention", {"Q": q, "K": k, "V": v, "attn_mask": mask}, 1, 23, RTOL, ATOL, **attrs)


def test_attention_fp16():
    # float16 results: a few float16 ulps apart (both round intermediates to float16).
    q, k, v = rand(1, 2, 4, 8, dtype=np.float16), rand(1, 2, 4, 8, dtype=np.float16), rand(1, 2, 4, 8, dtype=np.float16)
    check_op("Attention", {"Q": q, "K": k, "V": v}, 1, 23, 2e-3, 2e-3, is_causal=1)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rotary_dim", [0, 4])
def test_rotary_embedding(interleaved, rotary_dim):
    x = rand(2, 3, 4, 8)  # (batch, heads, seq, head_size)
    half = (rotary_dim or 8) // 2
    angles = RNG.random((10, half)).astype(F32) * 3
    pos = RNG.integers(0, 10, (2, 4)).astype(np.int64)
    # Elementwise multiply-add: exact up to one rounding per product.
    check_op(
        "RotaryEmbedding", {"X": x, "cos": np.cos(angles), "sin": np.sin(angles), "pos": pos},
        1, 23, 1e-6, 1e-6, interleaved=interleaved, rotary_embedding_dim=rotary_dim,
    )


def test_rotary_embedding_3d_no_position_ids():
    x = rand(2, 5, 3 * 6)
    angles = RNG.random((2, 5, 3)).astype(F32)
    check_op("RotaryEmbedding", {"X": x, "cos": np.cos(angles), "sin": np.sin(angles)}, 1, 23, 1e-6, 1e-6, num_heads=3)


@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_rms_normalization(axis):
    x, scale = rand(3, 4, 5), rand(*(3, 4, 5)[axis:]) if axis != -1 else rand(5)
    # Mean of squares over <= 60 values in float32: a few ulps.
    check_op("RMSNormalization", {"X": x, "scale": scale}, 1, 23, 1e-5, 1e-6, axis=axis, epsilon=1e-3)
