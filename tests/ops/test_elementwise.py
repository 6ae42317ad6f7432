"""Elementwise kernels against onnxruntime, plus the official node cases.

Tolerances: integer and bool results must be identical.  Add/Sub/Mul/Div,
Sqrt, Abs, Neg, Floor, Ceil, Round, comparisons and casts between numeric
types are exactly rounded in IEEE arithmetic on both runtimes, so they are
compared exactly too.  Transcendental functions come from different math
libraries (MLAS/Eigen vs the C library), which differ by a few ulp: float32 gets
rtol 2e-6 (~16 ulp) plus atol 1e-7 for results near zero, float64 rtol 1e-13,
float16 (one ulp is ~1e-3) rtol 2e-3.
"""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from _numeric_cases import compare, numeric_cases, run_case
from hypothesis import given, settings
from oracle import check_op

from wasm_rt.registry import resolve

OPS = {
    "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round",
    "Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh",
    "Acosh", "Atanh", "Erf", "IsNaN", "IsInf", "Add", "Sub", "Mul", "Div", "Pow",
    "Mod", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater", "LessOrEqual",
    "GreaterOrEqual", "And", "Or", "Xor", "Not", "BitShift", "BitwiseAnd",
    "BitwiseOr", "BitwiseXor", "BitwiseNot", "Where", "Clip", "Cast", "CastLike",
    "Identity",
}  # fmt: skip

RUNNABLE, EXOTIC = numeric_cases(OPS)
RNG = np.random.default_rng(0)

TOL = {
    np.float32: {"rtol": 2e-6, "atol": 1e-7},
    np.float64: {"rtol": 1e-13, "atol": 1e-15},
    np.float16: {"rtol": 2e-3, "atol": 1e-4},
}


def rand(shape, dtype=np.float32, lo=-3.0, hi=3.0):
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    if np.dtype(dtype) == np.bool_:
        return RNG.random(shape) < 0.5
    return RNG.uniform(lo, hi, size=shape).astype(dtype)


@pytest.mark.parametrize("case", RUNNABLE, ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


@pytest.mark.skip(
    reason="needs bfloat16/float8/int4/int2 tensors, which numpy cannot hold"
)
@pytest.mark.parametrize("name", EXOTIC)
def test_onnx_node_case_exotic_dtype(name):
    pass


# --- unary -------------------------------------------------------------------

# op -> (input range, first opset); ranges keep results finite and in-domain.
UNARY_FLOAT = {
    "Exp": ((-10, 10), 13),
    "Log": ((0.01, 100), 13),
    "Sin": ((-6, 6), 7),
    "Cos": ((-6, 6), 7),
    "Tan": ((-1.5, 1.5), 7),
    "Asin": ((-1, 1), 7),
    "Acos": ((-1, 1), 7),
    "Atan": ((-10, 10), 7),
    "Sinh": ((-5, 5), 9),
    "Cosh": ((-5, 5), 9),
    "Asinh": ((-10, 10), 9),
    "Acosh": ((1, 10), 9),
    "Atanh": ((-0.99, 0.99), 9),
    "Erf": ((-4, 4), 13),
}


# onnxruntime implements only these in float64; the rest are checked against
# Python's math module below.
ORT_FLOAT64 = {"Exp", "Log", "Sin", "Cos"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(UNARY_FLOAT))
def test_unary_transcendental(op, dtype):
    if dtype == np.float64 and op not in ORT_FLOAT64:
        pytest.skip(f"onnxruntime has no float64 {op}; see test_unary_float64_vs_math")
    (lo, hi), opset = UNARY_FLOAT[op]
    check_op(op, {"x": rand((3, 4, 5), dtype, lo, hi)}, opset=opset, **TOL[dtype])


@pytest.mark.parametrize("op", sorted(set(UNARY_FLOAT) - ORT_FLOAT64))
def test_unary_float64_vs_math(op):
    name = {"Asin": "asin", "Acos": "acos", "Atan": "atan", "Asinh": "asinh",
            "Acosh": "acosh", "Atanh": "atanh"}.get(op, op.lower())  # fmt: skip
    (lo, hi), opset = UNARY_FLOAT[op]
    x = rand((200,), np.float64, lo, hi)
    got = resolve("", op, opset).fn(x)
    expected = np.array([getattr(math, name)(v) for v in x])
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, **TOL[np.float64])


