"""The onnxruntime-compatible session API: loading, validation, errors, profiling."""

from __future__ import annotations

import io
import json
import os
import tracemalloc

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

import wasm_rt
from oracle import run_ort


def _model(nodes, inputs, outputs, inits=(), opset=17, **kw) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], **kw)
    m.ir_version = 8
    return m


def _add_model():
    x = helper.make_tensor_value_info("x", T.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", T.FLOAT, ["N", 3])
    w = numpy_helper.from_array(np.arange(3, dtype=np.float32), "w")
    return _model([helper.make_node("Add", ["x", "w"], ["y"], name="add0")], [x], [y], [w])


X = np.array([[1, 2, 3], [4, 5, 6]], np.float32)


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "path", "pathlike", "file"])
def test_load_from_every_source(tmp_path, kind):
    data = _add_model().SerializeToString()
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    src = {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "path": str(path),
        "pathlike": path,
        "file": open(path, "rb"),
    }[kind]
    sess = wasm_rt.InferenceSession(src)
    np.testing.assert_array_equal(sess.run(None, {"x": X})[0], X + np.arange(3))
    if kind == "file":
        src.close()


def test_node_args_and_metadata():
    m = _add_model()
    m.producer_name = "unit-test"
    m.model_version = 7
    m.doc_string = "a model"
    helper.set_model_props(m, {"author": "wasm_rt"})
    sess = wasm_rt.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert (inp.name, inp.type, inp.shape) == ("x", "tensor(float)", ["N", 3])
    assert sess.get_outputs()[0].type == "tensor(float)"
    # Reported under the name it was requested by, as onnxruntime reports it.
    assert sess.get_providers() == ["CPUExecutionProvider"]
    meta = sess.get_modelmeta()
    assert (meta.producer_name, meta.version, meta.description) == ("unit-test", 7, "a model")
    assert meta.custom_metadata_map == {"author": "wasm_rt"}
    assert meta.graph_name == "g"
    assert wasm_rt.get_available_providers()[-1] == "CPUExecutionProvider"
    assert wasm_rt.get_all_providers()[-1] == "CPUExecutionProvider"


def test_unknown_provider_is_rejected():
    with pytest.raises(wasm_rt.InvalidArgument, match="NoSuchExecutionProvider"):
        wasm_rt.InferenceSession(_add_model().SerializeToString(), providers=["NoSuchExecutionProvider"])


@pytest.mark.parametrize(
    "feed, pattern",
    [
        ({"x": X.astype(np.float64)}, r"input 'x': expected tensor\(float\), got tensor\(double\)"),
        ({"x": X[:, :2]}, r"input 'x': dimension 1 must be 3"),
        ({"x": X[0]}, r"input 'x': expected rank 2"),
        ({}, r"Required inputs \(\[.x.\]\) are missing from input feed \(\[\]\)"),
        ({"x": X, "nope": X}, r"unknown input name\(s\) \['nope'\]"),
        ({"x": "text"}, r"input 'x': expected a numpy array"),
    ],
)
def test_run_rejects_bad_feeds_and_stays_usable(feed, pattern):
    sess = wasm_rt.InferenceSession(_add_model().SerializeToString())
    with pytest.raises(wasm_rt.InvalidArgument, match=pattern):
        sess.run(None, feed)
    assert sess.run(None, {"x": X})[0].shape == (2, 3)


def test_unknown_output_name():
    sess = wasm_rt.InferenceSession(_add_model().SerializeToString())
    with pytest.raises(wasm_rt.InvalidArgument, match=r"unknown output name\(s\) \['z'\]"):
        sess.run(["z"], {"x": X})


