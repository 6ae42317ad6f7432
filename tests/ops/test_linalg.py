"""MatMul, Gemm, Einsum and integer matmuls against onnxruntime and the node cases."""

from __future__ import annotations

import numpy as np
import pytest
from _node_cases import compare, node_cases, run_case
from oracle import check_op

LINALG_OPS = {"MatMul", "Gemm", "Einsum", "MatMulInteger", "QLinearMatMul"}


def _runnable(case) -> bool:
    # wasm_rt has no numpy dtype for bfloat16, so those cases cannot load.
    return "bfloat16" not in case.name


@pytest.mark.parametrize(
    "case", [c for c in node_cases(LINALG_OPS) if _runnable(c)], ids=lambda c: c.name
)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


def _data(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _tol(k):
    # float32 dot products of length k: only the summation order differs.
    return {"rtol": 1e-5, "atol": 1e-6 * k}


@pytest.mark.parametrize(
    "a,b",
    [
        ((3, 4), (4, 5)),
        ((7,), (7,)),
        ((7,), (7, 3)),
        ((2, 3, 7), (7,)),
        ((2, 1, 3, 5), (4, 5, 6)),
        ((1, 4, 64), (64, 33)),
        ((5, 0), (0, 3)),
    ],
)
def test_matmul(a, b):
    check_op("MatMul", {"a": _data(a), "b": _data(b, 1)}, opset=13, **_tol(a[-1]))


def test_matmul_int_and_double():
    rng = np.random.default_rng(0)
    a, b = (
        rng.integers(-50, 50, (3, 4), np.int32),
        rng.integers(-50, 50, (4, 2), np.int32),
    )
    check_op("MatMul", {"a": a, "b": b}, opset=13)
    check_op("MatMul", {"a": _data((3, 4), 0, np.float64), "b": _data((4, 2), 1, np.float64)},
             opset=13, rtol=1e-12, atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("c_shape", [None, (), (5,), (3, 1), (3, 5)])
def test_gemm(trans_a, trans_b, c_shape):
    a = _data((4, 3) if trans_a else (3, 4))
    b = _data((5, 4) if trans_b else (4, 5), 1)
    c = None if c_shape is None else _data(c_shape, 2)
    check_op("Gemm", {"a": a, "b": b, "c": c}, opset=13, alpha=0.5, beta=1.5,
             transA=trans_a, transB=trans_b, **_tol(4))  # fmt: skip


def test_gemm_old_opsets():
    a, b, c = _data((3, 4)), _data((4, 5), 1), _data((5,), 2)
    # onnxruntime has no Gemm before opset 7; check the opset-6 kernel directly.
    from wasm_rt.registry import resolve

    got = resolve("", "Gemm", 6).fn(a, b, c, broadcast=1, alpha=2.0)
    np.testing.assert_allclose(got, 2 * a @ b + c, **_tol(4))
    check_op("Gemm", {"a": a, "b": b, "c": _data((3, 5), 2)}, opset=7, **_tol(4))


@pytest.mark.parametrize(
    "eq,shapes",
    [
        ("ij,jk->ik", [(3, 4), (4, 5)]),
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
        ("ii->i", [(4, 4)]),
        ("ij->", [(3, 4)]),
        ("...ij,...jk", [(2, 3, 4), (2, 4, 2)]),
        ("i,j->ij", [(3,), (4,)]),
        ("ab, bc, cd -> ad", [(2, 3), (3, 4), (4, 5)]),
    ],
)
def test_einsum(eq, shapes):
    inputs = {f"x{i}": _data(s, i) for i, s in enumerate(shapes)}
    check_op("Einsum", inputs, opset=12, equation=eq, **_tol(16))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("zp", ["none", "scalar", "vector"])
def test_matmul_integer(dtype, zp):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, (2, 3, 4), dtype=dtype)
    b = rng.integers(info.min, info.max, (4, 5), dtype=dtype)
    inputs = {"a": a, "b": b, "az": None, "bz": None}
    if zp == "scalar":
        inputs["az"], inputs["bz"] = np.array(3, dtype), np.array(7, dtype)
    elif zp == "vector":
        inputs["bz"] = np.arange(5).astype(dtype)
    check_op("MatMulInteger", inputs, opset=10)


def test_qlinear_matmul():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (3, 4), dtype=np.uint8)
    b = rng.integers(0, 255, (4, 5), dtype=np.uint8)
    inputs = {
        "a": a, "as": np.array(0.02, np.float32), "az": np.array(120, np.uint8),
        "b": b, "bs": np.array(0.03, np.float32), "bz": np.array(130, np.uint8),
        "ys": np.array(0.1, np.float32), "yz": np.array(128, np.uint8),
    }  # fmt: skip
    check_op("QLinearMatMul", inputs, opset=10)


def test_matmul_rejects_bad_shapes():
    from wasm_rt.registry import resolve

    with pytest.raises(ValueError, match="inner dimensions"):
        resolve("", "MatMul", 13).fn(_data((2, 3)), _data((4, 2)))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 2, 2)])
def test_det_matches_onnxruntime(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    # LU factorization in float32 vs onnxruntime's Eigen: a few ulp per pivot.
    check_op("Det", {"x": x}, opset=22, rtol=1e-5, atol=1e-6)
