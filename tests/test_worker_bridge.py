"""The Python half of the JS API on the desktop: session options from the page, 4-bit tensors."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from wasm_rt.site import worker_bridge as wb


def _in_fresh_loop(coro):
    """asyncio.run in a thread of its own: Playwright's sync API (the browser tests,
    same pytest process) keeps an event loop running in the main thread."""
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", asyncio.run(coro)))
    thread.start()
    thread.join(60)
    return box["r"]


def _matmul_model(ir_version=8):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    w = numpy_helper.from_array(np.arange(9, dtype=np.float32).reshape(3, 3), "W")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g", [x], [y], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                             ir_version=ir_version)


def test_page_options_reach_the_session():
    options = {"graphOptimizationLevel": "ORT_DISABLE_ALL", "executionMode": "ORT_PARALLEL",
               "logSeverityLevel": 3, "logId": "page", "freeDimensionOverrides": {"batch": 2},
               "config": [["session.custom_key", "1"]], "enableProfiling": False}
    so = wb.session_options(options)
    assert so.graph_optimization_level.name == "ORT_DISABLE_ALL"
    assert so.execution_mode.name == "ORT_PARALLEL"
    assert so.log_severity_level == 3 and so.logid == "page"
    assert so.get_session_config_entry("session.custom_key") == "1"
    r = _in_fresh_loop(wb.create(901, _matmul_model().SerializeToString(), options, []))
    assert r["ok"]["inputMetadata"] == [{"name": "x", "isTensor": True, "type": "float32",
                                         "onnxType": "tensor(float)", "shape": [2, 3]}]
    wb.release(901)


def test_external_data_files_from_the_page(tmp_path):
    import onnx

    onnx.save_model(_matmul_model(), str(tmp_path / "m.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="w.bin", size_threshold=0)
    files = [["w.bin", (tmp_path / "w.bin").read_bytes()]]
    r = _in_fresh_loop(wb.create(902, (tmp_path / "m.onnx").read_bytes(), {}, files))
    assert "ok" in r, r
    x = np.array([[1, 2, 3]], np.float32)
    out = _in_fresh_loop(wb.run(902, [["x", "float32", [1, 3], x.tobytes()]]))
    expected = onnxruntime.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x})[0]
    got = np.frombuffer(out["ok"]["outputs"][0]["data"].tobytes(), np.float32)
    np.testing.assert_array_equal(got, expected.ravel())
    wb.release(902)


@pytest.mark.parametrize("type_name, values", [("int4", [1, 2, -8, -1, 7]), ("uint4", [1, 2, 8, 15, 7])])
def test_4bit_tensors_round_trip_packed(type_name, values):
    packed = bytes([0x21, 0xF8, 0x07])  # low nibble first, as ONNX packs them
    arr = wb.feed_to_numpy(type_name, [5], packed)
    assert arr.view(np.int8 if type_name == "int4" else np.uint8).tolist() == values
    out = wb.output_to_js("o", arr)
    assert out["type"] == type_name and out["dims"] == [5] and out["data"].tobytes() == packed


def test_4bit_feed_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="needs 3 bytes, got 2"):
        wb.feed_to_numpy("int4", [5], bytes(2))