def test_all_unsupported_ops_listed_at_creation():
    x = helper.make_tensor_value_info("x", T.FLOAT, [1])
    y = helper.make_tensor_value_info("y", T.FLOAT, [1])
    nodes = [
        helper.make_node("FancyOp", ["x"], ["a"], name="f1", domain="com.example"),
        helper.make_node("NoSuchOp", ["a"], ["b"], name="n1"),
        helper.make_node("NoSuchOp", ["b"], ["y"], name="n2"),
    ]
    m = _model(nodes, [x], [y])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(wasm_rt.NotImplemented) as info:
        wasm_rt.InferenceSession(m.SerializeToString())
    msg = str(info.value)
    assert "FancyOp (domain 'com.example', opset 1): nodes 'f1'" in msg
    assert "NoSuchOp (domain 'ai.onnx', opset 17): nodes 'n1', 'n2'" in msg


def test_kernel_failure_names_node():
    x = helper.make_tensor_value_info("x", T.FLOAT, None)
    s = helper.make_tensor_value_info("s", T.INT64, None)
    y = helper.make_tensor_value_info("y", T.FLOAT, None)
    m = _model([helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape_me")], [x, s], [y])
    sess = wasm_rt.InferenceSession(m.SerializeToString())
    with pytest.raises(wasm_rt.Fail, match=r"node 'reshape_me' \(Reshape\) failed"):
        sess.run(None, {"x": X, "s": np.array([4, 4], np.int64)})
    assert sess.run(None, {"x": X, "s": np.array([3, 2], np.int64)})[0].shape == (3, 2)


@pytest.mark.parametrize("cut", [1, 10, 0.5, -3])
def test_truncated_model_gives_load_error(cut):
    data = _add_model().SerializeToString()
    n = int(len(data) * cut) if isinstance(cut, float) else cut
    with pytest.raises(wasm_rt.WasmRtError):
        wasm_rt.InferenceSession(data[:n])


def test_not_a_model():
    with pytest.raises(wasm_rt.InvalidProtobuf, match="empty"):
        wasm_rt.InferenceSession(b"")
    with pytest.raises(wasm_rt.NoSuchFile, match="not found"):
        wasm_rt.InferenceSession("/nonexistent/model.onnx")
    with pytest.raises(wasm_rt.InvalidArgument, match="cannot load a model from int"):
        wasm_rt.InferenceSession(42)


def test_graph_errors():
    x = helper.make_tensor_value_info("x", T.FLOAT, [1])
    y = helper.make_tensor_value_info("y", T.FLOAT, [1])
    dangling = _model([helper.make_node("Add", ["x", "ghost"], ["y"], name="a")], [x], [y])
    with pytest.raises(wasm_rt.InvalidGraph, match="reads 'ghost'"):
        wasm_rt.InferenceSession(dangling.SerializeToString())
    cycle = _model(
        [helper.make_node("Add", ["x", "b"], ["a"], name="n1"), helper.make_node("Add", ["a", "x"], ["b"], name="n2"),
         helper.make_node("Identity", ["a"], ["y"])],
        [x], [y],
    )
    with pytest.raises(wasm_rt.InvalidGraph, match="cycle"):
        wasm_rt.InferenceSession(cycle.SerializeToString())


def test_nodes_out_of_order_are_sorted():
    x = helper.make_tensor_value_info("x", T.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", T.FLOAT, [2, 3])
    m = _model(
        [helper.make_node("Add", ["a", "a"], ["y"]), helper.make_node("Add", ["x", "x"], ["a"])], [x], [y]
    )
    np.testing.assert_array_equal(wasm_rt.InferenceSession(m.SerializeToString()).run(None, {"x": X})[0], 4 * X)


# --- external data -----------------------------------------------------------


def _external_model(tmp_path, location):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = numpy_helper.from_array(w, "w")
    t.ClearField("raw_data")
    t.data_location = T.EXTERNAL
    for k, v in {"location": location, "offset": "8", "length": str(w.nbytes)}.items():
        t.external_data.add(key=k, value=v)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 8 + w.tobytes())
    x = helper.make_tensor_value_info("x", T.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", T.FLOAT, [2, 3])
    m = _model([helper.make_node("Add", ["x", "w"], ["y"])], [x], [y], [t])
    path = tmp_path / "model.onnx"
    path.write_bytes(m.SerializeToString())
    return path, w


def test_external_data_from_model_folder(tmp_path):
    path, w = _external_model(tmp_path, "weights.bin")
    np.testing.assert_array_equal(wasm_rt.InferenceSession(str(path)).run(None, {"x": X})[0], X + w)


def test_external_data_from_mapping(tmp_path):
    path, w = _external_model(tmp_path, "weights.bin")
    data = path.read_bytes()
    with pytest.raises(wasm_rt.InvalidArgument, match="external_data="):
        wasm_rt.InferenceSession(data)
    sess = wasm_rt.InferenceSession(data, external_data={"weights.bin": (tmp_path / "weights.bin").read_bytes()})
    np.testing.assert_array_equal(sess.run(None, {"x": X})[0], X + w)


@pytest.mark.parametrize("location", ["../weights.bin", "/etc/passwd", "sub/../../weights.bin"])
def test_external_data_cannot_escape_model_folder(tmp_path, location):
    inner = tmp_path / "inner"
    inner.mkdir()
    path, _ = _external_model(inner, location)
    with pytest.raises(wasm_rt.InvalidGraph, match="absolute path|escapes the model's folder"):
        wasm_rt.InferenceSession(str(path))


def test_external_data_symlink_escape_is_refused(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    path, _ = _external_model(inner, "link.bin")
    os.symlink(tmp_path / "secret.bin", inner / "link.bin")
    (tmp_path / "secret.bin").write_bytes(b"\0" * 64)
    with pytest.raises(wasm_rt.InvalidGraph, match="escapes"):
        wasm_rt.InferenceSession(str(path))


def test_external_data_out_of_range(tmp_path):
    path, _ = _external_model(tmp_path, "weights.bin")
    (tmp_path / "weights.bin").write_bytes(b"\0" * 10)
    with pytest.raises(wasm_rt.InvalidGraph, match="runs past the end"):
        wasm_rt.InferenceSession(str(path))


def test_initializer_size_mismatch_is_reported():
    m = _add_model()
    m.graph.initializer[0].raw_data = b"\0" * 5
    with pytest.raises(wasm_rt.InvalidGraph, match="needs 12 bytes of data, found 5"):
        wasm_rt.InferenceSession(m.SerializeToString())


# --- memory ------------------------------------------------------------------


def test_memory_limit_checked_before_allocating():
    shape = helper.make_tensor_value_info("s", T.INT64, [2])
    y = helper.make_tensor_value_info("y", T.FLOAT, None)
    m = _model([helper.make_node("ConstantOfShape", ["s"], ["y"], name="huge")], [shape], [y])
    opts = wasm_rt.SessionOptions()
    opts.memory_limit = 1 << 20
    sess = wasm_rt.InferenceSession(m.SerializeToString(), opts)
    with pytest.raises(wasm_rt.MemoryLimitError, match="node 'huge'.*above the memory limit"):
        sess.run(None, {"s": np.array([1 << 20, 1 << 20], np.int64)})
    assert sess.run(None, {"s": np.array([2, 2], np.int64)})[0].shape == (2, 2)


def test_initializer_over_memory_limit_refused():
    opts = wasm_rt.SessionOptions()
    opts.memory_limit = 8
    with pytest.raises(wasm_rt.MemoryLimitError, match="tensor 'w'"):
        wasm_rt.InferenceSession(_add_model().SerializeToString(), opts)


def test_intermediates_released_after_last_use():
    """Peak memory follows live tensors: a 20-node chain holds ~2 tensors, not 20."""
    n = 20
    x = helper.make_tensor_value_info("x", T.FLOAT, [1 << 20])
    y = helper.make_tensor_value_info("y", T.FLOAT, [1 << 20])
    names = ["x"] + [f"t{i}" for i in range(n - 1)] + ["y"]
    nodes = [helper.make_node("Add", [names[i], names[i]], [names[i + 1]]) for i in range(n)]
    opts = wasm_rt.SessionOptions()
    opts.graph_optimization_level = wasm_rt.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = wasm_rt.InferenceSession(_model(nodes, [x], [y]).SerializeToString(), opts)
    feed = {"x": np.ones(1 << 20, np.float32)}
    tracemalloc.start()
    sess.run(None, feed)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tensor = 4 << 20
    # The output, one live intermediate and the one being computed.
    assert peak < 3.5 * tensor, f"peak {peak / tensor:.1f} tensors"


# --- control flow ------------------------------------------------------------


def test_if_and_loop_see_outer_scope_match_onnxruntime():
    x = helper.make_tensor_value_info("x", T.FLOAT, [2, 3])
    c = helper.make_tensor_value_info("c", T.BOOL, [])
    n = helper.make_tensor_value_info("n", T.INT64, [])
    y = helper.make_tensor_value_info("y", T.FLOAT, [2, 3])
    z = helper.make_tensor_value_info("z", T.FLOAT, [2, 3])
    sc = helper.make_tensor_value_info("scan", T.FLOAT, None)
    then_g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", T.FLOAT, [2, 3])])
    else_g = helper.make_graph([helper.make_node("Mul", ["x", "x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", T.FLOAT, [2, 3])])
    body = helper.make_graph(
        [helper.make_node("Add", ["acc_in", "x"], ["acc_out"]), helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["acc_out"], ["each"])],
        "body",
        [helper.make_tensor_value_info("i", T.INT64, []), helper.make_tensor_value_info("cond_in", T.BOOL, []),
         helper.make_tensor_value_info("acc_in", T.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("cond_out", T.BOOL, []), helper.make_tensor_value_info("acc_out", T.FLOAT, [2, 3]),
         helper.make_tensor_value_info("each", T.FLOAT, [2, 3])],
    )
    nodes = [
        helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
        helper.make_node("Loop", ["n", "", "y"], ["z", "scan"], body=body),
    ]
    m = _model(nodes, [x, c, n], [y, z, sc]).SerializeToString()
    sess = wasm_rt.InferenceSession(m)
    for cond, trips in [(True, 3), (False, 0), (False, 5)]:
        feeds = {"x": X, "c": np.array(cond), "n": np.array(trips, np.int64)}
        ours, theirs = sess.run(None, feeds), run_ort(m, feeds)
        for a, b in zip(ours[:2], theirs[:2]):
            np.testing.assert_array_equal(a, b)
        if trips:
            np.testing.assert_array_equal(ours[2], theirs[2])


# --- optimizer ---------------------------------------------------------------


def _foldable_model():
    x = helper.make_tensor_value_info("x", T.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", T.FLOAT, [2, 3])
    a = numpy_helper.from_array(np.full((3,), 2, np.float32), "a")
    b = numpy_helper.from_array(np.full((3,), 5, np.float32), "b")
    nodes = [
        helper.make_node("Mul", ["a", "b"], ["ab"], name="const_mul"),  # foldable
        helper.make_node("Add", ["x", "ab"], ["y"], name="add"),
        helper.make_node("Sub", ["x", "a"], ["unused"], name="dead"),  # dead
    ]
    return _model(nodes, [x], [y], [a, b]).SerializeToString()


@pytest.mark.parametrize("level", list(wasm_rt.GraphOptimizationLevel))
def test_every_optimization_level_matches_disabled(level):
    def run(lv):
        opts = wasm_rt.SessionOptions()
        opts.graph_optimization_level = lv
        sess = wasm_rt.InferenceSession(_foldable_model(), opts)
        return sess, sess.run(None, {"x": X})[0]

    base_sess, base = run(wasm_rt.GraphOptimizationLevel.ORT_DISABLE_ALL)
    sess, out = run(level)
    np.testing.assert_array_equal(out, base)
    placed = [name for name, _, _ in sess.node_placement()]
    if level >= wasm_rt.GraphOptimizationLevel.ORT_ENABLE_BASIC:
        assert placed == ["add"]
        assert sess.applied_optimizations == ["constant_folding", "dead_node_elimination"]
    else:
        assert len(placed) == 3


def test_overridable_initializer_is_not_folded():
    x = helper.make_tensor_value_info("x", T.FLOAT, [3])
    w_in = helper.make_tensor_value_info("w", T.FLOAT, [3])
    y = helper.make_tensor_value_info("y", T.FLOAT, [3])
    w = numpy_helper.from_array(np.ones(3, np.float32), "w")
    m = _model([helper.make_node("Add", ["w", "w"], ["w2"]), helper.make_node("Add", ["x", "w2"], ["y"])],
               [x, w_in], [y], [w])
    sess = wasm_rt.InferenceSession(m.SerializeToString())
    assert [a.name for a in sess.get_inputs()] == ["x"]
    assert [a.name for a in sess.get_overridable_initializers()] == ["w"]
    x0 = np.zeros(3, np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x0})[0], 2 * np.ones(3))
    np.testing.assert_array_equal(sess.run(None, {"x": x0, "w": np.full(3, 3, np.float32)})[0], np.full(3, 6))


# --- profiling ---------------------------------------------------------------


def test_profiling_writes_chrome_trace(tmp_path):
    opts = wasm_rt.SessionOptions()
    opts.enable_profiling = True
    opts.profile_file_prefix = str(tmp_path / "prof_")
    opts.graph_optimization_level = wasm_rt.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = wasm_rt.InferenceSession(_foldable_model(), opts)
    sess.run(None, {"x": X})
    path = sess.end_profiling()
    events = json.load(open(path))
    nodes = [e for e in events if e["cat"] == "Node"]
    assert {e["name"] for e in nodes} == {"const_mul_kernel_time", "add_kernel_time", "dead_kernel_time"}
    for e in nodes:
        assert e["ph"] == "X" and e["dur"] >= 0 and e["args"]["provider"] == "NumpyExecutionProvider"
        assert e["args"]["op_name"] in {"Mul", "Add", "Sub"}
    assert any(e["name"] == "model_run" for e in events)


def test_profiling_off_returns_empty():
    assert wasm_rt.InferenceSession(_add_model().SerializeToString()).end_profiling() == ""


def test_binary_file_object_required():
    with pytest.raises(wasm_rt.InvalidArgument, match="binary mode"):
        wasm_rt.InferenceSession(io.StringIO("not bytes"))


def test_failure_inside_subgraph_names_inner_node_once():
    x = helper.make_tensor_value_info("x", T.FLOAT, None)
    s = helper.make_tensor_value_info("s", T.INT64, None)
    c = helper.make_tensor_value_info("c", T.BOOL, [])
    y = helper.make_tensor_value_info("y", T.FLOAT, None)
    then_g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["t"], name="inner_reshape")], "then", [],
                               [helper.make_tensor_value_info("t", T.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", T.FLOAT, None)])
    m = _model([helper.make_node("If", ["c"], ["y"], name="outer_if", then_branch=then_g, else_branch=else_g)],
               [x, s, c], [y])
    sess = wasm_rt.InferenceSession(m.SerializeToString())
    with pytest.raises(wasm_rt.Fail) as info:
        sess.run(None, {"x": X, "s": np.array([5], np.int64), "c": np.array(True)})
    assert str(info.value).startswith("node 'inner_reshape' (Reshape) failed")
    assert str(info.value).count("failed (kernel") == 1


def test_ir3_initializers_listed_as_inputs_are_constants():
    """Before IR 4 every initializer is also a graph input; like onnxruntime, they are
    constants there (foldable, not feedable), not overridable defaults."""
    x = helper.make_tensor_value_info("x", T.FLOAT, [3])
    w_in = helper.make_tensor_value_info("w", T.FLOAT, [3])
    y = helper.make_tensor_value_info("y", T.FLOAT, [3])
    w = numpy_helper.from_array(np.ones(3, np.float32), "w")
    m = _model([helper.make_node("Add", ["w", "w"], ["w2"], name="fold_me"), helper.make_node("Add", ["x", "w2"], ["y"])],
               [x, w_in], [y], [w])
    m.ir_version = 3
    sess = wasm_rt.InferenceSession(m.SerializeToString())
    assert [a.name for a in sess.get_inputs()] == ["x"] and sess.get_overridable_initializers() == []
    assert "fold_me" not in [n for n, _, _ in sess.node_placement()]
    with pytest.raises(wasm_rt.InvalidArgument, match=r"unknown input name\(s\) \['w'\]"):
        sess.run(None, {"x": np.zeros(3, np.float32), "w": np.ones(3, np.float32)})


def test_conv_batchnorm_fusion_matches_unfused():
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", T.FLOAT, [2, 3, 8, 8])
    y = helper.make_tensor_value_info("y", T.FLOAT, None)
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in {
        "W": rng.standard_normal((4, 3, 3, 3)), "B": rng.standard_normal(4),
        "gamma": rng.uniform(0.5, 2, 4), "beta": rng.standard_normal(4),
        "mean": rng.standard_normal(4), "var": rng.uniform(0.1, 2, 4)}.items()]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"], epsilon=1e-3)]
    m = _model(nodes, [x], [y], inits).SerializeToString()
    feed = {"x": rng.standard_normal((2, 3, 8, 8)).astype(np.float32)}
    opts = wasm_rt.SessionOptions()
    opts.graph_optimization_level = wasm_rt.GraphOptimizationLevel.ORT_DISABLE_ALL
    plain = wasm_rt.InferenceSession(m, opts).run(None, feed)[0]
    fused_sess = wasm_rt.InferenceSession(m)
    assert "conv_batchnorm_fusion" in fused_sess.applied_optimizations
    assert [op for _, op, _ in fused_sess.node_placement()] == ["Conv"]
    # One float32 rounding of the folded weights vs rounding after conv and after BN.
    np.testing.assert_allclose(fused_sess.run(None, feed)[0], plain, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fused_sess.run(None, feed)[0], run_ort(m, feed)[0], rtol=1e-5, atol=1e-5)


def _run_coroutine(coro):
    """asyncio.run in a worker thread: the browser tests' Playwright keeps an event
    loop running in the main thread of the same pytest process."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_run_async_and_placement_report_on_numpy():
    sess = wasm_rt.InferenceSession(_add_model().SerializeToString())
    (y,) = _run_coroutine(sess.run_async(None, {"x": X}))
    np.testing.assert_array_equal(y, sess.run(None, {"x": X})[0])
    with pytest.raises(wasm_rt.InvalidArgument, match="Required inputs"):
        _run_coroutine(sess.run_async(None, {}))
    report = sess.placement_report()
    assert report["total_nodes"] == 1 and report["nodes"][0]["provider"] == "NumpyExecutionProvider"


def test_webgpu_without_device_falls_back_with_warning():
    with pytest.warns(RuntimeWarning, match="WebGpuExecutionProvider: .*running on numpy"):
        sess = wasm_rt.InferenceSession(_add_model().SerializeToString(), providers=["WebGpuExecutionProvider"])
    assert sess.get_providers() == ["NumpyExecutionProvider"]
    np.testing.assert_array_equal(sess.run(None, {"x": X})[0], X + np.arange(3))
    with pytest.raises(wasm_rt.NotImplemented, match="WebGpuExecutionProvider"):
        wasm_rt.InferenceSession(_add_model().SerializeToString(),
                                 providers=[("WebGpuExecutionProvider", {"strict": True})])