EXACT_UNARY = ["Abs", "Neg", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Sign"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("op", EXACT_UNARY)
def test_unary_exact(op, dtype):
    x = rand((4, 6), dtype, 0.1 if op in ("Sqrt", "Reciprocal") else -5, 5)
    if op == "Round":
        x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -0.51], dtype)
    check_op(op, {"x": x}, opset=13)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
@pytest.mark.parametrize("op", ["Abs", "Neg", "Sign"])
def test_unary_int(op, dtype):
    check_op(op, {"x": rand((5, 3), dtype, -100, 100)}, opset=13)


def test_unary_scalar_and_empty():
    check_op("Exp", {"x": np.array(0.5, np.float32)}, opset=13, **TOL[np.float32])
    check_op("Exp", {"x": np.zeros((0, 3), np.float32)}, opset=13)


def test_unary_float16_transcendental():
    check_op("Exp", {"x": rand((20,), np.float16, -4, 4)}, opset=13, **TOL[np.float16])


def test_unary_opset6():
    check_op("Abs", {"x": rand((3, 4))}, opset=6)


def test_isnan_isinf():
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0], np.float32)
    check_op("IsNaN", {"x": x}, opset=13)
    for neg, pos in [(1, 1), (0, 1), (1, 0)]:
        check_op("IsInf", {"x": x}, opset=20, detect_negative=neg, detect_positive=pos)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8])
def test_bitwise_not(dtype):
    check_op("BitwiseNot", {"x": rand((4, 5), dtype, 0, 100)}, opset=18)


# --- binary ------------------------------------------------------------------

SHAPES = [
    ((3, 4), (3, 4)),
    ((2, 3, 4), (4,)),
    ((3, 1), (1, 5)),
    ((), (2, 2)),
    ((0, 4), (4,)),
]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize(
    "dtype", [np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8]
)
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
def test_arithmetic(op, dtype, shapes):
    check_op(
        op,
        {"a": rand(shapes[0], dtype, 0, 50), "b": rand(shapes[1], dtype, 0, 50)},
        opset=14,
    )


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float64, np.int32, np.int64, np.int8, np.uint32]
)
def test_div(dtype):
    a = rand((4, 6), dtype, -50 if np.dtype(dtype).kind != "u" else 0, 50)
    b = rand((6,), dtype, 1, 7)
    if np.dtype(dtype).kind == "i":
        b = b * np.where(np.arange(6) % 2, 1, -1).astype(dtype)  # mixed signs truncate
    check_op("Div", {"a": a, "b": b}, opset=14)


def test_int_overflow_wraps():
    a = np.array([2**31 - 1, -(2**31)], np.int32)
    check_op("Add", {"a": a, "b": np.array([1, -1], np.int32)}, opset=14)
    check_op("Mul", {"a": a, "b": np.array([2, 2], np.int32)}, opset=14)


@pytest.mark.parametrize("opset", [1, 6])
def test_legacy_broadcast_axis(opset):
    # onnxruntime dropped opset < 7 arithmetic, so the expectation is spelled out.
    a, b, c = rand((2, 3, 4)), rand((3,)), rand((4,))
    add = resolve("", "Add", opset).fn
    np.testing.assert_array_equal(add(a, b, broadcast=1, axis=1), a + b[:, None])
    np.testing.assert_array_equal(
        resolve("", "Mul", opset).fn(a, c, broadcast=1), a * c
    )
    assert add(a, b, broadcast=1, axis=1).dtype == np.float32


@pytest.mark.parametrize(
    "base, exponent",
    [
        (np.float32, np.float32),
        (np.float32, np.int64),
        (np.float32, np.float64),
        (np.float64, np.int32),
        (np.int32, np.int32),
        (np.int64, np.float32),
        (np.int64, np.int64),
    ],
    ids=lambda t: np.dtype(t).name,
)
def test_pow_type_mixing(base, exponent):
    x = rand((3, 4), base, 1, 5)
    y = rand((4,), exponent, -2, 3)
    tol = TOL.get(base, {})
    check_op("Pow", {"x": x, "y": y}, opset=15, **tol)


def test_pow_int_exact_large():
    check_op(
        "Pow",
        {"x": np.array([3, -2, 7], np.int64), "y": np.array([20, 31, 11], np.int64)},
        opset=15,
    )


@pytest.mark.parametrize("opset", [10, 13])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8])
@pytest.mark.parametrize("fmod", [0, 1])
def test_mod_int(dtype, fmod, opset):
    a = np.array([7, -7, 7, -7, 0, 5], dtype)
    b = np.array([3, 3, -3, -3, 2, 5], dtype)
    check_op("Mod", {"a": a, "b": b}, opset=opset, fmod=fmod)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mod_float_fmod(dtype):
    a = np.array([7.5, -7.5, 7.5, -7.5, 0.0], dtype)
    b = np.array([2.0, 2.0, -2.0, -2.0, 3.0], dtype)
    check_op("Mod", {"a": a, "b": b}, opset=13, fmod=1)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.uint8])
