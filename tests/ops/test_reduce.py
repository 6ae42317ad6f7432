"""Reduction kernels against onnxruntime, plus the official node cases.

Tolerances: integer results, Max/Min, ArgMax/ArgMin, TopK and exact-integer
float data must match exactly.  Float sums depend on summation order (numpy
sums pairwise, onnxruntime blockwise), so float32 sums of up to ~100 terms get
rtol 1e-5 and atol 1e-6 where terms cancel; exp/log-based reductions the same.
"""

from __future__ import annotations

import numpy as np
import pytest
from _numeric_cases import compare, numeric_cases, run_case
from oracle import check_op

OPS = {
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
    "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax",
    "ArgMin", "TopK", "CumSum",
}  # fmt: skip

RUNNABLE, EXOTIC = numeric_cases(OPS)
RNG = np.random.default_rng(2)
I64 = np.int64
F32_TOL = {"rtol": 1e-5, "atol": 1e-6}

REDUCE_OPS = sorted(op for op in OPS if op.startswith("Reduce"))
AXES_INPUT_SINCE = {op: 13 if op == "ReduceSum" else 18 for op in REDUCE_OPS}
# Ops whose domain must be kept positive (log of a sum).
POSITIVE = {"ReduceLogSum"}


def data(op, shape=(2, 3, 4), dtype=np.float32):
    x = RNG.uniform(0.5 if op in POSITIVE else -2, 2, size=shape)
    if op == "ReduceProd":
        x = RNG.uniform(0.5, 1.5, size=shape) * RNG.choice([-1, 1], size=shape)
    return np.asarray(x, dtype=dtype)


@pytest.mark.parametrize("case", RUNNABLE, ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


@pytest.mark.skip(reason="needs bfloat16 tensors, which numpy cannot hold")
@pytest.mark.parametrize("name", EXOTIC)
def test_onnx_node_case_exotic_dtype(name):
    pass


# --- Reduce* ------------------------------------------------------------------

AXES = [None, [0], [1], [-1], [0, 2], [2, 0, 1]]


@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_axes_input(op, axes, keepdims):
    opset = AXES_INPUT_SINCE[op]
    inputs = {"x": data(op)}
    if axes is not None:
        inputs["axes"] = np.array(axes, I64)
    check_op(op, inputs, opset=opset, keepdims=keepdims, **F32_TOL)


@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_axes_attribute(op, axes, keepdims):
    attrs = (
        {"keepdims": keepdims} if axes is None else {"keepdims": keepdims, "axes": axes}
    )
    check_op(op, {"x": data(op)}, opset=AXES_INPUT_SINCE[op] - 2, **attrs, **F32_TOL)


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_opset1(op):
    check_op(op, {"x": data(op)}, opset=1, axes=[1], **F32_TOL)


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_noop_with_empty_axes(op):
    # Reducing over no axes still applies the per-element part (square, abs, log).
    inputs = {"x": data(op), "axes": np.array([], I64)}
    check_op(op, inputs, opset=AXES_INPUT_SINCE[op], noop_with_empty_axes=1, **F32_TOL)
    check_op(op, inputs, opset=AXES_INPUT_SINCE[op], noop_with_empty_axes=0, **F32_TOL)


@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_empty_set(op, keepdims):
    # Sum-like ops give 0, Prod 1, Max -inf, Min +inf, LogSum(Exp) -inf, Mean 0.
    inputs = {"x": np.zeros((2, 0, 3), np.float32), "axes": np.array([1], I64)}
    check_op(op, inputs, opset=AXES_INPUT_SINCE[op], keepdims=keepdims)


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_empty_tensor_other_axis(op):
    inputs = {"x": np.zeros((0, 3), np.float32), "axes": np.array([1], I64)}
    check_op(op, inputs, opset=AXES_INPUT_SINCE[op])


# onnxruntime's integer kernels per op (int32 for all, int64 for most).
INT_OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
           "ReduceL1", "ReduceL2", "ReduceSumSquare"]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("op", INT_OPS)
