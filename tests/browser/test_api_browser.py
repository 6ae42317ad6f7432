"""The JS API in a real browser: sessions, tensors, progress, errors, release, crashes."""

from __future__ import annotations

import numpy as np
import pytest
from jsio import JS_HELPERS, from_js, to_js
from onnx import TensorProto, helper, numpy_helper


def _save(model, path):
    path.write_bytes(model.SerializeToString())


@pytest.fixture(scope="module")
def api_page(rt_page, site):
    models = site / "test-models"
    models.mkdir(exist_ok=True)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    w = numpy_helper.from_array(np.arange(9, dtype=np.float32).reshape(3, 3), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], "mm", [x], [y], [w]
    )
    _save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
        models / "matmul.onnx",
    )
    # An operator no runtime knows: loading must fail with the Python error.
    graph = helper.make_graph(
        [helper.make_node("NoSuchOp", ["x"], ["y"], name="bad")], "bad", [x], [y]
    )
    _save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
        models / "unknown_op.onnx",
    )
    rt_page.evaluate(JS_HELPERS)
    return rt_page


def run_matmul(page, x: np.ndarray, providers=("numpy",)):
    return page.evaluate(
        """async ([feeds, providers]) => {
          const s = await wasm_rt.InferenceSession.create("test-models/matmul.onnx", { executionProviders: providers });
          const out = await s.run(jsio.feeds(feeds));
          const r = { out: jsio.outputs(out), inputNames: s.inputNames, outputNames: s.outputNames,
                      inputMetadata: s.inputMetadata, providers: s.providers };
          await s.release();
          return r;
        }""",
        [[to_js("x", x)], list(providers)],
    )


def test_create_run_metadata(api_page):
    x = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    r = run_matmul(api_page, x)
    assert r["inputNames"] == ["x"] and r["outputNames"] == ["y"]
    assert r["inputMetadata"] == [
        {
            "name": "x",
            "isTensor": True,
            "type": "float32",
            "onnxType": "tensor(float)",
            "shape": ["batch", 3],
        }
    ]
    assert r["providers"] == ["NumpyExecutionProvider"]
    np.testing.assert_allclose(
        from_js(r["out"]["y"]), x @ np.arange(9, dtype=np.float32).reshape(3, 3)
    )


@pytest.mark.parametrize("alias", ["cpu", "wasm"])
def test_onnxruntime_web_provider_aliases(api_page, alias):
    r = run_matmul(api_page, np.ones((1, 3), np.float32), providers=(alias,))
    assert r["providers"] == ["NumpyExecutionProvider"]


def test_unknown_provider_alone_is_an_error(api_page):
    # As onnxruntime-web: unavailable providers are dropped; none left is an error.
    msg = api_page.evaluate(
        """() => wasm_rt.InferenceSession.create("test-models/matmul.onnx", { executionProviders: ["cuda"] })
              .then(() => "no error", (e) => `${e.name}: ${e.message}`)"""
    )
    assert msg == "Error: no available backend found. ERR: [cuda] backend not found."


def test_create_from_bytes_and_feeds_are_not_consumed(api_page):
    r = api_page.evaluate(
        """async () => {
          const bytes = new Uint8Array(await (await fetch("test-models/matmul.onnx")).arrayBuffer());
          const s = await wasm_rt.InferenceSession.create(bytes);
          const x = new wasm_rt.Tensor("float32", new Float32Array([1, 0, 0]), [1, 3]);
          const out = await s.run({ x });
          await s.release();
          return { bytesKept: bytes.byteLength, xKept: Array.from(x.data), y: Array.from(out.y.data),
                   yType: out.y.type, yDims: out.y.dims, isTensor: out.y instanceof wasm_rt.Tensor };
        }"""
    )
    assert r["bytesKept"] > 0 and r["xKept"] == [1, 0, 0]
    assert (
        r["y"] == [0, 1, 2]
        and r["yType"] == "float32"
        and r["yDims"] == [1, 3]
        and r["isTensor"]
    )


def test_progress_events(api_page):
    # A fresh worker reports every stage: Pyodide boot, packages, model bytes, session.
    events = api_page.evaluate(
        """async () => {
          wasm_rt.debug.terminateWorker("progress test wants a fresh worker");
          const events = [];
          const s = await wasm_rt.InferenceSession.create("test-models/matmul.onnx", { onProgress: (e) => events.push(e) });
          await s.release();
          return events;
        }"""
    )
    stages = [e["stage"] for e in events]
    assert stages[0] == "pyodide" and stages[-1] == "session"
    assert {"pyodide", "packages", "model", "session"} <= set(stages)
    model = [e for e in events if e["stage"] == "model"]
    assert model[-1]["loaded"] == model[-1]["total"] > 0
    packages = [e for e in events if e["stage"] == "packages"]
    assert packages[-1]["loaded"] == packages[-1]["total"] == 3
    # A second session reuses the booted worker: only model and session stages.
    again = api_page.evaluate(
        """async () => {
          const events = [];
          const s = await wasm_rt.InferenceSession.create("test-models/matmul.onnx", { onProgress: (e) => events.push(e.stage) });
          await s.release();
          return events;
        }"""
    )
    assert "pyodide" not in again and "model" in again


