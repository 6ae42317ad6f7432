"""onnxruntime's com.microsoft elementwise operators against onnxruntime.

BiasAdd, BiasSplitGelu and BiasDropout have no CPU kernel in onnxruntime (CUDA
and WebGPU only); they are checked against their schema formula, with the
Gelu they use checked against onnxruntime's own Gelu.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _contrib import both_fail, check_ms, ms_model
from oracle import run_ort, run_wasm_rt

# onnxruntime evaluates erf/tanh/exp with MLAS polynomial approximations, a few
# float32 ulps from numpy's; where 1 + erf(x) or 1 + tanh(x) cancels (large
# negative x) that is an absolute error of ~ulp(1) * |x| / 2 (|x| < 12 here)
# on a result near 0, hence an absolute bound rather than a relative one.
ACT = {"rtol": 1e-6, "atol": 2e-6}


def _data(shape, seed=0, dtype=np.float32, scale=3.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


X = _data((2, 5, 32))
BIAS = _data(32, 1, scale=1.0)


def test_gelu():
    check_ms("Gelu", {"x": X}, **ACT)


def test_bias_gelu():
    check_ms("BiasGelu", {"a": X, "b": BIAS}, **ACT)


@pytest.mark.parametrize("with_bias", [True, False])
def test_fast_gelu(with_bias):
    check_ms("FastGelu", {"x": X, "bias": BIAS if with_bias else None}, **ACT)


@pytest.mark.parametrize("alpha", [None, 1.0, -0.5])
def test_quick_gelu(alpha):
    attrs = {} if alpha is None else {"alpha": alpha}
    check_ms("QuickGelu", {"x": X}, **attrs, **ACT)


def test_fast_gelu_bad_bias():
    both_fail("FastGelu", {"x": X, "bias": _data(31, 1)}, match="bias")


def test_scaled_silu():
    # Every step rounded to T on both sides; exp differs by an ulp.
    check_ms("ScaledSiLU", {"x": X}, alpha=0.7, rtol=1e-6, atol=1e-6)
    x16 = X.astype(np.float16)
    check_ms(
        "ScaledSiLU",
        {"x": x16, "scale": np.array(1.3, np.float16)},
        rtol=1e-3,
        atol=1e-3,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gated_add(dtype):
    inputs = {
        "x": X.astype(dtype),
        "y": _data(X.shape, 2, dtype),
        "gate": _data((2, 5, 1), 3, dtype),
    }
    check_ms("GatedAdd", inputs)  # one product and one sum, each rounded: exact


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_inverse(dtype):
    m = _data((3, 5, 5), 4, scale=0.3) + 3 * np.eye(5, dtype=np.float32)
    # Well-conditioned matrices: a few ulps (float16: onnxruntime inverts in
    # half precision, wasm_rt in float32 then rounds: 2 half ulps).
    tol = (
        {"rtol": 2e-3, "atol": 1e-3}
        if dtype == np.float16
        else {"rtol": 1e-5, "atol": 1e-6}
    )
    check_ms("Inverse", {"x": m.astype(dtype)}, **tol)


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, -1, 2])
def test_trilu(upper, k):
    inputs = {
        "x": _data((2, 4, 6), 5),
        "k": None if k is None else np.array(k, np.int64),
    }
    check_ms("Trilu", inputs, upper=upper)


def _gelu_ref(v):
    erf = np.vectorize(math.erf)
    return 0.5 * v * (1 + erf(v / math.sqrt(2)))


def _only_ours(op, inputs, outputs=1, **attrs):
    model = ms_model(op, inputs, outputs, **attrs)
    feeds = {n: v for n, v in inputs.items() if v is not None}
    with pytest.raises(
        Exception, match="NOT_IMPLEMENTED|Could not find an implementation"
    ):
        run_ort(model, feeds)  # the CPU provider has no kernel for this op
    return run_wasm_rt(model, feeds)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_bias_add(dtype):
    x, skip, bias = (
        _data((2, 3, 8), 6, dtype),
        _data((2, 3, 8), 7, dtype),
        _data(8, 8, dtype),
    )
    (y,) = _only_ours("BiasAdd", {"x": x, "bias": bias, "skip": skip})
    want = (x.astype(np.float32) + bias.astype(np.float32)) + skip.astype(np.float32)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, want.astype(dtype))  # same operations, same order


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_bias_split_gelu(dtype):
    x, bias = _data((2, 3, 16), 9, dtype), _data(16, 10, dtype)
    (y,) = _only_ours("BiasSplitGelu", {"x": x, "bias": bias})
    v = x.astype(np.float64) + bias.astype(np.float64)
    want = v[..., :8] * _gelu_ref(v[..., 8:])
    assert y.dtype == dtype and y.shape == (2, 3, 8)
    # float32 against a float64 reference: the erf polynomial is within an
    # ulp, the sums and products add a few more; float16: one half ulp.
    tol = (
        {"rtol": 1e-3, "atol": 1e-3}
        if dtype == np.float16
        else {"rtol": 1e-5, "atol": 1e-5}
    )
    np.testing.assert_allclose(y, want, **tol)


def test_bias_dropout_inference():
    x, bias, residual = _data((2, 3, 8), 11), _data(8, 12), _data((2, 3, 8), 13)
    y, mask = _only_ours("BiasDropout", {"x": x, "bias": bias, "r": residual}, 2)
    np.testing.assert_array_equal(y, (x + bias) + residual)
    assert mask.dtype == np.bool_ and mask.all()
