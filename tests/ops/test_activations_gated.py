"""Swish against onnxruntime; SwiGLU (not in onnxruntime 1.31) against the ONNX reference."""

from __future__ import annotations

import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator
from oracle import assert_same, check_op, run_wasm_rt, single_node_model

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("alpha", [1.0, 1.702])
def test_swish(alpha):
    x = (RNG.standard_normal((3, 5)) * 4).astype(np.float32)
    x[0, :2] = [-100.0, 100.0]  # sigmoid saturates without overflow warnings
    # onnxruntime evaluates the sigmoid with an approximation (MLAS logistic),
    # about 1e-7 absolute from the exact float32 value.
    check_op("Swish", {"X": x}, 1, 24, 1e-6, 1e-6, alpha=alpha)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_swiglu_matches_reference(dtype, alpha):
    a = (RNG.standard_normal((2, 3, 4)) * 3).astype(dtype)
    b = RNG.standard_normal((2, 3, 4)).astype(dtype)
    model = single_node_model("SwiGLU", {"A": a, "B": b}, 1, 28, alpha=alpha)
    feeds = {"A": a, "B": b}
    # Same operation order and roundings as the reference: bit-exact.
    assert_same(
        run_wasm_rt(model, feeds),
        ReferenceEvaluator(model).run(None, feeds),
        0,
        0,
        "SwiGLU",
    )


def test_swiglu_shape_mismatch():
    model = single_node_model(
        "SwiGLU",
        {"A": np.ones((2, 3), np.float32), "B": np.ones((3,), np.float32)},
        1,
        28,
    )
    with pytest.raises(Exception, match="same shape"):
        run_wasm_rt(
            model, {"A": np.ones((2, 3), np.float32), "B": np.ones((3,), np.float32)}
        )
