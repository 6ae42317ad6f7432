"""FusedMatMul, TransposeMatMul, FusedConv and FusedGemm against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from _contrib import both_fail, check_ms

# float32 products over <= 36 terms: BLAS and MLAS sum in different orders, a
# few ulps of the largest partial sum; tanh/exp of the activations add an ulp.
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _data(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize(
    "a_shape,b_shape,attrs",
    [
        ((3, 4), (4, 5), {}),
        ((4, 3), (4, 5), {"transA": 1}),
        ((3, 4), (5, 4), {"transB": 1, "alpha": 0.5}),
        ((2, 3, 4), (4, 5), {"alpha": 2.0}),
        ((4, 2, 3, 5), (2, 3, 5, 6), {"transBatchA": 1}),
        ((2, 3, 4, 5), (5, 2, 3, 6), {"transBatchB": 1}),
        ((5, 2, 3, 4), (6, 2, 3, 5), {"transBatchA": 1, "transBatchB": 1,
                                      "transA": 1, "transB": 1}),
        ((4, 3, 5), (3, 6, 5), {"transBatchA": 1, "transB": 1, "alpha": -1.5}),
    ],
)  # fmt: skip
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_matmul(a_shape, b_shape, attrs, dtype):
    inputs = {"a": _data(a_shape, 0, dtype), "b": _data(b_shape, 1, dtype)}
    check_ms("FusedMatMul", inputs, **attrs, **TOL)


def test_fused_matmul_trans_batch_needs_equal_ranks():
    inputs = {"a": _data((4, 3, 5)), "b": _data((5, 6), 1)}
    both_fail("FusedMatMul", inputs, transBatchA=1, match="transBatch")


def test_transpose_matmul():
    inputs = {"a": _data((2, 4, 3)), "b": _data((2, 5, 4), 1)}
    check_ms("TransposeMatMul", inputs, transA=1, transB=1, alpha=0.25, **TOL)


CONV_ACTIVATIONS = [
    (None, None),
    ("Relu", None),
    ("Tanh", None),
    ("Sigmoid", None),
    ("LeakyRelu", [0.1]),
    ("Clip", [-0.5, 0.7]),
    ("HardSigmoid", [0.3, 0.4]),
]


@pytest.mark.parametrize("activation,params", CONV_ACTIVATIONS)
@pytest.mark.parametrize("with_z", [False, True])
def test_fused_conv_2d(activation, params, with_z):
    inputs = {
        "x": _data((2, 4, 6, 7)),
        "w": _data((6, 2, 3, 3), 1),
        "b": _data(6, 2),
        "z": _data((2, 6, 3, 4), 3) if with_z else None,
    }
    attrs = {"group": 2, "strides": [2, 2], "pads": [1, 1, 1, 1]}
    if activation:
        attrs["activation"] = activation
    if params:
        attrs["activation_params"] = params
    check_ms("FusedConv", inputs, **attrs, **TOL)


@pytest.mark.parametrize("shape", [(1, 2, 9), (1, 2, 4, 5, 3)])
def test_fused_conv_1d_3d(shape):
    w_shape = (3, 2) + (3,) * (len(shape) - 2)
    inputs = {"x": _data(shape), "w": _data(w_shape, 1), "b": None}
    check_ms("FusedConv", inputs, activation="Relu", auto_pad="SAME_UPPER", **TOL)


@pytest.mark.parametrize("activation", ["LeakyRelu", "Clip", "HardSigmoid"])
def test_fused_conv_missing_params(activation):
    inputs = {"x": _data((1, 2, 5, 5)), "w": _data((3, 2, 3, 3), 1)}
    both_fail("FusedConv", inputs, activation=activation, match="parameter")


def test_fused_conv_unknown_activation():
    inputs = {"x": _data((1, 2, 5, 5)), "w": _data((3, 2, 3, 3), 1)}
    both_fail("FusedConv", inputs, activation="Elu", activation_params=[1.0],
              match="not supported")  # fmt: skip


GEMM_ACTIVATIONS = [
    ("Relu", {}),
    ("Tanh", {}),
    ("Sigmoid", {}),
    ("Softsign", {}),
    ("Softplus", {}),
    ("LeakyRelu", {"activation_alpha": 0.2}),
    ("ThresholdedRelu", {"activation_alpha": 0.3}),
    ("Elu", {"activation_alpha": 0.7}),
    ("HardSigmoid", {"activation_alpha": 0.3, "activation_beta": 0.4}),
    ("Selu", {"activation_alpha": 1.6, "activation_gamma": 1.05}),
    ("ScaledTanh", {"activation_alpha": 0.5, "activation_beta": 1.5}),
    ("ParametricSoftplus", {"activation_alpha": 0.5, "activation_beta": 1.5}),
]


@pytest.mark.parametrize("activation,params", GEMM_ACTIVATIONS)
def test_fused_gemm(activation, params):
    inputs = {"a": _data((4, 3)), "b": _data((5, 4), 1), "c": _data(5, 2)}
    check_ms("FusedGemm", inputs, activation=activation, transA=1, transB=1,
             alpha=0.5, beta=2.0, **params, **TOL)  # fmt: skip


def test_fused_gemm_refuses_clip():
    inputs = {"a": _data((3, 4)), "b": _data((4, 5), 1)}
    both_fail("FusedGemm", inputs, activation="Clip", match="not supported")