@pytest.mark.parametrize(
    "op", ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]
)
def test_comparison(op, dtype):
    a = rand((3, 4), dtype, 0, 3)
    b = rand((4,), dtype, 0, 3)
    check_op(op, {"a": a, "b": b}, opset=19 if op == "Equal" else 16)


def test_equal_strings():
    a = np.array(["a", "b", "c"], dtype=object)
    b = np.array(["a", "x", "c"], dtype=object)
    check_op("Equal", {"a": a, "b": b}, opset=19)


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logical(op):
    check_op(op, {"a": rand((2, 3, 4), np.bool_), "b": rand((3, 1), np.bool_)}, opset=7)


def test_not():
    check_op("Not", {"x": rand((3, 4), np.bool_)}, opset=1)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64])
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bit_shift(direction, dtype):
    x = np.array([16, 4, 1, 255], dtype)
    y = np.array([1, 2, 3, 4], dtype)
    check_op("BitShift", {"x": x, "y": y}, opset=11, direction=direction)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int64])
@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
def test_bitwise(op, dtype):
    check_op(
        op, {"a": rand((3, 4), dtype, 0, 120), "b": rand((4,), dtype, 0, 120)}, opset=18
    )


# --- variadic ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.float64])
@pytest.mark.parametrize("op", ["Max", "Min", "Sum", "Mean"])
def test_variadic_broadcast(op, dtype):
    if op in ("Sum", "Mean") and np.dtype(dtype).kind == "i":
        pytest.skip("ONNX defines Sum and Mean for float types only")
    if op == "Mean" and dtype == np.float64:
        pytest.skip("onnxruntime has no float64 Mean")
    inputs = {
        "a": rand((2, 3, 4), dtype),
        "b": rand((3, 1), dtype),
        "c": rand((4,), dtype),
    }
    check_op(op, inputs, opset=13, **({"rtol": 1e-6} if dtype == np.float32 else {}))


@pytest.mark.parametrize("op", ["Max", "Min", "Sum", "Mean"])
def test_variadic_single_input_and_nan(op):
    check_op(op, {"a": rand((3,))}, opset=13)
    a = np.array([1.0, np.nan, 3.0], np.float32)
    b = np.array([2.0, 2.0, np.nan], np.float32)
    check_op(op, {"a": a, "b": b}, opset=13, rtol=1e-7)


@pytest.mark.parametrize("opset", [6, 8])
def test_variadic_old_opsets(opset):
    check_op("Sum", {"a": rand((3, 4)), "b": rand((3, 4))}, opset=opset)


# --- Where / Clip ------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8])
def test_where_broadcast(dtype):
    inputs = {
        "c": rand((3, 1), np.bool_),
        "x": rand((1, 4), dtype),
        "y": rand((3, 4), dtype),
    }
    check_op("Where", inputs, opset=16)


def test_where_bool_values():
    # onnxruntime has no bool Where kernel.
    c, x, y = rand((3, 1), np.bool_), rand((4,), np.bool_), rand((3, 4), np.bool_)
    got = resolve("", "Where", 16).fn(c, x, y)
    np.testing.assert_array_equal(got, np.where(c, x, y))


def test_where_strings():
    c = np.array([True, False, True])
    x = np.array(["a", "b", "c"], dtype=object)
    y = np.array(["x", "y", "z"], dtype=object)
    check_op("Where", {"c": c, "x": x, "y": y}, opset=16)


def test_clip_attrs():
    x = rand((3, 4), lo=-5, hi=5)
    check_op("Clip", {"x": x}, opset=6, min=-1.0, max=2.0)
    check_op("Clip", {"x": x}, opset=6, min=-1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.uint8])
@pytest.mark.parametrize(
    "bounds", [(-1, 2), (None, 2), (-1, None), (None, None), (3, 1)], ids=str
)
def test_clip_inputs(bounds, dtype):
    lo, hi = bounds
    if np.dtype(dtype).kind == "u":
        lo = None if lo is None else abs(lo)
    x = rand((3, 4), dtype, 0 if np.dtype(dtype).kind == "u" else -5, 5)
    inputs = {
        "x": x,
        "min": None if lo is None else np.array(lo, dtype),
        "max": None if hi is None else np.array(hi, dtype),
    }
    check_op("Clip", inputs, opset=13)


