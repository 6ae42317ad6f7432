"""LinearAttention, CausalConvWithState and FlexAttention.

onnxruntime 1.31 has no kernels for them (opset 27 / ai.onnx.preview), so the
oracle is the ONNX reference implementation run on the same model.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator
from oracle import assert_same, run_wasm_rt, single_node_model

RNG = np.random.default_rng(0)
# Both accumulate the recurrence in float32 but contract with different
# summation orders (matmul vs einsum): a few ulps on outputs of size ~1-10.
RTOL, ATOL = 1e-5, 1e-5


def rand(*shape, dtype=np.float32, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


def check_ref(op, feeds, outputs, opset, rtol=RTOL, atol=ATOL, domain="", **attrs):
    model = single_node_model(op, feeds, outputs, opset, domain=domain, **attrs)
    given = {k: v for k, v in feeds.items() if v is not None}
    assert_same(
        run_wasm_rt(model, given),
        ReferenceEvaluator(model).run(None, given),
        rtol,
        atol,
        op,
    )


@pytest.mark.parametrize("rule", ["linear", "gated", "delta", "gated_delta"])
@pytest.mark.parametrize("heads", [(2, 2), (4, 2), (3, 1)])
@pytest.mark.parametrize("with_past", [False, True])
def test_linear_attention(rule, heads, with_past):
    hq, hkv = heads
    b, t, dk, dv = 2, 5, 4, 3
    feeds = {
        "query": rand(b, t, hq * dk, scale=0.5),
        "key": rand(b, t, hkv * dk, scale=0.5),
        "value": rand(b, t, hkv * dv),
        "past_state": rand(b, hkv, dk, dv) if with_past else None,
        "decay": -np.abs(rand(b, t, hkv * dk if hq == 4 else hkv))
        if "gated" in rule
        else None,
        "beta": np.abs(rand(b, t, 1 if hkv == 1 else hkv)) / 2
        if "delta" in rule
        else None,
    }
    check_ref(
        "LinearAttention",
        feeds,
        2,
        27,
        q_num_heads=hq,
        kv_num_heads=hkv,
        update_rule=rule,
    )


def test_linear_attention_float16_explicit_scale():
    feeds = {
        "query": rand(1, 4, 8, dtype=np.float16),
        "key": rand(1, 4, 8, dtype=np.float16),
        "value": rand(1, 4, 6, dtype=np.float16),
    }
    # float32 inside, one float16 rounding at the end: at most 1 ulp apart.
    check_ref(
        "LinearAttention",
        feeds,
        2,
        27,
        1e-3,
        1e-3,
        q_num_heads=2,
        kv_num_heads=2,
        update_rule="linear",
        scale=0.3,
    )


def test_linear_attention_needs_decay():
    model = single_node_model(
        "LinearAttention",
        {"q": rand(1, 2, 4), "k": rand(1, 2, 4), "v": rand(1, 2, 4)},
        2,
        27,
        q_num_heads=1,
        kv_num_heads=1,
    )
    with pytest.raises(Exception, match="decay"):
        run_wasm_rt(model, {"q": rand(1, 2, 4), "k": rand(1, 2, 4), "v": rand(1, 2, 4)})


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("activation", ["none", "silu"])
@pytest.mark.parametrize("extras", [(False, False), (True, True)])
def test_causal_conv_with_state(k, activation, extras):
    with_bias, with_past = extras
    feeds = {
        "input": rand(2, 3, 6),
        "weight": rand(3, 1, k),
        "bias": rand(3) if with_bias else None,
        "past_state": rand(2, 3, k - 1) if with_past else None,
    }
    check_ref("CausalConvWithState", feeds, 2, 27, activation=activation)


def _mod_graph(body_op: str, const: float):
    """A score/prob modifier: y = body_op(x, const)."""
    c = helper.make_node(
        "Constant",
        [],
        ["c"],
        value=helper.make_tensor("c", onnx.TensorProto.FLOAT, [], [const]),
    )
    n = helper.make_node(body_op, ["x", "c"], ["y"])
    return helper.make_graph(
        [c, n],
        "mod",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
    )


@pytest.mark.parametrize("heads", [(2, 2), (4, 2)])
@pytest.mark.parametrize(
    "mods", [{}, {"score_mod": ("Mul", 0.5)}, {"prob_mod": ("Add", 0.1)}]
)
@pytest.mark.parametrize("scale", [None, 0.25])
def test_flex_attention(heads, mods, scale):
    hq, hkv = heads
    feeds = {"Q": rand(2, hq, 3, 8), "K": rand(2, hkv, 5, 8), "V": rand(2, hkv, 5, 4)}
    attrs = {k: _mod_graph(*v) for k, v in mods.items()}
    if scale is not None:
        attrs["scale"] = scale
    model = single_node_model(
        "FlexAttention", feeds, 1, 1, domain="ai.onnx.preview", **attrs
    )
    assert_same(
        run_wasm_rt(model, feeds),
        ReferenceEvaluator(model).run(None, feeds),
        RTOL,
        ATOL,
        "FlexAttention",
    )
