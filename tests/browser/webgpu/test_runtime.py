"""Segments, memory, sync/async runs and release of the WebGPU provider."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

INPAGE = (Path(__file__).parent / "inpage.py").read_text()


def _model() -> bytes:
    """Conv -> Relu -> MaxPool -> CumSum (numpy only) -> Flatten -> Gemm -> Softmax.

    CumSum has no GPU kernel, so the graph has two GPU segments with a host
    step between them (download, numpy, upload).
    """
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b")
    fc = numpy_helper.from_array(rng.standard_normal((10, 8 * 4 * 4)).astype(np.float32) * 0.1, "fc")
    ax = numpy_helper.from_array(np.array(1, np.int64), "ax")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("CumSum", ["p", "ax"], ["cs"]),
        helper.make_node("Flatten", ["cs"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10]),
         helper.make_tensor_value_info("r", TensorProto.FLOAT, [1, 8, 8, 8])],
        [w, b, fc, ax])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


SETUP = """
import base64, io, wasm_rt
from wasm_rt.providers.webgpu import _js
model = base64.b64decode("{model}")
sess = wasm_rt.InferenceSession(model, providers=["WebGpuExecutionProvider", "CPUExecutionProvider"])
ref = wasm_rt.InferenceSession(model)
gpu = sess._providers[0]
rng = np.random.default_rng(1)
x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
dumps(1)
"""


def test_segments_memory_and_release(gpu):
    gpu(INPAGE + "\n" + SETUP.format(model=base64.b64encode(_model()).decode()))
    r = gpu("""
want = ref.run(None, {"x": x})
out = await gpu.run_plan_async(sess._executor, sess._plan, {"x": x})
got = [out[o.name] for o in sess.get_outputs()]
dev = _js.current_device()
first = (dev.live_buffers, dev.live_bytes, _js.wasm_heap_bytes())
for _ in range(100):
    out = await gpu.run_plan_async(sess._executor, sess._plan, {"x": x})
after = (dev.live_buffers, dev.live_bytes, _js.wasm_heap_bytes())
rep = gpu.placement_report(sess._plan)
kernels = [d.kernel for c in gpu.runner.plans.values() for seg in c.values()
           for d in (seg.program.dispatches if seg.program else [])]
sess.release()
dumps({"err": [float(np.max(np.abs(a - b))) for a, b in zip(got, want)],
       "same": all(np.array_equal(out[o.name], g) for o, g in zip(sess.get_outputs(), got)),
       "first": first, "after": after, "released": dev.live_buffers,
       "where": {n["op"]: n["provider"] for n in rep["nodes"]}, "kernels": kernels})
""")
    assert max(r["err"]) < 1e-4, r
    assert r["same"], r
    assert r["first"][:2] == r["after"][:2], f"GPU memory grew over 100 runs: {r}"
    assert r["after"][2] == r["first"][2], f"wasm heap grew over 100 runs: {r}"
    assert r["released"] == 0, r
    assert r["where"]["CumSum"] == "CPUExecutionProvider" or r["where"]["CumSum"].startswith("Numpy"), r
    assert r["where"]["Conv"] == r["where"]["Gemm"] == "WebGpuExecutionProvider", r
    # Relu is folded into the Conv's epilogue: no elementwise dispatch of its own.
    assert "elementwise/unary" not in r["kernels"], r["kernels"]


def test_sync_run_under_jspi_and_clear_error_without(gpu):
    gpu(INPAGE + "\n" + SETUP.format(model=base64.b64encode(_model()).decode()))
    # runPythonAsync is a promising entry point: JSPI lets run_plan wait synchronously.
    r = gpu("""
out = gpu.run_plan(sess._executor, sess._plan, {"x": x})
want = ref.run(None, {"x": x})
dumps(float(np.max(np.abs(out["y"] - want[0]))))
""")
    assert r < 1e-5
    r = gpu("""
from wasm_rt.providers.webgpu import run_session_async
out = await run_session_async(sess, ["y"], {"x": x})
dumps(float(np.max(np.abs(out[0] - ref.run(["y"], {"x": x})[0]))))
""")
    assert r < 1e-5
    # Plain runPython is not: the error must say to use run_async.
    msg = gpu.page.evaluate("""() => {
        try { window.py.runPython('gpu.run_plan(sess._executor, sess._plan, {"x": x})'); return "no error"; }
        catch (e) { return String(e.message); } }""")
    assert "run_async" in msg, msg


def test_fed_values_are_uploaded_every_run(gpu):
    """A replayed plan must read this run's feeds, not the first run's (indices, scalars)."""
    gpu(INPAGE + "\ndumps(1)")
    r = gpu("""
x = np.arange(20, dtype=np.float32).reshape(5, 4)
g = graph_of("Gather", {"x": x, "i": np.array([0, 1], np.int64)}, {"axis": 0}, 1, ())
gpu = WebGpuExecutionProvider({})
planner = Planner({"": 13}, [gpu, NumpyExecutionProvider()])
plan = planner.plan(g)
ex = Executor(planner.plans)
outs = []
for idx in ([0, 1], [4, 2], [3, 3]):
    i = np.array(idx, np.int64)
    got = (await gpu.run_plan_async(ex, plan, {"x": x * len(outs), "i": i}))["y0"]
    outs.append(bool(np.array_equal(got, (x * len(outs))[i])))
gpu.release()
dumps(outs)
""")
    assert r == [True, True, True], r
