"""Stopping runs: RunOptions.terminate from another thread, RunOptions.time_limit and
RunOptions.cancel_check, between nodes and between Loop/Scan iterations.

onnxruntime is the oracle for what happens with the flag set (the run fails, the
session stays usable) and for the results of the run after a cancelled one.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import wasm_rt
from wasm_rt.errors import Fail, RunCancelled, RunTimeout

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def _model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _loop_model() -> bytes:
    """y = x + 1 repeated M times inside a Loop (M is an input: huge to cancel, small to check)."""
    one = helper.make_tensor("one", F, [], [1.0])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["acc_in", "one"], ["acc_out"], name="body_add")],
        "body",
        [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", F, [4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", F, [4])],
        [one],
    )
    loop = helper.make_node("Loop", ["M", "", "x"], ["y"], name="loop", body=body)
    return _model([loop], [helper.make_tensor_value_info("M", I64, []), helper.make_tensor_value_info("x", F, [4])],
                  [helper.make_tensor_value_info("y", F, [4])])


def _chain_model(n: int = 3000) -> bytes:
    """n Tanh nodes in a row on a (512, 512) tensor: a few seconds in all, ~1 ms a node."""
    nodes = [helper.make_node("Tanh", [f"v{k}"], [f"v{k + 1}"], name=f"tanh_{k}") for k in range(n)]
    nodes[0].input[0] = "x"
    nodes[-1].output[0] = "y"
    return _model(nodes, [helper.make_tensor_value_info("x", F, [512, 512])],
                  [helper.make_tensor_value_info("y", F, [512, 512])])


def _scan_model() -> bytes:
    """A running sum over the rows of x with Scan (one body run per row)."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "row"], ["s_out"], name="scan_add"),
         helper.make_node("Identity", ["s_out"], ["row_out"])],
        "scan_body",
        [helper.make_tensor_value_info("s_in", F, [3]), helper.make_tensor_value_info("row", F, [3])],
        [helper.make_tensor_value_info("s_out", F, [3]), helper.make_tensor_value_info("row_out", F, [3])],
    )
    scan = helper.make_node("Scan", ["s0", "x"], ["s", "ys"], name="scan", body=body, num_scan_inputs=1)
    return _model([scan], [helper.make_tensor_value_info("s0", F, [3]), helper.make_tensor_value_info("x", F, ["n", 3])],
                  [helper.make_tensor_value_info("s", F, [3]), helper.make_tensor_value_info("ys", F, ["n", 3])])


def _run_in_thread(sess, feeds, options):
    """Start sess.run in a thread; returns (thread, box) where box gets 'error' or 'result'."""
    box: dict = {}

    def target():
        try:
            box["result"] = sess.run(None, feeds, options)
        except BaseException as e:  # noqa: BLE001 - the test inspects whatever came out
            box["error"] = e
        box["end"] = time.monotonic()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def _terminate_mid_run(sess, feeds):
    """Set RunOptions.terminate from this thread while the run is inside its node loop.

    No timing guess: the run's first checkpoint calls ``cancel_check``, which tells this
    thread the run has started and holds the run there until ``terminate`` is set (a
    fast machine finishes a sleep-then-terminate model before the sleep is over)."""
    options = wasm_rt.RunOptions()
    started, go_on = threading.Event(), threading.Event()

    def gate():
        if not started.is_set():
            started.set()
            go_on.wait(10)
        return False  # never asks to stop itself: terminate does

    options.cancel_check = gate
    thread, box = _run_in_thread(sess, feeds, options)
    assert started.wait(10), f"the run never reached its first checkpoint: {box}"
    options.terminate = True
    set_at = time.monotonic()
    go_on.set()
    thread.join(10)
    assert not thread.is_alive(), "the run did not stop within 10 s of RunOptions.terminate"
    assert "error" in box, f"the run was not cancelled: {box}"
    return box["error"], box["end"] - set_at


