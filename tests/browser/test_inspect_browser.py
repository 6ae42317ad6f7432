"""InferenceSession.inspect(url, {dims}) in a real browser: the report comes from the
.onnx alone; the external data file is never requested (here it does not even exist)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import wasm_rt


@pytest.fixture(scope="module")
def big_model(site):
    """A float32 [8192, 16384] weight (512 MiB) stored in 'big.bin', which is not served,
    and an operator no runtime has."""
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[8192, 16384])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "big.bin"), ("offset", "0"), ("length", str(8192 * 16384 * 4))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["h"], name="gemm", transB=1),
         helper.make_node("Relu", ["h"], ["r"], name="relu"),
         helper.make_node("Sparkle", ["r"], ["y"], name="sparkle")],
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16384])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w, numpy_helper.from_array(np.zeros(3, np.int64), "unused")],
    )
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    models = site / "test-models"
    models.mkdir(exist_ok=True)
    (models / "inspect_big.onnx").write_bytes(model.SerializeToString())
    return model


def test_inspect_reads_only_the_onnx(rt_page, big_model):
    requests = []
    rt_page.context.on("request", lambda r: requests.append(r.url))
    report = rt_page.evaluate("""async () => {
      const t0 = performance.now();
      const r = await wasm_rt.InferenceSession.inspect("test-models/inspect_big.onnx",
                                                      { dims: { batch: 4 } });
      r.pageMs = performance.now() - t0;
      return r;
    }""")
    assert not any("big.bin" in u for u in requests), requests
    assert any(u.endswith("test-models/inspect_big.onnx") for u in requests), requests
    assert report["model"].endswith("test-models/inspect_big.onnx")
    assert report["opsets"] == {"ai.onnx": 17}
    assert report["op_counts"] == {"ai.onnx": {"Gemm": 1, "Relu": 1, "Sparkle": 1}}
    assert [r["op"] for r in report["unsupported"]["NumpyExecutionProvider"]] == ["Sparkle"]
    p = report["parameters"]
    assert p["external_bytes"] == 8192 * 16384 * 4 and p["external_files"] == {"big.bin": 2**29}
    assert p["count"] == 8192 * 16384 + 3
    # The same report as on the host, from the same bytes (dims bound the same way).
    host = wasm_rt.inspect(big_model.SerializeToString(), dims={"batch": 4}).to_dict()
    for key in ("op_counts", "parameters", "unsupported", "memory", "inputs", "outputs"):
        assert report[key] == host[key], key
    assert report["memory"]["peak_bytes"] >= 2**29 + 4 * 8192 * 4
    assert report["dims"] == {"batch": 4}


def test_inspect_errors_reach_the_page(rt_page, site):
    (site / "test-models" / "not_a_model.onnx").write_bytes(b"\x00garbage" * 10)
    r = rt_page.evaluate("""async () => {
      try { await wasm_rt.InferenceSession.inspect("test-models/not_a_model.onnx"); return null; }
      catch (e) { return { name: e.name, type: e.type }; }
    }""")
    assert r == {"name": "PythonError", "type": "InvalidProtobuf"}
