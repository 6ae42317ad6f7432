"""The JS API with executionProviders: ["webgpu"] on the SwiftShader adapter.

The worker requests the device, creates the session with the WebGPU provider
and runs it through run_async; the profile says where each node ran.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from jsio import JS_HELPERS, from_js, to_js

import wasm_rt
from wasm_rt.cli import default_model_path


@pytest.fixture(scope="module")
def gpu_page(rt_page, site):
    (site / "test-models").mkdir(exist_ok=True)
    shutil.copy(default_model_path(), site / "test-models" / "digits_gpu.onnx")
    rt_page.evaluate(JS_HELPERS)
    return rt_page


def test_digits_model_runs_on_webgpu_through_js_api(gpu_page):
    x = (np.random.default_rng(0).random((3, 1, 8, 8)) * 16).astype(np.float32)
    r = gpu_page.evaluate(
        """async ([feeds]) => {
          const s = await wasm_rt.InferenceSession.create("test-models/digits_gpu.onnx",
              { executionProviders: ["webgpu"], enableProfiling: true });
          const out = await s.run(jsio.feeds(feeds));
          const r = { out: jsio.outputs(out), providers: s.providers, profile: s.lastRun.profile };
          await s.release();
          return r;
        }""",
        [[to_js("pixels", x)]],
    )
    assert r["providers"] == ["WebGpuExecutionProvider", "NumpyExecutionProvider"]
    host = wasm_rt.InferenceSession(default_model_path()).run(None, {"pixels": x})[0]
    # float32 on both sides; the GPU sums in another order (tiled products).
    np.testing.assert_allclose(from_js(r["out"]["probabilities"]), host, rtol=1e-4, atol=1e-6)
    placed = {row["op"]: row["provider"] for row in r["profile"]}
    assert placed and all(p == "WebGpuExecutionProvider" for p in placed.values()), placed
