"""Normalization kernels and Dropout against onnxruntime and the node cases."""

from __future__ import annotations

import numpy as np
import pytest
from _node_cases import compare, node_cases, run_case
from oracle import check_op

NORM_OPS = {
    "BatchNormalization", "InstanceNormalization", "LayerNormalization",
    "GroupNormalization", "LRN", "LpNormalization", "MeanVarianceNormalization",
    "Dropout",
}  # fmt: skip


@pytest.mark.parametrize("case", list(node_cases(NORM_OPS)), ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


def _data(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# Means/variances over a few hundred float32 values: rounding differs with
# summation order and with rsqrt vs 1/sqrt, a few ulps of the result.
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 4), (2, 3, 7), (1, 2, 3, 4, 5)])
@pytest.mark.parametrize("opset", [7, 9, 15])
def test_batchnorm(shape, opset):
    c = shape[1]
    inputs = {
        "x": _data(shape),
        "s": _data(c, 1),
        "b": _data(c, 2),
        "m": _data(c, 3),
        "v": np.abs(_data(c, 4)) + 0.1,
    }
    check_op("BatchNormalization", inputs, opset=opset, epsilon=1e-3, **TOL)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 9)])
def test_instance_norm(shape):
    c = shape[1]
    check_op("InstanceNormalization", {"x": _data(shape), "s": _data(c, 1), "b": _data(c, 2)},
             opset=6, epsilon=1e-4, **TOL)  # fmt: skip


@pytest.mark.parametrize("axis", [-1, -2, 1, 0])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm(axis, with_bias):
    x = _data((2, 3, 4, 5))
    norm_shape = x.shape[axis:]
    inputs = {
        "x": x,
        "s": _data(norm_shape, 1),
        "b": _data(norm_shape, 2) if with_bias else None,
    }
    check_op("LayerNormalization", inputs, outputs=3, opset=17, axis=axis, **TOL)


def test_layer_norm_float16():
    # float16 output: one half-precision ulp (~1e-3 relative).
    x = _data((2, 8), dtype=np.float16)
    inputs = {"x": x, "s": _data(8, 1, np.float16), "b": _data(8, 2, np.float16)}
    check_op("LayerNormalization", inputs, opset=17, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_norm_21(groups):
    x = _data((2, 4, 3, 5))
    inputs = {"x": x, "s": _data(4, 1), "b": _data(4, 2)}
    check_op("GroupNormalization", inputs, opset=21, num_groups=groups, **TOL)


def test_group_norm_18_per_group_scale():
    # onnxruntime implements only GroupNormalization-21; check 18 directly:
    # one scale/bias per group, spread over that group's channels.
    from wasm_rt.registry import resolve

    x = _data((2, 4, 3))
    s, b = np.array([2.0, 3.0], np.float32), np.array([0.5, -1.0], np.float32)
    got = resolve("", "GroupNormalization", 18).fn(x, s, b, num_groups=2)
    want = resolve("", "GroupNormalization", 21).fn(
        x, np.repeat(s, 2), np.repeat(b, 2), num_groups=2
    )
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("size", [1, 3, 5])  # onnxruntime rejects even sizes
def test_lrn(size):
    check_op("LRN", {"x": _data((2, 7, 3, 4))}, opset=13, size=size, alpha=1e-3, beta=0.6,
             bias=1.5, **TOL)  # fmt: skip


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_lp_normalization(p, axis):
    check_op("LpNormalization", {"x": _data((3, 4, 5))}, opset=1, p=p, axis=axis, **TOL)


@pytest.mark.parametrize("axes", [None, [0, 2, 3], [1], [2, 3]])
def test_mvn(axes):
    attrs = {} if axes is None else {"axes": axes}
    check_op(
        "MeanVarianceNormalization",
        {"x": _data((2, 3, 4, 5))},
        opset=13,
        **attrs,
        **TOL,
    )


@pytest.mark.parametrize("opset,outputs", [(7, 1), (10, 1), (13, 2), (13, 1)])
def test_dropout_inference(opset, outputs):
    # Not (10, 2): onnxruntime's Dropout-10 returns an all-False mask in
    # inference, the ONNX reference (which we follow) an all-True one.
    check_op("Dropout", {"x": _data((3, 4))}, outputs=outputs, opset=opset)


def test_dropout_ratio_input_not_training():
    check_op("Dropout", {"x": _data((3, 4)), "r": np.array(0.3, np.float32)}, outputs=2,
             opset=13)  # fmt: skip


def test_dropout_training_scales_kept_values():
    from wasm_rt.registry import KernelContext, resolve

    ctx = KernelContext("d", "Dropout", 13, 2, ("y", "m"))
    x = np.ones((100, 100), np.float32)
    y, mask = resolve("", "Dropout", 13).fn(
        ctx, x, np.array(0.25, np.float32), np.array(True), seed=3
    )
    assert mask.dtype == np.bool_ and 0.7 < mask.mean() < 0.8
    np.testing.assert_allclose(y[mask], 1 / 0.75)
    assert not y[~mask].any()


@pytest.mark.parametrize("opset", [9, 15])
def test_batchnorm_1d_input(opset):
    # A 1-D X is N samples of one channel; onnxruntime returns X's shape [N].
    inputs = {
        "x": _data(7),
        "s": _data(1, 1),
        "b": _data(1, 2),
        "m": _data(1, 3),
        "v": np.abs(_data(1, 4)) + 0.1,
    }
    check_op("BatchNormalization", inputs, opset=opset, **TOL)
