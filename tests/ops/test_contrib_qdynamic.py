"""com.microsoft QAttention, QEmbedLayerNormalization and DynamicQuantizeLSTM
against onnxruntime's CPU kernels."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from _contrib import both_fail, check_ms, feeds_of, ms_model
from oracle import assert_same, run_wasm_rt

import wasm_rt

RNG = np.random.default_rng(7)
F32, I32, U8, I8 = np.float32, np.int32, np.uint8, np.int8

# QAttention: the QKV product is exact int32 in both runtimes and scaled by the
# same float32 multiplier; what remains is softmax(QK^T)V in float32 with
# different summation orders over <= 8 keys (a few ulps of outputs ~1).
QA_TOL = {"rtol": 1e-5, "atol": 2e-6}
# QEmbedLayerNormalization: the dequantized sums are identical; onnxruntime
# normalizes with sequential float32 sums and x / sqrt(var + eps), numpy with
# pairwise sums and x * (1 / sqrt(var + eps)): a few ulps of outputs whose
# magnitude is |gamma| (up to ~15 here).
QE_TOL = {"rtol": 1e-5, "atol": 2e-5}


def q8(shape, dtype):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max + 1, shape).astype(dtype)


# ------------------------------------------------------------------ QAttention
B, S, D, N, H = 2, 4, 16, 2, 8


def qa_inputs(wdt=I8, per_column=False, mask=None, past=0, zero_points=True):
    cols = 3 * N * H
    if per_column:
        w_scale = (RNG.random(cols) * 0.01 + 0.001).astype(F32)
        # int8 weights are symmetric (zero point 0); uint8 ones have any per column.
        w_zp = (
            np.zeros(cols, I8) if wdt == I8 else RNG.integers(100, 156, cols).astype(U8)
        )
    else:
        w_scale = np.array(0.004, F32)
        w_zp = np.array(3 if wdt == I8 else 131, wdt)
    return {
        "input": q8((B, S, D), U8),
        "weight": q8((D, cols), wdt),
        "bias": RNG.standard_normal(cols).astype(F32),
        "input_scale": np.array(0.01, F32),
        "weight_scale": w_scale,
        "mask_index": mask,
        "input_zero_point": np.array(118, U8) if zero_points else None,
        "weight_zero_point": w_zp if zero_points else None,
        "past": RNG.standard_normal((2, B, N, past, H)).astype(F32) if past else None,
    }


@pytest.mark.parametrize("wdt", [I8, U8])
@pytest.mark.parametrize("per_column", [False, True])
def test_qattention_weights(wdt, per_column):
    check_ms("QAttention", qa_inputs(wdt, per_column), 2, num_heads=N, **QA_TOL)


def test_qattention_no_zero_points():
    check_ms("QAttention", qa_inputs(zero_points=False), 2, num_heads=N, **QA_TOL)


MASKS = {
    "end_positions": np.array([3, 2], I32),
    "ends_and_starts": np.array([3, 4, 1, 0], I32),
    "3b_plus_2": np.array([3, 4, 1, 0, 2, 2, 0, 0], I32),
    "key_padding_2d": np.array([[1, 1, 0, 1], [1, 0, 0, 0]], I32),
    "per_query_3d": RNG.integers(0, 2, (B, S, S)).astype(I32),
    # [batch, 1] and [1, 1] broadcast one value to every key: no mask at all.
    "broadcast_b1": np.array([[0], [1]], I32),
    "broadcast_11": np.array([[0]], I32),
}


@pytest.mark.parametrize("name", sorted(MASKS))
def test_qattention_masks(name):
    check_ms("QAttention", qa_inputs(mask=MASKS[name]), 2, num_heads=N, **QA_TOL)


def test_qattention_mask_filter_value_and_scale():
    inputs = qa_inputs(mask=MASKS["end_positions"])
    check_ms("QAttention", inputs, 2, num_heads=N, mask_filter_value=-5.0, scale=0.3,
             **QA_TOL)  # fmt: skip


@pytest.mark.parametrize("unidirectional", [0, 1])
@pytest.mark.parametrize("past", [0, 3])
def test_qattention_past_unidirectional(past, unidirectional):
    check_ms("QAttention", qa_inputs(past=past), 2, num_heads=N,
             unidirectional=unidirectional, **QA_TOL)  # fmt: skip


def test_qattention_past_with_key_padding():
    mask = RNG.integers(0, 2, (B, S + 3)).astype(I32)
    mask[:, 0] = 1
    check_ms("QAttention", qa_inputs(mask=mask, past=3), 2, num_heads=N, **QA_TOL)


def test_qattention_output_only():
    # Without past the present output may be left out (with past onnxruntime
    # requires it).
    check_ms("QAttention", qa_inputs(), [True, False], num_heads=N, **QA_TOL)


def test_qattention_refusals():
    # A 4-D mask and the shared past/present buffer: onnxruntime refuses both.
    both_fail("QAttention", qa_inputs(mask=np.ones((B, 1, S, S), I32)), 2,
              num_heads=N, match="4-D mask")  # fmt: skip
    both_fail("QAttention", qa_inputs(past=2), 2, num_heads=N,
              past_present_share_buffer=1, match="past_present_share_buffer")  # fmt: skip
    bad = qa_inputs()
    bad["weight_scale"] = np.array([0.1, 0.2], F32)
    both_fail("QAttention", bad, 2, num_heads=N, match="weight_scale")


def test_qattention_do_rotary_refused():
    # onnxruntime's CPU kernel accepts do_rotary=1 and applies no rotation at
    # all; wasm_rt says so instead of returning the unrotated result.
    model = ms_model("QAttention", qa_inputs(), 2, num_heads=N, do_rotary=1)
    with pytest.raises(wasm_rt.NotImplemented, match="do_rotary"):
        run_wasm_rt(model, feeds_of(qa_inputs()))


# ---------------------------------------------------- QEmbedLayerNormalization
VOCAB, POS, SEG, HID = 30, 8, 2, 16


def qe_inputs(dtype=U8, segment=True, mask=True, seq=5):
    def scale():
        return np.array(RNG.random() * 0.05 + 0.01, F32)

    def zp():
        return np.array(
            RNG.integers(0, 20) if dtype == U8 else RNG.integers(-5, 5), dtype
        )

    return {
        "input_ids": RNG.integers(0, VOCAB, (B, seq)).astype(I32),
        "segment_ids": RNG.integers(0, SEG, (B, seq)).astype(I32) if segment else None,
        "word_embedding": q8((VOCAB, HID), dtype),
        "position_embedding": q8((POS, HID), dtype),
        "segment_embedding": q8((SEG, HID), dtype) if segment else None,
        "gamma": q8((HID,), dtype),
        "beta": q8((HID,), dtype),
        "mask": (RNG.random((B, seq)) > 0.3).astype(I32) if mask else None,
        "word_scale": scale(),
        "position_scale": scale(),
        "segment_scale": scale() if segment else None,
        "gamma_scale": scale(),
        "beta_scale": scale(),
        "word_zp": zp(),
        "position_zp": zp(),
        "segment_zp": zp() if segment else None,
        "gamma_zp": zp(),
        "beta_zp": zp(),
    }


@pytest.mark.parametrize("dtype", [U8, I8])
@pytest.mark.parametrize("segment", [True, False])
@pytest.mark.parametrize("mask", [True, False])
def test_qembed_layer_norm(dtype, segment, mask):
    check_ms("QEmbedLayerNormalization", qe_inputs(dtype, segment, mask), 2, **QE_TOL)


def test_qembed_layer_norm_epsilon_full_positions():
    check_ms("QEmbedLayerNormalization", qe_inputs(seq=POS), 2, epsilon=1e-3, **QE_TOL)


def test_qembed_layer_norm_out_of_range():
    bad = qe_inputs()
    bad["input_ids"][1, 2] = VOCAB
    both_fail("QEmbedLayerNormalization", bad, 2, match="input_ids")
    both_fail("QEmbedLayerNormalization", qe_inputs(seq=POS + 1, mask=False), 2,
              match="position_embedding")  # fmt: skip


def test_qembed_layer_norm_mask_index_counts_ones():
    inputs = qe_inputs()
    inputs["mask"] = np.array([[1, 1, 0, 1, 2], [0, 0, 0, 0, 0]], I32)
    (_, mask_index) = check_ms("QEmbedLayerNormalization", inputs, 2, **QE_TOL)
    np.testing.assert_array_equal(mask_index, [3, 0])


# --------------------------------------------------------- DynamicQuantizeLSTM
# onnxruntime quantizes H per step over the whole batch with one intra-op
# thread, but per block of batch rows with several (its own results then move
# by ~1e-3 with the thread count), so the oracle runs with one thread. wasm_rt
# follows its order of operations and its MLAS sigmoid/tanh, so with those
# activations the outputs are bit-identical: tolerance 0. Activations that call
# exp/log (Elu, Softplus) differ from the C library's by an ulp, which a
# requantized H can turn into one quantization step: tolerance 1e-5.
SEQ, LB, LIN, LH = 5, 3, 4, 6


def ort_one_thread(model, feeds):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"]).run(
        None, feeds
    )


def lstm_inputs(dirs=1, wdt=I8, per_column=False, lens=None, states=False,
                peephole=False, bias=True):  # fmt: skip
    cols = 4 * LH

    def scale():
        shape = (dirs, cols) if per_column else (dirs,)
        return (RNG.random(shape) * 0.02 + 0.005).astype(F32)

    def zero_point():
        if wdt == I8:
            return np.zeros((dirs, cols) if per_column else (dirs,), I8)
        zp = RNG.integers(100, 150, (dirs, 1)).astype(U8)
        return np.repeat(zp, cols, 1) if per_column else zp[:, 0]

    def q(shape):
        return RNG.integers(-127, 128, shape).astype(I8) if wdt == I8 else q8(shape, U8)

    return {
        "X": RNG.standard_normal((SEQ, LB, LIN)).astype(F32),
        "W": q((dirs, LIN, cols)),
        "R": q((dirs, LH, cols)),
        "B": (RNG.standard_normal((dirs, 2 * cols)) * 0.5).astype(F32)
        if bias
        else None,
        "sequence_lens": None if lens is None else np.asarray(lens, I32),
        "initial_h": RNG.standard_normal((dirs, LB, LH)).astype(F32)
        if states
        else None,
        "initial_c": RNG.standard_normal((dirs, LB, LH)).astype(F32)
        if states
        else None,
        "P": (RNG.standard_normal((dirs, 3 * LH)) * 0.3).astype(F32)
        if peephole
        else None,
        "W_scale": scale(),
        "W_zero_point": zero_point(),
        "R_scale": scale(),
        "R_zero_point": zero_point(),
    }


def check_lstm(inputs, outputs=3, tol=0.0, **attrs):
    attrs.setdefault("hidden_size", LH)
    model = ms_model("DynamicQuantizeLSTM", inputs, outputs, **attrs)
    feeds = feeds_of(inputs)
    ours, theirs = run_wasm_rt(model, feeds), ort_one_thread(model, feeds)
    assert_same(ours, theirs, tol, tol, "DynamicQuantizeLSTM")


@pytest.mark.parametrize("wdt", [I8, U8])
@pytest.mark.parametrize("per_column", [False, True])
def test_dq_lstm_weights(wdt, per_column):
    check_lstm(lstm_inputs(wdt=wdt, per_column=per_column))


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("lens", [None, [5, 2, 4], [5, 0, 3]])
def test_dq_lstm_directions_and_lengths(direction, lens):
    dirs = 2 if direction == "bidirectional" else 1
    check_lstm(lstm_inputs(dirs, lens=lens, states=True), direction=direction)


@pytest.mark.parametrize("outputs", [[False, True, True], [False, False, True],
                                     [True, False, False]])  # fmt: skip
def test_dq_lstm_outputs_left_out(outputs):
    # Without Y, onnxruntime quantizes the frozen states of finished sequences
    # (with Y, their zero rows): both are followed.
    check_lstm(lstm_inputs(lens=[5, 2, 4], states=True), outputs)


def test_dq_lstm_peephole_clip_no_bias():
    check_lstm(lstm_inputs(peephole=True, states=True), clip=0.5)
    check_lstm(lstm_inputs(bias=False))


def test_dq_lstm_input_forget():
    check_lstm(lstm_inputs(states=True), input_forget=1)


def test_dq_lstm_activations():
    check_lstm(lstm_inputs(), activations=["HardSigmoid", "Relu", "Softsign"],
               activation_alpha=[0.3], activation_beta=[0.4])  # fmt: skip
    check_lstm(lstm_inputs(2), tol=1e-5, direction="bidirectional",
               activations=["LeakyRelu", "Elu", "Affine", "Sigmoid", "Softplus",
                            "ScaledTanh"],
               activation_alpha=[0.2, 0.9, 0.5, 1.5], activation_beta=[0.1, 0.7])  # fmt: skip


def test_dq_lstm_refusals():
    bad = lstm_inputs(per_column=True)
    bad["W_zero_point"][0, 3] = 1  # int8 per-column zero points must be 0
    both_fail("DynamicQuantizeLSTM", bad, 3, hidden_size=LH, match="zero_point")
    bad = lstm_inputs(wdt=U8, per_column=True)
    bad["R_zero_point"][0, 5] += 1  # uint8 ones must be one value
    both_fail("DynamicQuantizeLSTM", bad, 3, hidden_size=LH, match="zero_point")
    bad = lstm_inputs()
    bad["W_scale"] = np.ones((1, 3), F32)
    both_fail("DynamicQuantizeLSTM", bad, 3, hidden_size=LH, match="W_scale")
    both_fail("DynamicQuantizeLSTM", lstm_inputs(), 3, hidden_size=LH,
              activations=["Sigmoid", "Tanh"], match="activations")  # fmt: skip
    both_fail("DynamicQuantizeLSTM", lstm_inputs(), 3, hidden_size=LH + 1, match="W")


def test_dq_lstm_from_quantize_dynamic(tmp_path):
    """A torch LSTM exported to ONNX and quantized by onnxruntime's own
    quantize_dynamic (per tensor and per channel) runs like onnxruntime."""
    torch = pytest.importorskip("torch")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(8, 16, bidirectional=True)
            self.fc = torch.nn.Linear(32, 4)

        def forward(self, x):
            y, (h, c) = self.lstm(x)
            return self.fc(y), h, c

    src = tmp_path / "lstm.onnx"
    torch.onnx.export(Net().eval(), torch.randn(5, 2, 8), str(src), input_names=["x"],
                      output_names=["y", "h", "c"], opset_version=17, dynamo=False,
                      dynamic_axes={"x": {0: "seq", 1: "batch"}})  # fmt: skip
    x = RNG.standard_normal((7, 3, 8)).astype(F32)
    for per_channel in (False, True):
        dst = tmp_path / f"lstm_q{int(per_channel)}.onnx"
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=per_channel)
        model = dst.read_bytes()
        ops = {n.op_type for n in onnx.load(str(dst)).graph.node}
        assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops
        ours = run_wasm_rt(model, {"x": x})
        theirs = ort_one_thread(model, {"x": x})
        assert_same(ours, theirs, 0.0, 0.0, f"quantize_dynamic LSTM {per_channel=}")
