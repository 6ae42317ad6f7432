"""com.microsoft RotaryEmbedding against onnxruntime's CPU kernel."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import assert_same, run_ort, run_wasm_rt, single_node_model

import wasm_rt

RNG = np.random.default_rng(7)
MS = "com.microsoft"
# float32: out = x*cos -/+ x'*sin, two products and one sum per element; the
# kernels may fuse or order them differently, so allow a few float32 ulps.
F32_TOL = dict(rtol=1e-5, atol=1e-6)
# float16: both compute in float32 and round once to float16, but a float32
# ulp of difference can flip that final rounding: one float16 ulp (~1e-3 rel).
F16_TOL = dict(rtol=1e-3, atol=1e-3)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def caches(max_pos, half, dtype=np.float32):
    angle = RNG.random((max_pos, half)) * 3
    return np.cos(angle).astype(dtype), np.sin(angle).astype(dtype)


def check(inputs, tol, **attrs):
    model = single_node_model("RotaryEmbedding", inputs, 1, 1, domain=MS, **attrs)
    ours, theirs = run_wasm_rt(model, inputs), run_ort(model, inputs)
    assert_same(ours, theirs, what="RotaryEmbedding", **tol)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("pos_form", ["scalar", "one", "table"])
@pytest.mark.parametrize("rank", [3, 4])
def test_rotary(interleaved, pos_form, rank):
    batch, seq, heads, head = 2, 5, 3, 8
    x = rand(batch, seq, heads * head) if rank == 3 else rand(batch, heads, seq, head)
    pos = {
        "scalar": np.array(2, np.int64),
        "one": np.array([1], np.int64),
        "table": RNG.integers(0, 12, (batch, seq)).astype(np.int64),
    }[pos_form]
    cos, sin = caches(12, head // 2)
    feeds = {"x": x, "pos": pos, "cos": cos, "sin": sin}
    check(feeds, F32_TOL, interleaved=interleaved)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rank", [3, 4])
def test_rotary_partial_dim(interleaved, rank):
    batch, seq, heads, head, rot = 2, 4, 2, 8, 4
    x = rand(batch, seq, heads * head) if rank == 3 else rand(batch, heads, seq, head)
    cos, sin = caches(6, rot // 2)
    pos = RNG.integers(0, 6, (batch, seq)).astype(np.int64)
    check(
        {"x": x, "pos": pos, "cos": cos, "sin": sin},
        F32_TOL,
        interleaved=interleaved,
        num_heads=heads,
        rotary_embedding_dim=rot,
    )


@pytest.mark.parametrize("interleaved", [0, 1])
def test_rotary_fp16(interleaved):
    cos, sin = caches(10, 4, np.float16)
    x = rand(2, 3, 16, dtype=np.float16)
    check(
        {"x": x, "pos": np.array(3, np.int64), "cos": cos, "sin": sin},
        F16_TOL,
        interleaved=interleaved,
    )


def test_rotary_scale_attribute_is_cache_only():
    # onnxruntime reads ``scale`` only to regenerate caches, which CPU never does.
    cos, sin = caches(8, 4)
    check(
        {"x": rand(1, 3, 16), "pos": np.array(0, np.int64), "cos": cos, "sin": sin},
        F32_TOL,
        scale=2.0,
    )


def _session(inputs, **attrs):
    model = single_node_model("RotaryEmbedding", inputs, 1, 1, domain=MS, **attrs)
    return wasm_rt.InferenceSession(model)


def test_rotary_refusals():
    cos, sin = caches(4, 4)
    feeds = {"x": rand(1, 3, 16), "pos": np.array(0, np.int64), "cos": cos, "sin": sin}
    with pytest.raises(wasm_rt.errors.NotImplemented, match="is_packed_batching"):
        _session(feeds, is_packed_batching=1).run(None, feeds)
    too_long = dict(feeds, x=rand(1, 6, 16))
    with pytest.raises(wasm_rt.errors.NotImplemented, match="cache length"):
        _session(too_long).run(None, too_long)
    out_of_range = dict(feeds, pos=np.array(3, np.int64))
    with pytest.raises(wasm_rt.errors.InvalidArgument, match=r"\[0, 4\)"):
        _session(out_of_range).run(None, out_of_range)
