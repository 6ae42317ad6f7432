"""Python in the page (the PyScript / JupyterLite way): micropip installs the wheels the
site serves and ``wasm_rt.InferenceSession`` works as on the desktop. These are the lines
the README documents."""

from __future__ import annotations

import json


def test_micropip_install_from_site_urls(page, site_url, site):
    manifest = json.loads((site / "manifest.json").read_text())
    page.goto(site_url + "run.html")
    result = page.evaluate(
        """async ([protobufWheel, wasmRtWheel]) => {
          const { loadPyodide } = await import("./pyodide/pyodide.mjs");
          const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", location.href).href });
          await pyodide.loadPackage(["micropip", "numpy"]);
          pyodide.globals.set("PROTOBUF_URL", new URL(protobufWheel, location.href).href);
          pyodide.globals.set("WASM_RT_URL", new URL(wasmRtWheel, location.href).href);
          return await pyodide.runPythonAsync(`
import micropip
await micropip.install(PROTOBUF_URL)   # the pure-Python protobuf first
await micropip.install(WASM_RT_URL)

import numpy as np
from pyodide.http import pyfetch
import wasm_rt

model = await (await pyfetch("models/digits.onnx")).bytes()
sess = wasm_rt.InferenceSession(model)
(probs,) = sess.run(None, {"pixels": np.zeros((1, 1, 8, 8), np.float32)})
import google.protobuf.internal.api_implementation as impl
[sess.get_providers()[0], list(probs.shape), round(float(probs.sum()), 4), impl.Type()]
`).then((r) => r.toJs());
        }""",
        [manifest["protobufWheel"], manifest["wheel"]],
    )
    assert result == ["NumpyExecutionProvider", [1, 10], 1.0, "python"]


def test_load_package_from_the_site_lock(page, site_url):
    page.goto(site_url + "run.html")
    version = page.evaluate(
        """async () => {
          const { loadPyodide } = await import("./pyodide/pyodide.mjs");
          const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", location.href).href });
          await pyodide.loadPackage("wasm-rt");  // numpy and protobuf come with it, all from the site
          return pyodide.runPython("import wasm_rt; wasm_rt.__version__");
        }"""
    )
    assert version
