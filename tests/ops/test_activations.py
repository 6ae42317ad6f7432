"""Activation kernels against onnxruntime, plus the official node cases.

Tolerances: Relu, LeakyRelu, PRelu, ThresholdedRelu, Shrink and Hardmax only
compare, select and do one IEEE multiply or add, so they must match exactly.
The rest go through exp/tanh/erf, where onnxruntime's MLAS approximations and
numpy's libm differ by a few ulp, and compound formulas add a few more
roundings: float32 rtol 1e-5 with atol 1e-6 for results near zero, float64
rtol 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
from _numeric_cases import compare, numeric_cases, run_case
from oracle import check_op

OPS = {
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid",
    "HardSwish", "Softplus", "Softsign", "Tanh", "Gelu", "Mish", "ThresholdedRelu",
    "Shrink", "Softmax", "LogSoftmax", "Hardmax",
}  # fmt: skip

RUNNABLE, EXOTIC = numeric_cases(OPS)
RNG = np.random.default_rng(1)
F32_TOL = {"rtol": 1e-5, "atol": 1e-6}
F64_TOL = {"rtol": 1e-12, "atol": 1e-14}


def rand(shape, dtype=np.float32, scale=3.0):
    return np.asarray(RNG.standard_normal(shape) * scale, dtype=dtype)


@pytest.mark.parametrize("case", RUNNABLE, ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


@pytest.mark.skip(reason="needs bfloat16 tensors, which numpy cannot hold")
@pytest.mark.parametrize("name", EXOTIC)
def test_onnx_node_case_exotic_dtype(name):
    pass


EXACT = {
    "Relu": (14, {}),
    "LeakyRelu": (16, {"alpha": 0.1}),
    "ThresholdedRelu": (10, {"alpha": 0.5}),
    "Shrink": (9, {"bias": 0.5, "lambd": 1.0}),
}

SMOOTH = {
    "Elu": (6, {"alpha": 0.7}),
    "Selu": (6, {}),
    "Celu": (12, {"alpha": 1.5}),
    "Sigmoid": (13, {}),
    "HardSigmoid": (6, {"alpha": 0.3, "beta": 0.4}),
    "HardSwish": (14, {}),
    "Softplus": (1, {}),
    "Softsign": (1, {}),
    "Tanh": (13, {}),
    "Mish": (18, {}),
    "Gelu": (20, {}),
}


@pytest.mark.parametrize("shape", [(3, 4, 5), (), (0, 3)], ids=str)
@pytest.mark.parametrize("op", sorted(EXACT))
def test_exact_activations(op, shape):
    opset, attrs = EXACT[op]
    check_op(op, {"x": rand(shape)}, opset=opset, **attrs)


@pytest.mark.parametrize("shape", [(3, 4, 5), (), (0, 3)], ids=str)
@pytest.mark.parametrize("op", sorted(SMOOTH))
def test_smooth_activations(op, shape):
    opset, attrs = SMOOTH[op]
    check_op(op, {"x": rand(shape)}, opset=opset, **attrs, **F32_TOL)


@pytest.mark.parametrize("op", ["Sigmoid", "Softplus", "Tanh", "Mish", "Elu"])
def test_extreme_inputs_stay_finite(op):
    x = np.array([-1000, -80, -20, 0, 20, 80, 1000], np.float32)
    check_op(op, {"x": x}, opset=SMOOTH[op][0], **F32_TOL)


# The float64 kernels onnxruntime has.
@pytest.mark.parametrize("op", ["Relu", "Sigmoid", "Tanh", "LeakyRelu"])
def test_float64(op):
    opset = {**EXACT, **SMOOTH}[op][0]
    check_op(op, {"x": rand((4, 5), np.float64)}, opset=opset, **F64_TOL)


def test_float16():
    # float16 has ~3 significant digits; one ulp is ~1e-3 relative.
    check_op("Relu", {"x": rand((4, 5), np.float16)}, opset=14)
    check_op("Sigmoid", {"x": rand((4, 5), np.float16)}, opset=13, rtol=2e-3, atol=1e-4)


# onnxruntime has int8 and int32 Relu but no int64.
@pytest.mark.parametrize("dtype", [np.int8, np.int32])
def test_relu_int(dtype):
    check_op("Relu", {"x": RNG.integers(-50, 50, (3, 4)).astype(dtype)}, opset=14)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float64])
def test_shrink_types(dtype):
    x = (
        np.array([-3, -1, 0, 1, 3, 5], dtype)
        if dtype != np.uint8
        else np.arange(6, dtype=dtype)
    )
    check_op("Shrink", {"x": x}, opset=9, bias=1.5, lambd=1.5)


@pytest.mark.parametrize("slope_shape", [(5,), (1,), (4, 5), (4, 1)], ids=str)
def test_prelu_broadcast(slope_shape):
    check_op("PRelu", {"x": rand((3, 4, 5)), "slope": rand(slope_shape)}, opset=16)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    check_op("Gelu", {"x": rand((4, 6))}, opset=20, approximate=approximate, **F32_TOL)


# --- Softmax family ----------------------------------------------------------

SOFTMAX_OPS = ["Softmax", "LogSoftmax", "Hardmax"]


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, -3])
@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("op", SOFTMAX_OPS)
def test_softmax_family_axis_semantics(op, opset, axis):
    # Before 13 the input is flattened to 2-D at axis (default 1); from 13 the
    # op normalizes along one axis (default -1): the same attrs give different results.
    attrs = {} if axis is None else {"axis": axis}
    tol = {} if op == "Hardmax" else F32_TOL
    check_op(op, {"x": rand((2, 3, 4))}, opset=opset, **attrs, **tol)


@pytest.mark.parametrize("op", SOFTMAX_OPS)
def test_softmax_family_opset1_and_float64(op):
    check_op(op, {"x": rand((3, 5))}, opset=1, **({} if op == "Hardmax" else F32_TOL))
    if op != "Hardmax":  # onnxruntime has no float64 Hardmax
        check_op(op, {"x": rand((3, 5), np.float64)}, opset=13, **F64_TOL)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_large_logits(op):
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]], np.float32)
    check_op(op, {"x": x}, opset=13, **F32_TOL)


def test_hardmax_ties_pick_first():
    x = np.array([[1, 3, 3, 2], [5, 5, 5, 5]], np.float32)
    check_op("Hardmax", {"x": x}, opset=13)


@pytest.mark.parametrize("op", SOFTMAX_OPS)
def test_softmax_family_empty(op):
    check_op(op, {"x": np.zeros((0, 4), np.float32)}, opset=13)
