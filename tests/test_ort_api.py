"""onnxruntime's Python API beyond run(): OrtValue, SparseTensor, IOBinding, SessionOptions,
RunOptions, run_async, list feeds, module functions, optimized models, LoRA adapters.

Each behaviour is checked against onnxruntime doing the same thing (the oracle): same
values, same shapes/types, and the same exception class family where onnxruntime raises.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import threading

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import wasm_rt

X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)


def _mul_model(ir: int = 8) -> bytes:
    """Y = X * W, W an overridable initializer [3, 2]."""
    w = numpy_helper.from_array(np.full((3, 2), 2.0, np.float32), "W")
    g = helper.make_graph([helper.make_node("Mul", ["X", "W"], ["Y"], name="mul")], "g",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, [3, 2])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [3, 2])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = ir
    return m.SerializeToString()


def _both(model: bytes, feeds: dict, **kw):
    ours = wasm_rt.InferenceSession(model, **kw).run(None, feeds)
    theirs = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)
    return ours, theirs


# --- OrtValue ---------------------------------------------------------------------


def test_ortvalue_from_numpy_matches_onnxruntime_and_shares_memory():
    arr = X.copy()
    ours, theirs = wasm_rt.OrtValue.ortvalue_from_numpy(arr), ort.OrtValue.ortvalue_from_numpy(arr)
    for q in ("device_name", "shape", "data_type", "element_type", "is_tensor", "has_value",
              "is_sparse_tensor", "is_tensor_sequence", "tensor_size_in_bytes"):
        assert getattr(ours, q)() == getattr(theirs, q)(), q
    assert ours.data_ptr() == arr.ctypes.data == np.asarray(ours).ctypes.data
    arr[0, 0] = 42.0  # the value is a view of the array, as on onnxruntime's CPU device
    assert ours.numpy()[0, 0] == 42.0 == theirs.numpy()[0, 0]
    assert np.asarray(ours, dtype=np.float64).dtype == np.float64
    ours.update_inplace(np.zeros((3, 2), np.float32))
    assert not arr.any()
    with pytest.raises(wasm_rt.InvalidArgument):
        ours.update_inplace(np.zeros(5, np.float32))


def test_ortvalue_factories_and_refusals():
    v = wasm_rt.OrtValue.ortvalue_from_shape_and_type([2, 3], np.int64)
    assert (v.shape(), v.data_type()) == ([2, 3], "tensor(int64)")
    v = wasm_rt.OrtValue.ortvalue_from_shape_and_type([4], TensorProto.FLOAT16)
    assert v.data_type() == ort.OrtValue.ortvalue_from_shape_and_type([4], 10).data_type()
    bits = np.array([0x3F80, 0x4000], np.uint16)  # bfloat16 1.0, 2.0
    bf = wasm_rt.OrtValue.ortvalue_from_numpy_with_onnx_type(bits, TensorProto.BFLOAT16)
    assert bf.element_type() == TensorProto.BFLOAT16
    assert bf.data_type() == "tensor(bfloat16)"
    with pytest.raises(RuntimeError, match="non-string"):  # onnxruntime raises RuntimeError too
        wasm_rt.OrtValue.ortvalue_from_numpy(np.array(["a"]))
    with pytest.raises(wasm_rt.Fail, match="host memory"):
        wasm_rt.OrtValue.ortvalue_from_numpy(X, "cuda", 0)
    with pytest.raises(wasm_rt.InvalidArgument, match="reinterpreted"):
        wasm_rt.OrtValue.ortvalue_from_numpy_with_onnx_type(X, TensorProto.INT8)


def test_ortvalue_feeds_and_run_with_ort_values():
    model = _mul_model()
    sess = wasm_rt.InferenceSession(model)
    ov = wasm_rt.OrtValue.ortvalue_from_numpy(X)
    (y,) = sess.run(["Y"], {"X": ov})
    (ref,) = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"X": X})
    np.testing.assert_array_equal(y, ref)
    (out,) = sess.run_with_ort_values(["Y"], {"X": ov})
    assert isinstance(out, wasm_rt.OrtValue) and out.shape() == [3, 2]
    np.testing.assert_array_equal(out.numpy(), ref)
    np.testing.assert_array_equal(ov.numpy(), X)  # the input is unchanged


# --- SparseTensor -----------------------------------------------------------------


def test_sparse_coo_and_csr_match_onnxruntime():
    values = np.array([1.0, 2.0, 3.0], np.float32)
    lin = np.array([3, 5, 15], np.int64)
    for mod in (wasm_rt, ort):
        dev = mod.OrtDevice.make("cpu", 0)
        coo = mod.SparseTensor.sparse_coo_from_numpy([9, 9], values, lin, dev)
        assert (coo.dense_shape(), coo.data_type(), coo.device_name()) == (
            [9, 9], "sparse_tensor(float)", "cpu")
        assert int(coo.format()) == 1
        idx = coo.as_coo_view().indices()
        assert not idx.flags.writeable and idx.tolist() == [3, 5, 15]
        assert not coo.values().flags.writeable
        csr = mod.SparseTensor.sparse_csr_from_numpy(
            [3, 4], values, np.array([1, 0, 3], np.int64), np.array([0, 1, 1, 3], np.int64), dev)
        assert int(csr.format()) == 2
        assert csr.as_csrc_view().outer().tolist() == [0, 1, 1, 3]
        with pytest.raises(RuntimeError):
            coo.to_cuda(mod.OrtDevice.make("cuda", 0))
    dense = wasm_rt.SparseTensor.sparse_csr_from_numpy(
        [3, 4], values, np.array([1, 0, 3], np.int64), np.array([0, 1, 1, 3], np.int64),
        wasm_rt.OrtDevice.make("cpu", 0)).to_dense()
    np.testing.assert_array_equal(dense, [[0, 1, 0, 0], [0, 0, 0, 0], [2, 0, 0, 3]])
    with pytest.raises(wasm_rt.InvalidArgument, match="outside"):
        wasm_rt.SparseTensor.sparse_coo_from_numpy([2, 2], values, np.array([0, 1, 4], np.int64),
                                                   wasm_rt.OrtDevice.make("cpu", 0))


def test_devices_and_memory_infos_match_onnxruntime():
    for name in ("cpu", "cuda", "dml"):
        a, b = wasm_rt.OrtDevice.make(name, 0), ort.OrtDevice.make(name, 0)
        assert (a.device_type(), a.device_vendor_id(), a.device_mem_type(), a.device_id()) == (
            b.device_type(), b.device_vendor_id(), b.device_mem_type(), b.device_id())
    sess, ref = wasm_rt.InferenceSession(_mul_model()), ort.InferenceSession(_mul_model())
    (a,), (b,) = sess.get_input_memory_infos(), ref.get_input_memory_infos()
    assert (a.name, a.device_id, int(a.mem_type), int(a.allocator_type)) == (
        b.name, b.device_id, int(b.mem_type), int(b.allocator_type))
    for enum in ("ExecutionMode", "ExecutionOrder", "OrtAllocatorType", "OrtMemType",
                 "OrtSparseFormat", "OrtDeviceMemoryType", "OrtMemoryInfoDeviceType"):
        ours = {k: int(v) for k, v in getattr(wasm_rt, enum).__members__.items()}
        assert ours == {k: int(v) for k, v in getattr(ort, enum).__members__.items()}, enum


# --- IOBinding --------------------------------------------------------------------


def test_iobinding_matches_onnxruntime():
    model = _mul_model()
    results = []
    for mod in (wasm_rt, ort):
        sess = mod.InferenceSession(model, providers=["CPUExecutionProvider"])
        b = sess.io_binding()
        b.bind_cpu_input("X", X)
        b.bind_output("Y")
        b.synchronize_inputs()
        sess.run_with_iobinding(b)
        b.synchronize_outputs()
        results.append(b.copy_outputs_to_cpu()[0])
        assert b.get_outputs()[0].shape() == [3, 2]
        out = mod.OrtValue.ortvalue_from_shape_and_type([3, 2], np.float32)
        b.bind_ortvalue_output("Y", out)
        sess.run_with_iobinding(b)
        np.testing.assert_array_equal(out.numpy(), results[-1])  # filled in place
        with pytest.raises(RuntimeError, match="Failed to find NodeArg"):
            b.bind_cpu_input("nope", X)
    np.testing.assert_array_equal(results[0], results[1])


def test_iobinding_raw_host_pointers():
    sess = wasm_rt.InferenceSession(_mul_model())
    x, y = X.copy(), np.zeros((3, 2), np.float32)
    b = sess.io_binding()
    b.bind_input("X", "cpu", 0, np.float32, [3, 2], x.ctypes.data)
    b.bind_output("Y", "cpu", 0, np.float32, [3, 2], y.ctypes.data)
    sess.run_with_iobinding(b)
    np.testing.assert_array_equal(y, X * 2)
    assert ctypes.c_float.from_address(y.ctypes.data).value == 2.0
    b.clear_binding_outputs()
    with pytest.raises(wasm_rt.InvalidArgument, match="no outputs bound"):
        sess.run_with_iobinding(b)
    other = wasm_rt.InferenceSession(_mul_model())
    with pytest.raises(wasm_rt.InvalidArgument, match="session that created it"):
        other.run_with_iobinding(b)


# --- SessionOptions / RunOptions ----------------------------------------------------


def test_config_entries_as_onnxruntime():
    for mod in (wasm_rt, ort):
        so, ro = mod.SessionOptions(), mod.RunOptions()
        so.add_session_config_entry("session.disable_prepacking", "1")
        so.add_session_config_entry("my.key", "v")
        assert so.get_session_config_entry("my.key") == "v"
        ro.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        assert ro.get_run_config_entry("memory.enable_memory_arena_shrinkage") == "cpu:0"
        with pytest.raises(RuntimeError, match="does not have configuration with key: nokey"):
            so.get_session_config_entry("nokey")
        with pytest.raises(RuntimeError, match="RunOptions does not have configuration"):
            ro.get_run_config_entry("nokey")
        assert so.execution_mode == mod.ExecutionMode.ORT_SEQUENTIAL
        assert (so.log_severity_level, so.logid, ro.logid, ro.terminate) == (-1, "", "", False)
    so = wasm_rt.SessionOptions()
    with pytest.raises(wasm_rt.InvalidArgument, match="maximum length"):
        so.add_session_config_entry("k", "x" * 5000)
    so.add_session_config_entry("session.load_model_format", "ORT")
    with pytest.raises(wasm_rt.NotImplemented, match="ORT format"):
        wasm_rt.InferenceSession(_mul_model(), so)
    with pytest.raises(wasm_rt.NotImplemented, match="native custom-operator"):
        wasm_rt.SessionOptions().register_custom_ops_library("libcustom.so")


def _free_dims_model() -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "chan", 5])
    for dim, den in zip(x.type.tensor_type.shape.dim, ("DATA_BATCH", "DATA_CHANNEL", "")):
        dim.denotation = den
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    m = helper.make_model(helper.make_graph([helper.make_node("Abs", ["x"], ["y"])], "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString()


def test_free_dimension_overrides_as_onnxruntime():
    shapes = []
    for mod in (wasm_rt, ort):
        so = mod.SessionOptions()
        so.add_free_dimension_override_by_denotation("DATA_BATCH", 3)
        so.add_free_dimension_override_by_name("chan", 4)
        shapes.append(mod.InferenceSession(_free_dims_model(), so).get_inputs()[0].shape)
        sess = mod.InferenceSession(_free_dims_model(), so)
        with pytest.raises(mod.capi.onnxruntime_pybind11_state.InvalidArgument
                           if mod is ort else wasm_rt.InvalidArgument, match="dim|dimension"):
            sess.run(None, {"x": np.ones((2, 4, 5), np.float32)})
        assert sess.run(None, {"x": -np.ones((3, 4, 5), np.float32)})[0].min() == 1.0
    assert shapes[0] == shapes[1] == [3, 4, 5]


def test_add_initializer_and_external_initializers_match_onnxruntime():
    w = np.array([[2.0, 1.0], [4.0, 3.0], [6.0, 5.0]], np.float32)
    outs = []
    for mod in (wasm_rt, ort):
        so = mod.SessionOptions()
        keep = mod.OrtValue.ortvalue_from_numpy(w)  # onnxruntime needs it alive (a crash if not)
        so.add_initializer("W", keep)
        outs.append(mod.InferenceSession(_mul_model(), so, providers=["CPUExecutionProvider"])
                    .run(None, {"X": X})[0])
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], X * w)

    # A model whose bias lives in a file that is not there: supplied by name or as file bytes.
    bias_values = np.array([10, 20], np.int64)
    bias = numpy_helper.from_array(bias_values, "bias")
    onnx.external_data_helper.set_external_data(bias, "bias_not_on_disk.bin", 0, 16)
    bias.ClearField("raw_data")
    bias.data_location = TensorProto.EXTERNAL
    g = helper.make_graph([helper.make_node("Add", ["x", "bias"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.INT64, [2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, [2, 2])], [bias])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    data, x = model.SerializeToString(), np.array([[1, 2], [3, 4]], np.int64)
    raw = bias_values.tobytes()
    expected = x + bias_values
    results = []
    for mod in (wasm_rt, ort):
        so = mod.SessionOptions()
        keep = mod.OrtValue.ortvalue_from_numpy(bias_values)
        so.add_external_initializers(["bias"], [keep])
        results.append(mod.InferenceSession(data, so, providers=["CPUExecutionProvider"])
                       .run(None, {"x": x})[0])
    so = wasm_rt.SessionOptions()
    so.add_external_initializers_from_files_in_memory(["bias_not_on_disk.bin"], [raw], [len(raw)])
    results.append(wasm_rt.InferenceSession(data, so).run(None, {"x": x})[0])
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_session_options_from_model_config(monkeypatch):
    m = onnx.load_from_string(_mul_model())
    helper.set_model_props(m, {"ort_config": json.dumps({"session_options": {
        "inter_op_num_threads": 5, "intra_op_num_threads": 2, "graph_optimization_level": 1}})})
    data = m.SerializeToString()
    assert wasm_rt.InferenceSession(data).get_session_options().inter_op_num_threads == 0
    monkeypatch.setenv("ORT_LOAD_CONFIG_FROM_MODEL", "1")
    for mod in (wasm_rt, ort):
        so = mod.InferenceSession(data, providers=["CPUExecutionProvider"]).get_session_options()
        assert (so.inter_op_num_threads, so.intra_op_num_threads) == (5, 2)
        assert so.graph_optimization_level == mod.GraphOptimizationLevel.ORT_ENABLE_BASIC
    helper.set_model_props(m, {"ort_config": '{"session_options": {"bogus": 1}}'})
    with pytest.raises(wasm_rt.InvalidGraph, match="bogus"):
        wasm_rt.InferenceSession(m.SerializeToString())


# --- optimized models ----------------------------------------------------------------


def _foldable_conv_model() -> bytes:
    """Conv + BatchNormalization (fused by the optimizer) after a constant subgraph (folded)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
        ("scale", rng.uniform(0.5, 1.5, 4).astype(np.float32)),
        ("bias", rng.standard_normal(4).astype(np.float32)),
        ("mean", rng.standard_normal(4).astype(np.float32)),
        ("var", rng.uniform(0.5, 1.5, 4).astype(np.float32)),
        ("two", np.array(2.0, np.float32))]]
    nodes = [helper.make_node("Mul", ["w", "two"], ["w2"]),
             helper.make_node("Conv", ["x", "w2"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"]),
             helper.make_node("Relu", ["bn"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     ["n", 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)])
    m.ir_version = 8
    return m.SerializeToString()


@pytest.mark.parametrize("external", [False, True])
def test_optimized_model_round_trips_through_onnxruntime(tmp_path, external):
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    so = wasm_rt.SessionOptions()
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    if external:
        so.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                    "opt.bin")
        so.add_session_config_entry(
            "session.optimized_model_external_initializers_min_size_in_bytes", "64")
    sess = wasm_rt.InferenceSession(_foldable_conv_model(), so)
    (ours,) = sess.run(None, {"x": x})
    written = onnx.load(str(tmp_path / "opt.onnx"), load_external_data=False)
    assert [n.op_type for n in written.graph.node] == ["Conv", "Relu"]  # folded and fused
    assert len(written.graph.initializer) == 2  # the fused W and B only
    assert (tmp_path / "opt.bin").is_file() == external
    (theirs,) = ort.InferenceSession(str(tmp_path / "opt.onnx")).run(None, {"x": x})
    (original,) = ort.InferenceSession(_foldable_conv_model()).run(None, {"x": x})
    (again,) = wasm_rt.InferenceSession(str(tmp_path / "opt.onnx")).run(None, {"x": x})
    # float32 Conv sums in a different order after folding: a few ulps of |y| <= ~30
    np.testing.assert_allclose(theirs, original, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours, original, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(again, ours)


# --- InferenceSession methods -------------------------------------------------------


def _in_fresh_loop(coro):
    """asyncio.run in a thread of its own: Playwright's sync API (the browser tests,
    same pytest process) keeps an event loop running in the main thread."""
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", asyncio.run(coro)))
    thread.start()
    thread.join(30)
    return box["r"]


def test_run_async_callback_form_as_onnxruntime():
    model = _mul_model()
    for mod in (wasm_rt, ort):
        sess = mod.InferenceSession(model, providers=["CPUExecutionProvider"])
        got, done = [], threading.Event()

        def cb(results, data, err, got=got, done=done):
            got.append((results, data, err))
            done.set()

        assert sess.run_async(["Y"], {"X": X}, cb, "ud") is None
        assert done.wait(10)
        results, data, err = got[0]
        np.testing.assert_array_equal(results[0], X * 2)
        assert (data, err) == ("ud", "")
        done.clear()
        sess.run_async(["Y"], {"X": X.astype(np.float64)}, cb, 7)
        assert done.wait(10)
        assert got[1][0] == [] and got[1][1] == 7 and "tensor(double)" in got[1][2]
    sess = wasm_rt.InferenceSession(model)
    (y,) = _in_fresh_loop(sess.run_awaitable(None, {"X": X}))
    (y2,) = _in_fresh_loop(sess.run_async(None, {"X": X}))  # the awaitable form without a callback
    np.testing.assert_array_equal(y, y2)


def test_list_and_scalar_feeds_converted_to_the_declared_type():
    ours, theirs = _both(_mul_model(), {"X": [[1, 2], [3, 4], [5, 6]]})
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[0].dtype == np.float32
    with pytest.raises(wasm_rt.InvalidArgument):
        wasm_rt.InferenceSession(_mul_model()).run(None, {"X": [[1, 2], [3]]})
    g = helper.make_graph([helper.make_node("Neg", ["s"], ["t"])], "g",
                          [helper.make_tensor_value_info("s", TensorProto.INT32, [])],
                          [helper.make_tensor_value_info("t", TensorProto.INT32, [])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    (t,) = wasm_rt.InferenceSession(m.SerializeToString()).run(None, {"s": 5})
    assert t.dtype == np.int32 and t == -5


def test_missing_inputs_message_and_providers_as_onnxruntime():
    sess = wasm_rt.InferenceSession(_mul_model(), providers=["CPUExecutionProvider"])
    with pytest.raises(ValueError, match=r"Required inputs \(\['X'\]\) are missing from input feed"):
        sess.run(None, {})
    assert sess.get_providers() == ["CPUExecutionProvider"]
    assert sess.get_provider_options() == {"CPUExecutionProvider": {}}
    with pytest.raises(RuntimeError, match="Unknown Provider Type: InvalidProvider"):
        sess.set_providers(["InvalidProvider"])
    sess.set_providers(["NumpyExecutionProvider"])
    assert sess.get_providers() == ["NumpyExecutionProvider"]
    np.testing.assert_array_equal(sess.run(None, {"X": X})[0], X * 2)


def test_graph_assignment_and_profiling_start():
    so = wasm_rt.SessionOptions()
    with pytest.raises(wasm_rt.Fail, match="record_ep_graph_assignment_info"):
        wasm_rt.InferenceSession(_mul_model(), so).get_provider_graph_assignment_info()
    so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    sess = wasm_rt.InferenceSession(_mul_model(), so, providers=["CPUExecutionProvider"])
    (sub,) = sess.get_provider_graph_assignment_info()
    assert sub.ep_name == "CPUExecutionProvider"
    assert [(n.name, n.op_type, n.domain) for n in sub.get_nodes()] == [("mul", "Mul", "")]
    assert sess.get_profiling_start_time_ns() == 0
    so = wasm_rt.SessionOptions()
    so.enable_profiling = True
    a = wasm_rt.InferenceSession(_mul_model(), so).get_profiling_start_time_ns()
    b = wasm_rt.InferenceSession(_mul_model(), so).get_profiling_start_time_ns()
    assert 0 < a <= b


def test_module_functions():
    assert wasm_rt.get_version_string() == wasm_rt.__version__
    assert "Build Info" in wasm_rt.get_build_info() and "Build Info" in ort.get_build_info()
    assert wasm_rt.get_all_providers()[-1] == "CPUExecutionProvider"
    assert wasm_rt.get_device() == "CPU"
    wasm_rt.set_default_logger_severity(3)
    assert wasm_rt.environment.logger.level == 40  # logging.ERROR
    wasm_rt.set_default_logger_severity(2)
    with pytest.raises(wasm_rt.InvalidArgument, match="severity"):
        wasm_rt.set_default_logger_severity(7)
    wasm_rt.disable_telemetry_events()
    wasm_rt.enable_telemetry_events()
    cfg = wasm_rt.OrtArenaCfg({"max_mem": 16, "arena_extend_strategy": 1})
    assert (cfg.max_mem, cfg.arena_extend_strategy, wasm_rt.OrtArenaCfg(8, 0, 4, 2).max_dead_bytes_per_chunk) == (16, 1, 2)
    with pytest.raises(wasm_rt.InvalidArgument):
        wasm_rt.OrtArenaCfg({"nope": 1})


# --- LoRA adapters ---------------------------------------------------------------


def _lora_model() -> bytes:
    """y = x @ (w + a @ b): a, b overridable initializers a LoRA adapter replaces."""
    inits = [numpy_helper.from_array(np.eye(4, dtype=np.float32), "w"),
             numpy_helper.from_array(np.zeros((4, 2), np.float32), "a"),
             numpy_helper.from_array(np.zeros((2, 4), np.float32), "b")]
    nodes = [helper.make_node("MatMul", ["a", "b"], ["ab"]), helper.make_node("Add", ["w", "ab"], ["wf"]),
             helper.make_node("MatMul", ["x", "wf"], ["y"])]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4]),
              helper.make_tensor_value_info("a", TensorProto.FLOAT, [4, "r"]),
              helper.make_tensor_value_info("b", TensorProto.FLOAT, ["r", 4])]
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString()


def test_adapters_written_by_either_runtime_are_read_by_both(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 2)).astype(np.float32)
    b = rng.standard_normal((2, 4)).astype(np.float32)
    x = rng.standard_normal((4, 4)).astype(np.float32)
    outs = {}
    for writer in (wasm_rt, ort):
        path = str(tmp_path / f"{writer.__name__}.onnx_adapter")
        fmt = writer.AdapterFormat()
        fmt.set_adapter_version(3)
        fmt.set_model_version(2)
        fmt.set_parameters({"a": writer.OrtValue.ortvalue_from_numpy(a),
                            "b": writer.OrtValue.ortvalue_from_numpy(b)})
        fmt.export_adapter(path)
        for reader in (wasm_rt, ort):
            back = reader.AdapterFormat.read_adapter(path)
            assert (back.get_adapter_version(), back.get_model_version()) == (3, 2)
            params = back.get_parameters()
            np.testing.assert_array_equal(params["a"].numpy(), a)
            np.testing.assert_array_equal(params["b"].numpy(), b)
            adapter = reader.LoraAdapter()
            adapter.Load(path)
            ro = reader.RunOptions()
            ro.add_active_adapter(adapter)
            sess = reader.InferenceSession(_lora_model(), providers=["CPUExecutionProvider"])
            outs[(writer.__name__, reader.__name__)] = sess.run(None, {"x": x}, ro)[0]
            np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x)  # base model
    for y in outs.values():
        np.testing.assert_allclose(y, x @ (np.eye(4) + a @ b), rtol=1e-5, atol=1e-5)
    with open(tmp_path / "bad.onnx_adapter", "wb") as f:
        f.write(b"\x0c\x00\x00\x00TORT" + b"\xff" * 8)
    with pytest.raises(wasm_rt.InvalidArgument, match="corrupt|truncated"):
        wasm_rt.AdapterFormat.read_adapter(str(tmp_path / "bad.onnx_adapter"))


def test_sequence_outputs_as_ortvalues_match_onnxruntime():
    g = helper.make_graph([helper.make_node("SequenceConstruct", ["a", "b"], ["s"])], "g",
                          [helper.make_tensor_value_info("a", TensorProto.INT64, [2]),
                           helper.make_tensor_value_info("b", TensorProto.INT64, [2])],
                          [helper.make_tensor_sequence_value_info("s", TensorProto.INT64, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    feeds = {"a": np.array([1, 2], np.int64), "b": np.array([3, 4], np.int64)}
    (ours,) = wasm_rt.InferenceSession(m.SerializeToString()).run_with_ort_values(None, feeds)
    (theirs,) = ort.InferenceSession(m.SerializeToString()).run_with_ort_values(
        None, {k: ort.OrtValue.ortvalue_from_numpy(v) for k, v in feeds.items()})
    for q in ("is_tensor", "is_tensor_sequence", "has_value", "data_type"):
        assert getattr(ours, q)() == getattr(theirs, q)(), q
    with pytest.raises(RuntimeError):
        ours.numpy()