def test_reduce_int(op, dtype):
    x = RNG.integers(-9, 10, size=(3, 4, 2)).astype(dtype)
    check_op(op, {"x": x, "axes": np.array([1], I64)}, opset=AXES_INPUT_SINCE[op])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_reduce_max_min_small_ints(op, dtype):
    x = RNG.integers(0, 100, size=(3, 4)).astype(dtype)
    check_op(op, {"x": x, "axes": np.array([0], I64)}, opset=18)


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_reduce_max_min_bool(op):
    x = RNG.random((3, 4)) < 0.5
    check_op(op, {"x": x, "axes": np.array([1], I64)}, opset=20)


@pytest.mark.parametrize(
    "op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceLogSumExp"]
)
def test_reduce_float64_and_float16(op):
    opset = AXES_INPUT_SINCE[op]
    axes = np.array([1], I64)
    check_op(
        op, {"x": data(op, dtype=np.float64), "axes": axes}, opset=opset, rtol=1e-12
    )
    if op in ("ReduceSum", "ReduceMax"):  # onnxruntime's float16 reduce kernels
        # float16 keeps ~3 digits; accumulation order changes the last one.
        check_op(
            op,
            {"x": data(op, dtype=np.float16), "axes": axes},
            opset=opset,
            rtol=2e-3,
            atol=1e-3,
        )


def test_reduce_log_sum_exp_large_values():
    x = np.array([[1000.0, 1000.0], [-1000.0, -np.inf]], np.float32)
    check_op(
        "ReduceLogSumExp", {"x": x, "axes": np.array([1], I64)}, opset=18, **F32_TOL
    )


# --- ArgMax / ArgMin ----------------------------------------------------------

TIES = np.array([[1, 3, 3, 2], [5, 5, 1, 5], [0, 0, 0, 0]], np.float32)


@pytest.mark.parametrize("select_last_index", [0, 1])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg_reduce(op, axis, keepdims, select_last_index):
    attrs = {"axis": axis, "keepdims": keepdims, "select_last_index": select_last_index}
    check_op(op, {"x": TIES}, opset=13, **attrs)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64, np.uint8])
@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg_reduce_dtypes(op, dtype):
    x = RNG.integers(0, 5, size=(3, 4, 5)).astype(dtype)
    check_op(op, {"x": x}, opset=13, axis=2)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg_reduce_opset1_and_11(op):
    check_op(op, {"x": TIES}, opset=1, axis=1)
    check_op(op, {"x": TIES}, opset=11, axis=-1, keepdims=0)


# --- TopK ---------------------------------------------------------------------


@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("k", [0, 1, 3])
def test_top_k(k, axis, largest):
    x = RNG.integers(0, 4, size=(4, 5, 3)).astype(np.float32)  # many ties
    inputs = {"x": x, "k": np.array([k], I64)}
    check_op("TopK", inputs, outputs=2, opset=11, axis=axis, largest=largest)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64])
def test_top_k_dtypes(dtype):
    x = RNG.integers(-5, 5, size=(3, 6)).astype(dtype)
    check_op("TopK", {"x": x, "k": np.array([4], I64)}, outputs=2, opset=11)
    check_op("TopK", {"x": x, "k": np.array([4], I64)}, outputs=2, opset=11, largest=0)


def test_top_k_whole_axis_and_opsets():
    x = RNG.standard_normal((3, 6)).astype(np.float32)
    check_op("TopK", {"x": x}, outputs=2, opset=1, k=6)
    check_op("TopK", {"x": x, "k": np.array([2], I64)}, outputs=2, opset=10, axis=0)


# --- CumSum -------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_cum_sum(dtype, axis, exclusive, reverse):
    x = RNG.integers(-5, 10, size=(3, 4)).astype(dtype)  # integral values: exact sums
    inputs = {"x": x, "axis": np.array(axis, np.int32)}
    check_op("CumSum", inputs, opset=14, exclusive=exclusive, reverse=reverse)


def test_cum_sum_empty_and_int64_axis():
    inputs = {"x": np.zeros((0, 3), np.float32), "axis": np.array(0, I64)}
    check_op("CumSum", inputs, opset=14, exclusive=1)
    x = RNG.standard_normal((5,)).astype(np.float32)
    check_op("CumSum", {"x": x, "axis": np.array(0, I64)}, opset=11, **F32_TOL)