def test_python_error_reaches_js_with_type_and_message(api_page):
    errors = api_page.evaluate(
        """async () => {
          const out = {};
          try { await wasm_rt.InferenceSession.create("test-models/unknown_op.onnx"); }
          catch (e) { out.load = { name: e.name, type: e.type, message: e.message, isError: e instanceof Error,
                                    traceback: e.traceback.includes("Traceback") }; }
          const s = await wasm_rt.InferenceSession.create("test-models/matmul.onnx");
          try { await s.run({ x: new wasm_rt.Tensor("float32", new Float32Array(4), [1, 4]) }); }
          catch (e) { out.run = { name: e.name, type: e.type, message: e.message }; }
          try { await s.run({ x: new wasm_rt.Tensor("int32", new Int32Array(3), [1, 3]) }); }
          catch (e) { out.dtype = { type: e.type, message: e.message }; }
          try { await wasm_rt.InferenceSession.create(new Uint8Array([1, 2, 3, 4, 5])); }
          catch (e) { out.garbage = { type: e.type, message: e.message }; }
          try { await wasm_rt.InferenceSession.create("test-models/missing.onnx"); }
          catch (e) { out.missing = { name: e.name, message: e.message }; }
          // The session still works after its errors.
          const ok = await s.run({ x: new wasm_rt.Tensor("float32", new Float32Array([1, 1, 1]), [1, 3]) });
          out.after = Array.from(ok.y.data);
          await s.release();
          return out;
        }"""
    )
    load = errors["load"]
    assert load["name"] == "PythonError" and load["isError"] and load["traceback"]
    assert load["type"] == "NotImplemented" and "NoSuchOp" in load["message"]
    assert (
        errors["run"]["type"] == "InvalidArgument" and "'x'" in errors["run"]["message"]
    )
    assert errors["dtype"]["type"] == "InvalidArgument"
    assert errors["garbage"]["type"] in ("InvalidProtobuf", "InvalidGraph")
    assert "HTTP 404" in errors["missing"]["message"]
    assert errors["after"] == [9, 12, 15]


def test_release_frees_the_session(api_page):
    r = api_page.evaluate(
        """async () => {
          const before = (await wasm_rt.debug.workerStatus()).sessions;
          const s = await wasm_rt.InferenceSession.create("test-models/matmul.onnx");
          const during = (await wasm_rt.debug.workerStatus()).sessions;
          await s.release();
          const after = (await wasm_rt.debug.workerStatus()).sessions;
          let runAfter;
          try { await s.run({ x: new wasm_rt.Tensor("float32", new Float32Array(3), [1, 3]) }); }
          catch (e) { runAfter = e.message; }
          await s.release(); // twice is harmless
          return { before, during, after, runAfter };
        }"""
    )
    assert r["during"] == r["before"] + 1 and r["after"] == r["before"]
    assert "released" in r["runAfter"]


def test_worker_crash_rejects_pending_and_recovers(api_page):
    r = api_page.evaluate(
        """async () => {
          const s = await wasm_rt.InferenceSession.create("test-models/matmul.onnx");
          // A run in flight when the worker dies must reject, not hang.
          const x = new wasm_rt.Tensor("float32", new Float32Array([1, 1, 1]), [1, 3]);
          const pending = wasm_rt.InferenceSession.create("test-models/matmul.onnx");
          wasm_rt.debug.crashWorker("simulated crash");
          const results = await Promise.allSettled([pending]);
          const rejected = results[0].status === "rejected" ? `${results[0].reason.name}: ${results[0].reason.message}` : "resolved";
          let oldSession;
          try { await s.run({ x }); } catch (e) { oldSession = e.name; }
          // The next create starts a fresh worker.
          const s2 = await wasm_rt.InferenceSession.create("test-models/matmul.onnx");
          const out = await s2.run({ x });
          await s2.release();
          return { rejected, oldSession, y: Array.from(out.y.data), alive: wasm_rt.debug.workerAlive };
        }"""
    )
    assert (
        r["rejected"].startswith("WorkerDiedError: wasm_rt worker died: ")
        and "simulated crash" in r["rejected"]
    )
    assert r["oldSession"] == "WorkerDiedError"
    assert r["y"] == [9, 12, 15] and r["alive"]


def test_busy_worker_terminated_rejects_pending(api_page):
    # A model stuck in Python cannot be interrupted; terminating the worker must
    # still reject the caller's promise at once.
    r = api_page.evaluate(
        """async () => {
          const s = await wasm_rt.InferenceSession.create("test-models/matmul.onnx");
          const big = new wasm_rt.Tensor("float32", new Float32Array(3 * 2_000_000), [2_000_000, 3]);
          const running = s.run({ x: big }).then(() => "finished", (e) => e.name);
          wasm_rt.debug.terminateWorker("stuck");
          return await running;
        }"""
    )
    assert r in ("WorkerDiedError", "finished")
