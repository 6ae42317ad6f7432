"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import check_op

F32 = np.float32
RNG = np.random.default_rng(1)

# Sums of <= 60 float32 terms: summation order differs between the runtimes.
RTOL, ATOL = 1e-5, 1e-6


def case(shape, ignore=None):
    x = RNG.standard_normal(shape).astype(F32)
    target = RNG.integers(0, shape[1], (shape[0],) + shape[2:]).astype(np.int64)
    if ignore is not None:
        target.flat[::3] = ignore
    return x, target


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, -1, 2])
@pytest.mark.parametrize("shape", [(4, 5), (3, 5, 4), (2, 5, 3, 2)])
def test_nll_loss(reduction, weighted, ignore_index, shape):
    x, target = case(shape, ignore_index)
    weight = RNG.random(shape[1]).astype(F32) if weighted else None
    attrs = {"reduction": reduction}
    if ignore_index is not None:
        attrs["ignore_index"] = ignore_index
    check_op("NegativeLogLikelihoodLoss", {"x": x, "t": target, "w": weight}, 1, 13, RTOL, ATOL, **attrs)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, 0])
@pytest.mark.parametrize("outputs", [1, 2])
def test_softmax_cross_entropy(reduction, weighted, ignore_index, outputs):
    x, target = case((3, 4, 5), ignore_index)
    weight = RNG.random(4).astype(F32) if weighted else None
    attrs = {"reduction": reduction}
    if ignore_index is not None:
        attrs["ignore_index"] = ignore_index
    check_op("SoftmaxCrossEntropyLoss", {"x": x, "t": target, "w": weight}, outputs, 13, RTOL, ATOL, **attrs)
