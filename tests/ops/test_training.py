"""Momentum, Adagrad and Adam (ai.onnx.preview.training; onnxruntime's inference
build has no kernels for them) against the ONNX reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator
from oracle import assert_same, run_wasm_rt, single_node_model

DOMAIN = "ai.onnx.preview.training"
RNG = np.random.default_rng(0)


def check_ref(op, n_state, t, **attrs):
    xs = {}
    for role in ["X", "G"] + [f"S{i}" for i in range(n_state)]:
        for i in range(2):
            v = RNG.standard_normal((3, 2)).astype(np.float32)
            xs[f"{role}{i}"] = np.abs(v) if role.startswith("S") else v
    feeds = {"R": np.array(0.1, np.float32), "T": np.array(t, np.int64), **xs}
    n_out = 2 * (1 + n_state)
    model = single_node_model(op, feeds, n_out, 1, domain=DOMAIN, **attrs)
    # The reference mixes float64 scalars into float32 tensors; ours rounds the
    # same scalars in a different order, so results agree to float32 rounding.
    assert_same(
        run_wasm_rt(model, feeds),
        ReferenceEvaluator(model).run(None, feeds),
        1e-6,
        1e-7,
        op,
    )


@pytest.mark.parametrize("t", [0, 3])
@pytest.mark.parametrize("mode", ["standard", "nesterov"])
def test_momentum(t, mode):
    check_ref("Momentum", 1, t, alpha=0.9, beta=0.5, mode=mode, norm_coefficient=0.01)


@pytest.mark.parametrize("t", [0, 3])
def test_adagrad(t):
    check_ref("Adagrad", 1, t, decay_factor=0.1, epsilon=1e-5, norm_coefficient=0.001)


@pytest.mark.parametrize("t", [0, 3])
def test_adam(t):
    check_ref(
        "Adam",
        2,
        t,
        alpha=0.9,
        beta=0.99,
        epsilon=1e-5,
        norm_coefficient=0.01,
        norm_coefficient_post=0.02,
    )
