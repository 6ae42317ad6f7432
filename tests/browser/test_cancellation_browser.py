"""session.run(feeds, {signal}) in a real browser: an AbortSignal stops the worker's
Python run between nodes (cross-origin isolated page: a SharedArrayBuffer flag), or
ends the worker (page without COOP/COEP); timeLimitMs fails the run with RunTimeout."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
from conftest import open_runner
from onnx import TensorProto, helper

from wasm_rt.site.server import SiteRequestHandler

# A Loop of M Add iterations: M = 1e9 runs for hours unless it is stopped.
RUN_LOOP = """async ([trips, options, abortAfterMs]) => {
  const feeds = (m) => ({
    M: new wasm_rt.Tensor("int64", BigInt64Array.from([BigInt(m)]), []),
    x: new wasm_rt.Tensor("float32", new Float32Array([0, 1, 2, 3]), [4]),
  });
  const s = await wasm_rt.InferenceSession.create("test-models/cancel_loop.onnx");
  const ac = new AbortController();
  const opts = { ...options };
  if (abortAfterMs !== null) { opts.signal = ac.signal; setTimeout(() => ac.abort(), abortAfterMs); }
  if (options.timeoutSignalMs) opts.signal = AbortSignal.timeout(options.timeoutSignalMs);
  const t0 = performance.now();
  let err = null;
  try { await s.run(feeds(trips), opts); } catch (e) { err = e; }
  const settledMs = performance.now() - t0;
  const t1 = performance.now();
  let next = null, nextErr = null;
  try { next = Array.from((await s.run(feeds(5))).y.data); } catch (e) { nextErr = e.name; }
  const nextMs = performance.now() - t1;
  if (!nextErr) await s.release();
  return {
    isolated: globalThis.crossOriginIsolated, cooperative: wasm_rt.canCancelCooperatively(),
    name: err && err.name, type: err && err.type, message: err && String(err.message),
    isDOMException: err instanceof DOMException, settledMs, next, nextErr, nextMs,
    workerAlive: wasm_rt.debug.workerAlive,
  };
}"""


@pytest.fixture(scope="module")
def loop_model(site):
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c_out"]),
         helper.make_node("Add", ["v", "one"], ["v_out"], name="body_add")],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [4])],
        [one],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "", "x"], ["y"], name="loop", body=body)], "g",
        [helper.make_tensor_value_info("M", TensorProto.INT64, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    models = site / "test-models"
    models.mkdir(exist_ok=True)
    (models / "cancel_loop.onnx").write_bytes(model.SerializeToString())
    return "test-models/cancel_loop.onnx"


def test_abort_stops_the_python_run_and_the_session_stays_usable(rt_page, loop_model):
    r = rt_page.evaluate(RUN_LOOP, [10**9, {}, 1500])
    assert r["isolated"] and r["cooperative"], "the site server sets COOP/COEP"
    assert r["name"] == "AbortError" and r["isDOMException"], r
    assert 1400 <= r["settledMs"] < 3000, r  # rejected at once, as fetch does
    # The next run finishes promptly: the worker's Python run really stopped.
    assert r["next"] == [5.0, 6.0, 7.0, 8.0] and r["nextMs"] < 5000, r
    assert r["workerAlive"]


def test_timeout_signal_rejects_with_timeout_error(rt_page, loop_model):
    r = rt_page.evaluate(RUN_LOOP, [10**9, {"timeoutSignalMs": 800}, None])
    assert r["name"] == "TimeoutError" and r["isDOMException"], r
    assert r["next"] == [5.0, 6.0, 7.0, 8.0] and r["nextMs"] < 5000, r


def test_time_limit_fails_with_run_timeout(rt_page, loop_model):
    r = rt_page.evaluate(RUN_LOOP, [10**9, {"timeLimitMs": 700}, None])
    assert r["name"] == "PythonError" and r["type"] == "RunTimeout", r
    assert "time_limit of 0.7 s" in r["message"], r
    assert r["next"] == [5.0, 6.0, 7.0, 8.0], r


def test_already_aborted_signal_rejects_before_running(rt_page, loop_model):
    r = rt_page.evaluate("""async () => {
      const s = await wasm_rt.InferenceSession.create("test-models/cancel_loop.onnx");
      const x = new wasm_rt.Tensor("float32", new Float32Array(4), [4]);
      const M = new wasm_rt.Tensor("int64", BigInt64Array.from([3n]), []);
      let name = null;
      try { await s.run({ M, x }, { signal: AbortSignal.abort() }); } catch (e) { name = e.name; }
      const y = Array.from((await s.run({ M, x }, ["y"], {})).y.data);
      await s.release();
      return { name, y };
    }""")
    assert r == {"name": "AbortError", "y": [3.0, 3.0, 3.0, 3.0]}


class _NoIsolationHandler(SiteRequestHandler):
    """The site without COOP/COEP (MIME types kept): no SharedArrayBuffer in the page."""

    def end_headers(self) -> None:
        http.server.SimpleHTTPRequestHandler.end_headers(self)


@pytest.fixture(scope="module")
def plain_url(site, loop_model):
    handler = functools.partial(_NoIsolationHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_abort_without_isolation_terminates_the_worker(page, plain_url):
    open_runner(page, plain_url)
    r = page.evaluate(RUN_LOOP, [10**9, {}, 1500])
    assert not r["isolated"] and not r["cooperative"], r
    assert r["name"] == "AbortError" and r["isDOMException"], r
    assert r["settledMs"] < 3000, r
    # The worker was ended to stop the run: its sessions are gone, a new one works.
    assert r["nextErr"] == "WorkerDiedError" and not r["workerAlive"], r
    again = page.evaluate(RUN_LOOP, [3, {}, None])
    assert again["name"] is None and again["next"] == [5.0, 6.0, 7.0, 8.0], again


def test_abort_without_isolation_detach_keeps_the_worker(page, plain_url):
    """env.abortWithoutIsolation = "detach": the promise rejects at once, the run finishes
    in the worker and its result is dropped; the session stays usable after it."""
    open_runner(page, plain_url)
    page.evaluate('() => { wasm_rt.env.abortWithoutIsolation = "detach"; }')
    r = page.evaluate(RUN_LOOP, [20_000, {}, 50])
    assert r["name"] == "AbortError" and r["settledMs"] < 1000, r
    assert r["next"] == [5.0, 6.0, 7.0, 8.0] and r["workerAlive"], r
