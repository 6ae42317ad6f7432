"""RNN, GRU and LSTM against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import assert_same, check_op, run_ort, run_wasm_rt, single_node_model

F32 = np.float32
RNG = np.random.default_rng(2)

# Small recurrences (<= 5 steps, hidden 3) in float32: matmul summation order and
# tanh/sigmoid implementations differ, compounding over steps to ~1e-6.
RTOL, ATOL = 1e-5, 1e-5

SEQ, BATCH, IN, HID = 5, 3, 4, 3


def rand(*shape):
    return (RNG.standard_normal(shape) * 0.5).astype(F32)


def inputs(gates, dirs, layout, with_states, n_states=1, peephole=False):
    x = rand(BATCH, SEQ, IN) if layout else rand(SEQ, BATCH, IN)
    d = {
        "X": x,
        "W": rand(dirs, gates * HID, IN),
        "R": rand(dirs, gates * HID, HID),
        "B": rand(dirs, 2 * gates * HID),
        # Uneven lengths exercise freezing and per-sequence reversal.
        "seq_lens": np.array([5, 2, 4], np.int32) if with_states else None,
    }
    for i in range(n_states):
        shape = (BATCH, dirs, HID) if layout else (dirs, BATCH, HID)
        d[f"init{i}"] = rand(*shape) if with_states else None
    if peephole:
        d["P"] = rand(dirs, 3 * HID)
    return d


DIRECTIONS = [("forward", 1), ("reverse", 1), ("bidirectional", 2)]


def check_layout(op_type, feeds, outputs, opset, **attrs):
    """check_op, except layout=1 is compared with onnxruntime's layout=0 result.

    onnxruntime's CPU kernels reject layout=1 ("batchwise recurrent operations
    are not supported"), so the oracle runs the time-major equivalent.
    """
    if not attrs.get("layout"):
        return check_op(op_type, feeds, outputs, opset, RTOL, ATOL, **attrs)
    present = {n: v for n, v in feeds.items() if v is not None}
    ours = run_wasm_rt(single_node_model(op_type, feeds, outputs, opset, **attrs), present)
    time_major = {
        n: (np.swapaxes(v, 0, 1) if v is not None and (n == "X" or n.startswith("init")) else v)
        for n, v in feeds.items()
    }
    theirs = run_ort(
        single_node_model(op_type, time_major, outputs, opset, **{**attrs, "layout": 0}),
        {n: v for n, v in time_major.items() if v is not None},
    )
    # Y: (seq, dirs, batch, hidden) -> (batch, seq, dirs, hidden); states swap axes 0 and 1.
    theirs = [theirs[0].transpose(2, 0, 1, 3)] + [np.swapaxes(t, 0, 1) for t in theirs[1:]]
    assert_same(ours, theirs, RTOL, ATOL, f"{op_type}-{opset} layout=1")


@pytest.mark.parametrize("direction,dirs", DIRECTIONS)
@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("with_states", [False, True])
def test_rnn(direction, dirs, layout, with_states):
    check_layout("RNN", inputs(1, dirs, layout, with_states), 2, 14,
                 direction=direction, hidden_size=HID, layout=layout)


@pytest.mark.parametrize("direction,dirs", DIRECTIONS)
@pytest.mark.parametrize("linear_before_reset", [0, 1])
@pytest.mark.parametrize("with_states", [False, True])
def test_gru(direction, dirs, linear_before_reset, with_states):
    check_op("GRU", inputs(3, dirs, 0, with_states), 2, 14, RTOL, ATOL, direction=direction,
             hidden_size=HID, linear_before_reset=linear_before_reset)


@pytest.mark.parametrize("direction,dirs", DIRECTIONS)
@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("peephole", [False, True])
def test_lstm(direction, dirs, layout, peephole):
    check_layout("LSTM", inputs(4, dirs, layout, True, 2, peephole), 3, 14,
                 direction=direction, hidden_size=HID, layout=layout)


def test_rnn_activations_and_clip():
    check_op("RNN", inputs(1, 2, 0, True), 2, 7, RTOL, ATOL, direction="bidirectional",
             hidden_size=HID, activations=["LeakyRelu", "HardSigmoid"], activation_alpha=[0.2, 0.3],
             activation_beta=[0.4], clip=0.8)


def test_lstm_input_forget_opset7():
    check_op("LSTM", inputs(4, 1, 0, True, 2), 3, 7, RTOL, ATOL, hidden_size=HID, input_forget=1)