def test_terminate_stops_a_loop_between_iterations_and_the_session_stays_usable():
    model = _loop_model()
    sess = wasm_rt.InferenceSession(model)
    x = np.arange(4, dtype=np.float32)
    err, latency = _terminate_mid_run(sess, {"M": np.array(10**9, np.int64), "x": x})
    assert isinstance(err, RunCancelled) and isinstance(err, Fail), repr(err)
    assert "RunOptions.terminate" in str(err), str(err)
    # Stopped between iterations, or between body nodes: the Loop node is named either way.
    assert "Loop node 'loop'" in str(err) or "node 'loop' (Loop) failed" in str(err), str(err)
    # One iteration is tens of microseconds: stopping takes scheduler slices, not the run.
    assert latency < 2.0, latency  # a shared 2-core machine can delay the thread switch
    feeds = {"M": np.array(7, np.int64), "x": x}
    ours = sess.run(None, feeds, wasm_rt.RunOptions())
    (theirs,) = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)
    np.testing.assert_array_equal(ours[0], theirs)
    np.testing.assert_array_equal(ours[0], x + 7)


def test_terminate_stops_a_long_chain_between_nodes():
    model = _chain_model()
    sess = wasm_rt.InferenceSession(model)
    x = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
    err, latency = _terminate_mid_run(sess, {"x": x})
    assert isinstance(err, RunCancelled), repr(err)
    # It names the node it stopped before and how far the run got.
    assert "node 'tanh_" in str(err) and "of 3000 of graph 'g'" in str(err), str(err)
    reached = int(str(err).split("node 'tanh_")[1].split("'")[0])
    assert 0 < reached < 2999, reached
    assert latency < 2.0, latency  # a shared 2-core machine can delay the thread switch
    (ours,) = sess.run(None, {"x": x}, wasm_rt.RunOptions())
    (theirs,) = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    # Tanh of 3000 rounds: numpy's and MLAS's tanh differ by an ulp or so per node,
    # and tanh is contracting, so errors do not grow; 1e-5 absolute on values in (-1, 1).
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_terminate_set_before_the_run_fails_at_once_as_in_onnxruntime():
    model = _loop_model()
    feeds = {"M": np.array(3, np.int64), "x": np.zeros(4, np.float32)}
    ort_options = ort.RunOptions()
    ort_options.terminate = True
    with pytest.raises(Exception, match="terminate flag"):
        ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds, ort_options)
    sess = wasm_rt.InferenceSession(model)
    options = wasm_rt.RunOptions()
    options.terminate = True
    with pytest.raises(RunCancelled, match="terminate flag being set to true") as info:
        sess.run(None, feeds, options)
    assert "node 'loop' (Loop), step 1 of 1" in str(info.value)
    assert sess.run(None, feeds)[0].tolist() == [3.0] * 4


def test_terminate_stops_scan_between_iterations():
    sess = wasm_rt.InferenceSession(_scan_model())
    feeds = {"s0": np.zeros(3, np.float32), "x": np.ones((400_000, 3), np.float32)}
    err, latency = _terminate_mid_run(sess, feeds)
    assert isinstance(err, RunCancelled), repr(err)
    assert "Scan node 'scan'" in str(err) or "node 'scan' (Scan) failed" in str(err), str(err)
    assert latency < 2.0, latency  # a shared 2-core machine can delay the thread switch
    small = {"s0": np.zeros(3, np.float32), "x": np.arange(12, dtype=np.float32).reshape(4, 3)}
    theirs = ort.InferenceSession(_scan_model(), providers=["CPUExecutionProvider"]).run(None, small)
    for a, b in zip(sess.run(None, small), theirs):
        np.testing.assert_array_equal(a, b)


