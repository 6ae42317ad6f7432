"""TensorScatter against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import check_op

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("mode", ["linear", "circular"])
@pytest.mark.parametrize("axis", [-2, 1, 2])
def test_tensor_scatter(mode, axis):
    past = RNG.standard_normal((2, 3, 6, 4)).astype(np.float32)
    upd_shape = list(past.shape)
    upd_shape[axis] = 2
    update = RNG.standard_normal(upd_shape).astype(np.float32)
    start = np.array([1, 5 if mode == "circular" else 4], np.int64)
    if axis == 1:
        start = (
            np.array([0, 1], np.int64)
            if mode == "linear"
            else np.array([2, 1], np.int64)
        )
    # A copy and a scatter: exact.
    check_op(
        "TensorScatter",
        {"past": past, "update": update, "write_indices": start},
        1,
        24,
        axis=axis,
        mode=mode,
    )


def test_tensor_scatter_default_indices():
    past = np.zeros((2, 5, 3), np.float16)
    update = np.ones((2, 2, 3), np.float16)
    check_op(
        "TensorScatter",
        {"past": past, "update": update, "write_indices": None},
        1,
        24,
        axis=1,
    )
