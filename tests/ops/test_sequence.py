"""Sequence/optional, random and string kernels against onnxruntime and the node cases."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from _node_cases import compare, node_cases, run_case
from onnx import helper
from oracle import check_op, run_ort, run_wasm_rt

import wasm_rt

SEQUENCE_OPS = {
    "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceAt",
    "SequenceErase", "SequenceLength", "SplitToSequence", "ConcatFromSequence",
    "Optional", "OptionalHasElement", "OptionalGetElement",
    "StringNormalizer", "RegexFullMatch", "StringConcat", "StringSplit",
}  # fmt: skip

F32 = np.float32
I64 = np.int64
FLOAT = onnx.TensorProto.FLOAT


@pytest.mark.parametrize("case", list(node_cases(SEQUENCE_OPS)), ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


def _model(nodes, inputs, outputs, opset=18):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_value_info(o, onnx.TypeProto()) for o in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    return model.SerializeToString()


def _same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, list):
            assert isinstance(a, list) and len(a) == len(b)
            _same(a, b)
        else:
            a, b = np.asarray(a), np.asarray(b)
            assert a.dtype == b.dtype and a.shape == b.shape, (
                a.dtype,
                a.shape,
                b.dtype,
                b.shape,
            )
            np.testing.assert_array_equal(a, b)


def _check(model, feeds):
    _same(run_wasm_rt(model, feeds), run_ort(model, feeds))


XYZ = [("x", FLOAT, [2, 3]), ("y", FLOAT, [2, 3]), ("z", FLOAT, [2, 3])]
FEEDS = {n: np.arange(6, dtype=F32).reshape(2, 3) + i for i, n in enumerate("xyz")}


@pytest.mark.parametrize("pos", [0, 1, -1, -3])
def test_construct_at(pos):
    nodes = [
        helper.make_node("SequenceConstruct", ["x", "y", "z"], ["s"]),
        helper.make_node("Constant", [], ["p"], value_int=pos),
        helper.make_node("SequenceAt", ["s", "p"], ["out"]),
        helper.make_node("SequenceLength", ["s"], ["n"]),
    ]
    _check(_model(nodes, XYZ, ["out", "n"]), FEEDS)


@pytest.mark.parametrize("pos", [None, 0, -1, 2])
def test_insert_erase(pos):
    p = [] if pos is None else ["p"]
    nodes = [
        helper.make_node("SequenceConstruct", ["x", "y"], ["s"]),
        helper.make_node("Constant", [], ["p"], value_int=0 if pos is None else pos),
        helper.make_node("SequenceInsert", ["s", "z", *p], ["s2"]),
        helper.make_node("SequenceErase", ["s2", *p], ["s3"]),
        helper.make_node("Identity", ["s2"], ["o2"]),
        helper.make_node("Identity", ["s3"], ["o3"]),
    ]
    if pos == 2:  # insert may address the end, erase may not
        nodes[3] = helper.make_node("SequenceErase", ["s2"], ["s3"])
    _check(_model(nodes, XYZ, ["o2", "o3"]), FEEDS)


@pytest.mark.parametrize("axis, new_axis", [(0, 0), (1, 0), (-1, 1), (0, 1), (2, 1)])
def test_concat_from_sequence(axis, new_axis):
    nodes = [
        helper.make_node("SequenceConstruct", ["x", "y", "z"], ["s"]),
        helper.make_node(
            "ConcatFromSequence", ["s"], ["out"], axis=axis, new_axis=new_axis
        ),
    ]
    _check(_model(nodes, XYZ, ["out"]), FEEDS)


@pytest.mark.parametrize(
    "split, axis, keepdims",
    [(None, 0, 1), (None, 1, 0), (2, 1, 1), (np.array([1, 2], I64), -1, 1)],
)
def test_split_to_sequence(split, axis, keepdims):
    inputs = {
        "x": FEEDS["x"],
        "split": None if split is None else np.asarray(split, I64),
    }
    model_inputs = [("x", FLOAT, [2, 3])]
    names = ["x"]
    nodes = []
    if split is not None:
        nodes.append(
            helper.make_node(
                "Constant",
                [],
                ["split"],
                value=onnx.numpy_helper.from_array(inputs["split"]),
            )
        )
        names.append("split")
    nodes.append(
        helper.make_node("SplitToSequence", names, ["s"], axis=axis, keepdims=keepdims)
    )
    nodes.append(helper.make_node("Identity", ["s"], ["out"]))
    _check(_model(nodes, model_inputs, ["out"]), {"x": inputs["x"]})


def test_optional_roundtrip():
    nodes = [
        helper.make_node("Optional", ["x"], ["o"]),
        helper.make_node("OptionalHasElement", ["o"], ["has"]),
        helper.make_node("OptionalGetElement", ["o"], ["out"]),
    ]
    _check(_model(nodes, XYZ[:1], ["has", "out"]), {"x": FEEDS["x"]})


def test_sequence_at_out_of_range_raises():
    nodes = [
        helper.make_node("SequenceConstruct", ["x", "y"], ["s"]),
        helper.make_node("Constant", [], ["p"], value_int=2),
        helper.make_node("SequenceAt", ["s", "p"], ["out"]),
    ]
    model = _model(nodes, XYZ[:2], ["out"])
    with pytest.raises(wasm_rt.WasmRtError, match="out of range"):
        run_wasm_rt(model, {"x": FEEDS["x"], "y": FEEDS["y"]})


def test_sequence_map_runs_body_per_element():
    body = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])],
        "body",
        [
            helper.make_tensor_value_info("a", FLOAT, None),
            helper.make_tensor_value_info("b", FLOAT, None),
        ],
        [helper.make_tensor_value_info("c", FLOAT, None)],
    )
    nodes = [
        helper.make_node("SequenceConstruct", ["x", "y"], ["s"]),
        helper.make_node("SequenceMap", ["s", "z"], ["m"], body=body),
        helper.make_node("ConcatFromSequence", ["m"], ["out"], axis=0),
    ]
    model = _model(nodes, XYZ, ["out"])
    out = run_wasm_rt(model, FEEDS)[0]
    np.testing.assert_array_equal(
        out, np.concatenate([FEEDS["x"] + FEEDS["z"], FEEDS["y"] + FEEDS["z"]])
    )


# --- Random ------------------------------------------------------------------


def _random_model(op, opset=21, inputs=(), **attrs):
    nodes = [helper.make_node(op, [n for n, _, _ in inputs], ["out"], **attrs)]
    return _model(nodes, list(inputs), ["out"], opset=opset)


@pytest.mark.parametrize(
    "op, attrs",
    [
        ("RandomNormal", {"shape": [1000], "mean": 2.0, "scale": 0.5}),
        ("RandomUniform", {"shape": [1000], "low": -1.0, "high": 3.0, "dtype": 11}),
    ],
)
def test_random_seeded_is_deterministic_and_in_distribution(op, attrs):
    model = _random_model(op, seed=3.0, **attrs)
    a, b = run_wasm_rt(model, {})[0], run_wasm_rt(model, {})[0]
    np.testing.assert_array_equal(a, b)
    ref = run_ort(model, {})[0]
    assert a.dtype == ref.dtype and a.shape == ref.shape
    assert abs(a.mean() - ref.mean()) < 0.15 and abs(a.std() - ref.std()) < 0.15


def test_bernoulli_and_multinomial_shapes():
    x = np.full((4, 250), 0.3, F32)
    model = _random_model("Bernoulli", inputs=[("x", FLOAT, [4, 250])], seed=1.0)
    out = run_wasm_rt(model, {"x": x})[0]
    assert out.dtype == F32 and out.shape == x.shape and 0.2 < out.mean() < 0.4
    logits = np.log(np.array([[0.2, 0.8], [1.0, 1e-9]], F32))
    model = _random_model(
        "Multinomial", opset=7, inputs=[("x", FLOAT, [2, 2])], sample_size=500, seed=1.0
    )
    out = run_wasm_rt(model, {"x": logits})[0]
    assert out.dtype == np.int32 and out.shape == (2, 500)
    assert 0.7 < out[0].mean() < 0.9 and out[1].max() == 0


# --- Strings -----------------------------------------------------------------


def _strings(*v):
    return np.array(v, dtype=object)


@pytest.mark.parametrize("action", ["NONE", "LOWER", "UPPER"])
@pytest.mark.parametrize("case_sensitive", [0, 1])
def test_string_normalizer(action, case_sensitive):
    x = _strings("The", "quick", "THE", "fox")
    check_op(
        "StringNormalizer",
        {"x": x},
        opset=10,
        case_change_action=action,
        is_case_sensitive=case_sensitive,
        stopwords=["the"],
        locale="C",  # onnxruntime fails without an installed en_US locale
    )


def test_string_normalizer_all_removed():
    check_op(
        "StringNormalizer",
        {"x": _strings("a", "A").reshape(1, 2)},
        opset=10,
        stopwords=["a"],
        locale="C",
    )


def test_string_concat_broadcast():
    check_op("StringConcat", {"x": _strings("a", "b "), "y": _strings("!")}, opset=20)


@pytest.mark.parametrize("delimiter, maxsplit", [(None, None), (",", None), (",", 1)])
def test_string_split(delimiter, maxsplit):
    attrs = {
        k: v
        for k, v in {"delimiter": delimiter, "maxsplit": maxsplit}.items()
        if v is not None
    }
    x = _strings("a,b,,c", "", "x y  z", "no")
    check_op("StringSplit", {"x": x}, outputs=2, opset=20, **attrs)


def test_regex_full_match():
    x = _strings("abc@x.com", "nope", "q@w.org")
    check_op("RegexFullMatch", {"x": x}, opset=20, pattern=r"\w+@\w+\.(com|org)")