def test_loop_checkpoint_names_the_iteration():
    """A cancel_check that turns true after some polls stops the Loop at an iteration boundary."""
    sess = wasm_rt.InferenceSession(_loop_model())
    calls = []
    options = wasm_rt.RunOptions()
    options.cancel_check = lambda: calls.append(1) or len(calls) > 3
    with pytest.raises(RunCancelled, match="caller aborted") as info:
        sess.run(None, {"M": np.array(10**9, np.int64), "x": np.zeros(4, np.float32)}, options)
    # Polls are at most every 2 ms, so the fourth poll came after a few ms of iterations.
    assert "Loop node 'loop'" in str(info.value) or "node 'loop' (Loop) failed" in str(info.value)
    assert len(calls) == 4


def test_time_limit_stops_the_run_with_run_timeout():
    sess = wasm_rt.InferenceSession(_loop_model())
    options = wasm_rt.RunOptions()
    options.time_limit = 0.2
    t0 = time.monotonic()
    with pytest.raises(RunTimeout, match=r"time_limit of 0.2 s passed") as info:
        sess.run(None, {"M": np.array(10**9, np.int64), "x": np.zeros(4, np.float32)}, options)
    elapsed = time.monotonic() - t0
    assert 0.2 <= elapsed < 1.5, elapsed
    assert isinstance(info.value, RunCancelled)
    # A time limit long enough lets the same options run to the end.
    options.time_limit = 60
    (y,) = sess.run(None, {"M": np.array(5, np.int64), "x": np.zeros(4, np.float32)}, options)
    assert y.tolist() == [5.0] * 4


@pytest.mark.parametrize("bad", [0, -1, "5", True])
def test_bad_time_limit_is_refused(bad):
    sess = wasm_rt.InferenceSession(_loop_model())
    options = wasm_rt.RunOptions()
    options.time_limit = bad
    with pytest.raises(wasm_rt.InvalidArgument, match="time_limit"):
        sess.run(None, {"M": np.array(1, np.int64), "x": np.zeros(4, np.float32)}, options)


def test_run_async_honours_terminate():
    import asyncio

    sess = wasm_rt.InferenceSession(_loop_model())
    options = wasm_rt.RunOptions()
    options.terminate = True
    feeds = {"M": np.array(2, np.int64), "x": np.zeros(4, np.float32)}
    # A thread of its own: another test's event loop (Playwright's) may run in this one.
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(
        error=_raised(lambda: asyncio.run(sess.run_async(None, feeds, options)))))
    thread.start()
    thread.join(30)
    assert isinstance(box["error"], RunCancelled), box


def _raised(fn):
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - returned for the test to check
        return e
    return None


@pytest.fixture
def desktop_device_restored():
    """init_desktop() sets a process-wide device; put the previous state back so later
    tests (e.g. the no-device fallback warning in test_session.py) see no device."""
    from wasm_rt.providers.webgpu import _js

    saved = (_js._device, _js._device_reason)
    yield
    _js._device, _js._device_reason = saved


def test_webgpu_plan_runner_checks_terminate(desktop_device_restored):
    """The WebGPU provider drives plans itself; it checks between steps too (desktop wgpu)."""
    pytest.importorskip("wgpu")
    import warnings

    from wasm_rt.providers import webgpu

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not webgpu.init_desktop():
            pytest.skip("wgpu found no adapter")
    model = _chain_model(20)
    sess = wasm_rt.InferenceSession(model, providers=["WebGpuExecutionProvider"])
    assert sess.get_providers()[0] == "WebGpuExecutionProvider"
    x = np.random.default_rng(1).standard_normal((512, 512)).astype(np.float32)
    options = wasm_rt.RunOptions()
    options.terminate = True
    with pytest.raises(RunCancelled, match="WebGPU plan"):
        sess.run(None, {"x": x}, options)
    (y,) = sess.run(None, {"x": x}, wasm_rt.RunOptions())
    np.testing.assert_allclose(y, wasm_rt.InferenceSession(model).run(None, {"x": x})[0], atol=1e-5)