# --- Cast --------------------------------------------------------------------

NUMERIC = [
    np.float32,
    np.float64,
    np.float16,
    np.int8,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.bool_,
]
DTYPE_ENUM = {
    np.float32: 1, np.uint8: 2, np.int8: 3, np.uint16: 4, np.int16: 5, np.int32: 6,
    np.int64: 7, object: 8, np.bool_: 9, np.float16: 10, np.float64: 11,
}  # fmt: skip


@pytest.mark.parametrize("to", NUMERIC, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("src", NUMERIC, ids=lambda t: np.dtype(t).name)
def test_cast_numeric(src, to):
    x = (
        rand((3, 5), src, 0, 100)
        if np.dtype(src).kind in "iub"
        else rand((3, 5), src, -100, 100)
    )
    check_op("Cast", {"x": x}, opset=21, to=DTYPE_ENUM[to])
    check_op("CastLike", {"x": x, "like": np.zeros(1, to)}, opset=21)


def test_cast_truncates_and_wraps():
    check_op(
        "Cast", {"x": np.array([3.7, -3.7, 0.5, -0.5], np.float32)}, opset=13, to=6
    )
    check_op("Cast", {"x": np.array([300, -1, 128], np.int32)}, opset=13, to=2)
    check_op("Cast", {"x": np.array([1e5, -1e5, 0.1], np.float32)}, opset=13, to=10)


@pytest.mark.parametrize(
    "src", [np.float32, np.float64, np.int32, np.int64, np.bool_, np.uint8]
)
def test_cast_to_string(src):
    if np.dtype(src).kind == "f":
        x = np.array([0.1, 1e10, 1.5, np.nan, -np.inf, 3, 1e-7, 123456789, -0.25], src)
    else:
        x = rand((6,), src, 0, 100)
    check_op("Cast", {"x": x}, opset=13, to=8)


@pytest.mark.parametrize("to", [np.float32, np.float64, np.int32, np.int64])
def test_cast_from_string(to):
    values = (
        ["1", "-2", "30", "0"]
        if np.dtype(to).kind == "i"
        else ["1.5", "-inf", "NaN", "1e3", "+INF", "-0.25"]
    )
    check_op("Cast", {"x": np.array(values, dtype=object)}, opset=13, to=DTYPE_ENUM[to])


def test_cast_saturate_attr_accepted():
    # onnxruntime rejects saturate on non-float8 targets; ONNX lets it be ignored.
    x = rand((4,))
    got = resolve("", "Cast", 19).fn(x, to=10, saturate=0)
    np.testing.assert_array_equal(got, x.astype(np.float16))


def test_cast_opset1_string_type_name():
    x = rand((4,))
    np.testing.assert_array_equal(
        resolve("", "Cast", 1).fn(x, to="DOUBLE"), x.astype(np.float64)
    )


def test_cast_empty_and_scalar():
    check_op("Cast", {"x": np.zeros((0, 2), np.float32)}, opset=13, to=7)
    check_op("Cast", {"x": np.array(2.5, np.float64)}, opset=13, to=1)


def test_cast_to_float6_is_not_implemented():
    # float8 and the other low-precision casts are tested in tests/test_lowprec.py.
    from wasm_rt.errors import NotImplemented as NotImplementedErr
    from wasm_rt.ops.cast import cast

    with pytest.raises(NotImplementedErr, match="float6e2m3"):
        cast(np.zeros(2, np.float32), to=27)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, object])
def test_identity(dtype):
    x = np.array(["a", "b"], dtype=object) if dtype is object else rand((2, 3), dtype)
    check_op("Identity", {"x": x}, opset=21)


# --- property: random broadcastable shapes ------------------------------------

_BIN_OPS = ["Add", "Sub", "Mul", "Div", "Equal", "Less", "Greater", "Max", "Min"]


@settings(max_examples=60, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3),
    op=st.sampled_from(_BIN_OPS),
    dtype=st.sampled_from([np.float32, np.int32, np.int64]),
    seed=st.integers(0, 2**16),
)
def test_binary_broadcasting_property(shapes, op, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b = (rng.integers(-20, 20, size=s).astype(dtype) for s in shapes.input_shapes)
    if op == "Div":
        b = np.where(b == 0, 1, b).astype(dtype)  # integer division by zero is UB
    check_op(
        op, {"a": np.asarray(a), "b": np.asarray(b)}, opset=14 if op != "Equal" else 19
    )
