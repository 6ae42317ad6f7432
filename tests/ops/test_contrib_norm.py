"""onnxruntime's fused normalizations against onnxruntime's CPU kernels."""

from __future__ import annotations

import numpy as np
import pytest
from _contrib import both_fail, check_ms

# Row statistics over <= 64 float32 values: summation order and rsqrt vs
# 1/sqrt differ from onnxruntime's MLAS loops by a few ulps.
F32 = {"rtol": 1e-5, "atol": 1e-5}
# float16 outputs are rounded once from float32 on both sides; a float32 ulp
# of difference can flip the last half-precision bit (~1e-3 relative).
F16 = {"rtol": 1e-3, "atol": 2e-3}


def _data(shape, seed=0, dtype=np.float32, shift=0.0):
    return (np.random.default_rng(seed).standard_normal(shape) + shift).astype(dtype)


def _tol(dtype):
    return F16 if dtype == np.float16 else F32


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("skip_shape", [(2, 3, 16), (1, 3, 16), (3, 16)])
@pytest.mark.parametrize("with_beta", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
def test_skip_layer_norm(dtype, skip_shape, with_beta, with_bias):
    inputs = {
        "x": _data((2, 3, 16), 0, dtype, shift=3.0),
        "skip": _data(skip_shape, 1, dtype),
        "gamma": _data(16, 2, dtype),
        "beta": _data(16, 3, dtype) if with_beta else None,
        "bias": _data(16, 4, dtype) if with_bias else None,
    }
    check_ms("SkipLayerNormalization", inputs, 4, epsilon=1e-5, **_tol(dtype))


def test_skip_layer_norm_2d_and_output_subsets():
    inputs = {"x": _data((5, 8)), "skip": _data((5, 8), 1), "gamma": _data(8, 2)}
    check_ms("SkipLayerNormalization", inputs, 1, **F32)
    # Only output and input_skip_bias_sum, as onnxruntime's fusions ask.
    check_ms("SkipLayerNormalization", inputs, [True, False, False, True], **F32)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("with_bias", [True, False])
def test_skip_simplified_layer_norm(dtype, with_bias):
    inputs = {
        "x": _data((2, 4, 32), 0, dtype),
        "skip": _data((1, 4, 32), 1, dtype),
        "gamma": _data(32, 2, dtype),
        "bias": _data(32, 4, dtype) if with_bias else None,
    }
    check_ms("SkipSimplifiedLayerNormalization", inputs, 4, epsilon=1e-6, **_tol(dtype))


@pytest.mark.parametrize("skip_shape", [(2, 1, 8), (8,), (6, 8)])
def test_skip_layer_norm_bad_skip(skip_shape):
    inputs = {"x": _data((2, 3, 8)), "skip": _data(skip_shape, 1), "gamma": _data(8, 2)}
    both_fail("SkipLayerNormalization", inputs, match="skip")


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize(
    "x_dtype,scale_dtype",
    [(np.float32, np.float32), (np.float16, np.float16), (np.float16, np.float32),
     (np.float32, np.float16)],
)  # fmt: skip
def test_simplified_layer_norm(axis, x_dtype, scale_dtype):
    x = _data((2, 3, 8), 0, x_dtype)
    inputs = {"x": x, "scale": _data(x.shape[axis:], 1, scale_dtype)}
    tol = F16 if np.float16 in (x_dtype, scale_dtype) else F32
    # Y takes the scale's dtype (onnxruntime's type V), inv_std_var is float32.
    check_ms("SimplifiedLayerNormalization", inputs, 2, domain="", opset=17,
             axis=axis, epsilon=1e-5, **tol)  # fmt: skip


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm_opset_16(axis, with_bias):
    # Before opset 17 LayerNormalization is onnxruntime's own ai.onnx kernel.
    x = _data((2, 3, 8), 0, shift=2.0)
    inputs = {
        "x": x,
        "scale": _data(x.shape[axis:], 1),
        "b": _data(x.shape[axis:], 2) if with_bias else None,
    }
    check_ms("LayerNormalization", inputs, 3, domain="", opset=16, axis=axis, **F32)


def test_layer_norm_opset_16_float16_input_float32_scale():
    inputs = {"x": _data((4, 8), 0, np.float16), "scale": _data(8, 1), "b": _data(8, 2)}
    check_ms("LayerNormalization", inputs, 3, domain="", opset=16, **F16)


def _embed_inputs(with_segment=True, with_mask=True, position_ids=None):
    rng = np.random.default_rng(5)
    b, s, h, vocab = 2, 5, 16, 11
    return {
        "input_ids": rng.integers(0, vocab, (b, s)).astype(np.int32),
        "segment_ids": rng.integers(0, 2, (b, s)).astype(np.int32)
        if with_segment
        else None,
        "word_embedding": _data((vocab, h), 1),
        "position_embedding": _data((8, h), 2),
        "segment_embedding": _data((2, h), 3) if with_segment else None,
        "gamma": _data(h, 4),
        "beta": _data(h, 6),
        "mask": np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], np.int32)
        if with_mask
        else None,
        "position_ids": position_ids,
    }


@pytest.mark.parametrize("with_segment", [True, False])
@pytest.mark.parametrize("with_mask", [True, False])
def test_embed_layer_norm(with_segment, with_mask):
    inputs = _embed_inputs(with_segment, with_mask)
    check_ms("EmbedLayerNormalization", inputs, 3, epsilon=1e-5, **F32)


@pytest.mark.parametrize(
    "position_ids",
    [
        np.array([[4, 3, 2, 1, 0], [7, 7, 0, 1, 2]], np.int32),
        np.array([[1, 2, 3, 4, 5]], np.int32),
    ],
)
def test_embed_layer_norm_position_ids(position_ids):
    inputs = _embed_inputs(position_ids=position_ids)
    # mask_index left out; the embedding sum (output 2) requested.
    check_ms(
        "EmbedLayerNormalization", inputs, [True, False, True], mask_index_type=0, **F32
    )


def test_embed_layer_norm_bad_word_id():
    inputs = _embed_inputs()
    inputs["input_ids"] = inputs["input_ids"].copy()
    inputs["input_ids"][1, 2] = 11
    both_fail("EmbedLayerNormalization", inputs, 2, match="out of range")
