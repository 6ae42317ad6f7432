"""The nine light_*.onnx CNNs shipped with onnx, in the browser vs on the host.

Their weights are placeholders made at run time (ConstantOfShape), so this
proves loading, shapes, memory and speed in Pyodide; the numbers must still be
the host's (same wasm_rt, same numpy version, different platform).
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
from jsio import JS_HELPERS, from_js, to_js

import wasm_rt

onnx = pytest.importorskip(
    "onnx", reason="the light models ship inside the onnx package"
)
LIGHT_DIR = os.path.join(
    os.path.dirname(onnx.__file__), "backend", "test", "data", "light"
)
MODELS = sorted(
    f[:-5]
    for f in os.listdir(LIGHT_DIR)
    if f.startswith("light_") and f.endswith(".onnx")
)

RUN_JS = """
async ([url, feeds]) => {
  const t0 = performance.now();
  const session = await wasm_rt.InferenceSession.create(url);
  const loadMs = performance.now() - t0;
  const out = await session.run(jsio.feeds(feeds));
  const result = { outputs: jsio.outputs(out), loadMs, runMs: session.lastRun.runMs, names: session.outputNames };
  await session.release();
  return result;
}
"""


@pytest.fixture(scope="module")
def light_page(rt_page, site):
    (site / "light").mkdir(exist_ok=True)
    for name in MODELS:
        shutil.copy(os.path.join(LIGHT_DIR, name + ".onnx"), site / "light")
    rt_page.evaluate(JS_HELPERS)
    return rt_page


def test_nine_light_models():
    assert len(MODELS) == 9, MODELS


def reference_output(name: str) -> np.ndarray:
    """The output onnx ships with the model (independent of the input: every
    channel of these placeholder-weight networks computes the same value)."""
    tensor = onnx.load_tensor(os.path.join(LIGHT_DIR, f"{name}_output_0.pb"))
    return onnx.numpy_helper.to_array(tensor)


@pytest.mark.parametrize("name", MODELS)
def test_light_model_matches_host(light_page, name, browser_report):
    path = os.path.join(LIGHT_DIR, name + ".onnx")
    host = wasm_rt.InferenceSession(path)
    feeds = {
        i.name: np.random.default_rng(0).standard_normal(i.shape).astype(np.float32)
        for i in host.get_inputs()
    }
    t0 = time.perf_counter()
    expected = host.run(None, feeds)
    host_ms = (time.perf_counter() - t0) * 1000
    result = light_page.evaluate(
        RUN_JS, [f"light/{name}.onnx", [to_js(k, v) for k, v in feeds.items()]]
    )
    actual = [from_js(result["outputs"][n]) for n in result["names"]]
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape and a.dtype == e.dtype
    verdict = "browser == host"
    if not np.allclose(actual[0], expected[0], rtol=1e-4, atol=1e-6):
        # Placeholder weights blow activations up to ~1e20, where the host's BLAS
        # summation order leaves visible differences before the final Softmax; the
        # browser (numpy without BLAS) must then match the shipped reference output.
        reference = reference_output(name)
        np.testing.assert_allclose(actual[0], reference, rtol=1e-4, atol=1e-6)
        verdict = "browser == onnx reference output (host differs: BLAS rounding)"
    for a, e in zip(actual[1:], expected[1:]):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-6)
    browser_report.append(
        f"{name}: {verdict}, output {list(actual[0].shape)}; browser load "
        f"{result['loadMs']:.0f} ms, run {result['runMs']:.0f} ms; host run {host_ms:.0f} ms"
    )
