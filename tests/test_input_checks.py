"""Node inputs against the op's schema (wasm_rt/input_checks.py): each class of bad input
gives InvalidGraph naming node, op, input, expected and got; valid models are unaffected."""

import numpy as np
import pytest
from onnx import TensorProto as TP
from onnx import helper

import wasm_rt
from wasm_rt import dtypes
from wasm_rt.errors import InvalidGraph
from wasm_rt.input_checks import compile_check
from wasm_rt.ir import Node


def _model(nodes, inputs, inits=(), opset=17, outputs=("y",)) -> bytes:
    g = helper.make_graph(
        nodes, "g", inputs, [helper.make_empty_tensor_value_info(o) for o in outputs], list(inits)
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def _vi(name, elem=TP.FLOAT):
    return helper.make_tensor_value_info(name, elem, None)


F2 = np.ones(2, np.float32)


def test_required_input_missing_is_refused_at_load():
    nodes = [helper.make_node("Gemm", ["a", ""], ["y"], name="g1")]
    with pytest.raises(InvalidGraph, match=r"node 'g1' \(Gemm\).*at least 2 input.*got 1.*'B'"):
        wasm_rt.InferenceSession(_model(nodes, [_vi("a")]))


def test_required_input_left_empty_is_refused_at_load():
    nodes = [helper.make_node("Expand", ["", "s"], ["y"], name="e1")]
    with pytest.raises(InvalidGraph, match=r"node 'e1' \(Expand\).*input 0 \('input'\) is required"):
        wasm_rt.InferenceSession(_model(nodes, [_vi("s", TP.INT64)]))


def test_too_many_inputs_is_refused_at_load():
    nodes = [helper.make_node("Softmax", ["a", "a"], ["y"], name="s1")]
    with pytest.raises(InvalidGraph, match=r"node 's1' \(Softmax\).*at most 1 input.*got 2"):
        wasm_rt.InferenceSession(_model(nodes, [_vi("a")]))


def test_trailing_empty_optional_inputs_are_fine():
    nodes = [helper.make_node("Clip", ["a", "", ""], ["y"])]
    (y,) = wasm_rt.InferenceSession(_model(nodes, [_vi("a")])).run(None, {"a": F2})
    np.testing.assert_array_equal(y, F2)


def test_initializer_of_a_type_the_constraint_refuses_is_refused_at_load():
    # Mod's T has no bool; the initializer is known before running.
    init = helper.make_tensor("b", TP.BOOL, [1], [True])
    nodes = [helper.make_node("Mod", ["a", "b"], ["y"], name="m1")]
    with pytest.raises(
        InvalidGraph, match=r"node 'm1' \(Mod\) input 1 \('b', B\): expected .*got tensor\(bool\) "
    ):
        wasm_rt.InferenceSession(_model(nodes, [_vi("a")], [init]))


def test_mixed_dtypes_in_add_from_declared_inputs_are_refused_at_load():
    nodes = [helper.make_node("Add", ["a", "b"], ["y"], name="add")]
    with pytest.raises(
        InvalidGraph,
        match=r"node 'add' \(Add\) input 0 \('a', A\) and input 1 \('b', B\) share type "
        r"constraint T: expected one type, got tensor\(float\) and tensor\(int64\)",
    ):
        wasm_rt.InferenceSession(_model(nodes, [_vi("a"), _vi("b", TP.INT64)]))


def test_mixed_dtypes_in_add_at_run_time():
    # The int64 value is made by a node, so only the run sees it.
    nodes = [
        helper.make_node("Cast", ["a"], ["c"], to=TP.INT64),
        helper.make_node("Add", ["a", "c"], ["y"], name="add"),
    ]
    sess = wasm_rt.InferenceSession(_model(nodes, [_vi("a")]))
    with pytest.raises(
        InvalidGraph,
        match=r"node 'add' \(Add\) input 0 \('a', A\) and input 1 \('c', B\).*"
        r"got tensor\(float\) and tensor\(int64\)$",
    ):
        sess.run(None, {"a": F2})
    # The session stays usable for a valid model afterwards.
    ok = wasm_rt.InferenceSession(_model(nodes[1:], [_vi("a"), _vi("c")]))
    np.testing.assert_array_equal(ok.run(None, {"a": F2, "c": F2})[0], 2 * F2)


def test_wrong_dtype_at_run_time():
    nodes = [
        helper.make_node("Cast", ["a"], ["c"], to=TP.STRING),
        helper.make_node("Softmax", ["c"], ["y"], name="sm"),
    ]
    sess = wasm_rt.InferenceSession(_model(nodes, [_vi("a")]))
    with pytest.raises(
        InvalidGraph,
        match=r"node 'sm' \(Softmax\) input 0 \('c', input\): expected tensor\(bfloat16\), "
        r".*got tensor\(string\)",
    ):
        sess.run(None, {"a": F2})


def test_tensor_where_a_sequence_is_required():
    nodes = [helper.make_node("SequenceLength", ["a"], ["y"], name="sl")]
    with pytest.raises(
        InvalidGraph,
        match=r"node 'sl' \(SequenceLength\) input 0 \('a', input_sequence\): "
        r"expected seq\(tensor\(bool\)\).*got tensor\(float\)",
    ):
        wasm_rt.InferenceSession(_model(nodes, [_vi("a")]))
    # The same from a value made at run time (Identity's output type is not known statically).
    nodes = [helper.make_node("Identity", ["a"], ["t"]),
             helper.make_node("SequenceLength", ["t"], ["y"], name="sl")]
    sess = wasm_rt.InferenceSession(_model(nodes, [_vi("a")]))
    with pytest.raises(InvalidGraph, match=r"'sl' \(SequenceLength\) input 0 .*got tensor\(float\)"):
        sess.run(None, {"a": F2})


def test_sequence_where_a_tensor_is_required():
    nodes = [
        helper.make_node("SplitToSequence", ["a"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"], name="r"),
    ]
    sess = wasm_rt.InferenceSession(_model(nodes, [_vi("a")]))
    with pytest.raises(
        InvalidGraph, match=r"node 'r' \(Relu\) input 0 \('s', X\): expected tensor.*"
        r"got seq\(tensor\(float\)\)",
    ):
        sess.run(None, {"a": F2})


def test_empty_optional_where_a_tensor_is_required():
    nodes = [
        helper.make_node("Optional", [], ["o"], type=helper.make_tensor_type_proto(TP.FLOAT, [2])),
        helper.make_node("Relu", ["o"], ["y"], name="r"),
    ]
    sess = wasm_rt.InferenceSession(_model(nodes, [], opset=18))
    with pytest.raises(InvalidGraph, match=r"'r' \(Relu\) input 0 .*got no value \(an empty optional\)"):
        sess.run(None, {})


def test_sequences_optionals_and_lowprec_pass():
    nodes = [
        helper.make_node("SplitToSequence", ["a"], ["s"]),
        helper.make_node("SequenceInsert", ["s", "a1"], ["s2"]),
        helper.make_node("ConcatFromSequence", ["s2"], ["y"], axis=0),
    ]
    model = _model(nodes, [_vi("a"), helper.make_tensor_value_info("a1", TP.FLOAT, [1])])
    (y,) = wasm_rt.InferenceSession(model).run(
        None, {"a": F2, "a1": np.array([3], np.float32)}
    )
    np.testing.assert_array_equal(y, [1, 1, 3])
    # bfloat16 (a structured numpy dtype) through an op whose schema allows it.
    nodes = [helper.make_node("Add", ["a", "b"], ["y"])]
    sess = wasm_rt.InferenceSession(_model(nodes, [_vi("a", TP.BFLOAT16), _vi("b", TP.BFLOAT16)]))
    bf = np.zeros(2, dtypes.bfloat16)
    # Returned as ml_dtypes' bfloat16 where that is installed, else the structured dtype.
    assert "bfloat16" in str(sess.run(None, {"a": bf, "b": bf})[0].dtype)


def test_compiled_check_accepts_what_the_kernels_take():
    node = Node("n", "Add", "", ["a", "b"], ["y"], {})
    check = compile_check(node, 17)
    check([F2, F2])
    check([np.zeros(2, dtypes.bfloat16), np.zeros(2, dtypes.bfloat16)])
    check([np.float32(1), F2])  # numpy scalars are tensors
    with pytest.raises(InvalidGraph, match="got tensor\\(float\\) and tensor\\(double\\)"):
        check([F2, F2.astype(np.float64)])
    # Strings as numpy '<U' arrays count as tensor(string).
    concat = compile_check(Node("c", "Concat", "", ["a", "b"], ["y"], {"axis": 0}), 17)
    concat([np.array(["x"]), np.array(["y"], dtype=object)])
    # Ops without a schema in the table are not checked.
    assert compile_check(Node("n", "NoSuchOp", "", ["a"], ["y"], {}), 17) is None


def test_missing_required_attribute_is_refused_at_load():
    nodes = [helper.make_node("RandomUniform", [], ["y"], name="ru")]
    with pytest.raises(InvalidGraph, match=r"'ru' \(RandomUniform\).*attribute 'shape' is required"):
        wasm_rt.InferenceSession(_model(nodes, []))


def test_attribute_of_the_wrong_type_is_refused_at_load():
    nodes = [helper.make_node("MaxPool", ["a"], ["y"], name="mp", kernel_shape=2)]
    with pytest.raises(
        InvalidGraph,
        match=r"'mp' \(MaxPool\).*attribute 'kernel_shape': expected a list of ints, got int 2",
    ):
        wasm_rt.InferenceSession(_model(nodes, [_vi("a")]))


@pytest.mark.parametrize(
    "node, feeds, msg",
    [
        (helper.make_node("ArgMax", ["a"], ["y"]), {"a": np.float32(1)}, "rank >= 1, got a scalar"),
        (helper.make_node("Split", ["a"], ["y", "z"]), {"a": np.float32(1)}, "rank >= 1"),
        (helper.make_node("SplitToSequence", ["a"], ["y"]), {"a": np.float32(1)}, "rank >= 1"),
        (helper.make_node("LRN", ["a"], ["y"], size=-2), {"a": np.ones((1, 3, 2), np.float32)},
         "LRN: size must be positive, got -2"),
        (helper.make_node("LSTM", ["a", "w", "r"], ["y"], hidden_size=1), {
            "a": np.ones((1, 1, 1), np.float32), "w": np.float32(1), "r": np.float32(1)},
         "LSTM: W must have rank 3, got shape \\(\\)"),
        (helper.make_node("Pad", ["a", "p"], ["y"]), {"a": np.float32(1),
         "p": np.zeros(0, np.int64)}, "Pad: input must have rank >= 1"),
        (helper.make_node("Squeeze", ["a", "ax"], ["y"]), {"a": np.float32(1),
         "ax": np.array([0], np.int64)}, "axes \\[0\\] given for a scalar"),
        (helper.make_node("OneHot", ["i", "d", "v"], ["y"]), {
            "i": np.array([1], np.int64), "d": np.zeros(0, np.int64),
            "v": np.array([0, 1], np.float32)}, "depth must be a single value"),
        (helper.make_node("Trilu", ["a", "k"], ["y"]), {
            "a": np.ones((2, 2), np.float32), "k": np.zeros(0, np.int64)},
         "k must be a single value"),
    ],
    ids=["ArgMax", "Split", "SplitToSequence", "LRN", "LSTM", "Pad", "Squeeze", "OneHot", "Trilu"],
)
def test_what_the_schema_cannot_say_is_named_by_the_kernel(node, feeds, msg):
    # Shapes and values the type system cannot express: the kernel says what it needed.
    inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype),
                                            None) for k, v in feeds.items()]
    sess = wasm_rt.InferenceSession(_model([node], inputs, outputs=node.output))
    with pytest.raises(wasm_rt.Fail, match=msg) as e:
        sess.run(None, {k: np.asarray(v) for k, v in feeds.items()})
    assert isinstance(e.value.__cause__, ValueError)
