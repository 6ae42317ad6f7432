"""Fixtures for the WebGPU provider's browser tests.

``gpu`` is one page per test module with Pyodide, numpy and the wasm_rt wheel
loaded in the page itself (WebGPU works on the main thread) and the WebGPU
device initialized; ``gpu(code)`` runs Python there with ``runPythonAsync`` (so
top-level ``await`` works) and returns the JSON the code's last expression
produced.
"""

from __future__ import annotations

import json

import pytest


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>
<script type="module">
  const { loadPyodide } = await import("./pyodide/pyodide.mjs");
  const py = await loadPyodide({ indexURL: new URL("./pyodide/", location.href).href });
  await py.loadPackage(["numpy", "protobuf", "wasm-rt"], { messageCallback: () => {} });
  window.py = py;
  window.gpuReady = true;
</script></body></html>
"""

SETUP = """
import json, numpy as np
import wasm_rt.providers.webgpu as webgpu
ok = await webgpu.init()
json.dumps({"ok": ok, "reason": webgpu.unavailable_reason()})
"""


class GpuPage:
    def __init__(self, page):
        self.page = page

    def __call__(self, code: str):
        out = self.page.evaluate(
            "async (code) => { const r = await window.py.runPythonAsync(code); return String(r); }",
            code,
        )
        return json.loads(out)


@pytest.fixture(scope="module")
def gpu(browser, site):
    (site / "gpu.html").write_text(PAGE)
    from wasm_rt.site.server import BackgroundServer

    server = BackgroundServer(site)
    url = server.__enter__()
    context = browser.new_context()
    page = context.new_page()
    page.console_log = []
    page.on("console", lambda m: page.console_log.append(f"{m.type}: {m.text}"))
    page.set_default_timeout(120_000)
    page.goto(url + "gpu.html")
    page.wait_for_function("window.gpuReady === true")
    runner = GpuPage(page)
    state = runner(SETUP)
    if not state["ok"]:
        pytest.fail(f"no WebGPU device in chromium: {state['reason']}")
    yield runner
    context.close()
    server.__exit__(None, None, None)
