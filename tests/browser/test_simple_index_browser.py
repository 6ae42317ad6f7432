"""``micropip.install("wasm_rt", index_urls=[SITE + "simple/"])`` resolves wasm_rt and
protobuf by name from the site's PEP 503 index, offline.

The page boots Pyodide with a lock file that lacks both (as a Pyodide from elsewhere
would), so micropip must take them from the index, not from the site's lock."""

from __future__ import annotations

import json
import re


def test_micropip_installs_wasm_rt_by_name_from_the_simple_index(page, site_url, site):
    lock = json.loads((site / "pyodide" / "pyodide-lock.json").read_text())
    for name in ("wasm-rt", "protobuf"):
        del lock["packages"][name]
    (site / "pyodide" / "pyodide-lock.no-wasm-rt.json").write_text(json.dumps(lock))
    requested = []

    def offline(route):
        requested.append(route.request.url)
        if route.request.url.startswith(site_url):
            route.continue_()
        else:
            route.abort()  # offline: nothing may come from elsewhere

    page.route("**/*", offline)
    page.goto(site_url + "run.html")
    result = page.evaluate(
        """async () => {
          const { loadPyodide } = await import("./pyodide/pyodide.mjs");
          const pyodide = await loadPyodide({
            indexURL: new URL("pyodide/", location.href).href,
            lockFileURL: new URL("pyodide/pyodide-lock.no-wasm-rt.json", location.href).href,
          });
          await pyodide.loadPackage("micropip");
          pyodide.globals.set("INDEX", new URL("simple/", location.href).href);
          return await pyodide.runPythonAsync(`
import micropip
await micropip.install("wasm_rt", index_urls=[INDEX])
import numpy as np
from pyodide.http import pyfetch
import wasm_rt

model = await (await pyfetch("models/digits.onnx")).bytes()
(probs,) = wasm_rt.InferenceSession(model).run(None, {"pixels": np.zeros((1, 1, 8, 8), np.float32)})
[list(probs.shape), round(float(probs.sum()), 4)]
`).then((r) => r.toJs());
        }"""
    )
    assert result == [[1, 10], 1.0]
    assert not [u for u in requested if not u.startswith(site_url)]
    # Both wheels were found through the index pages, by name.
    # (micropip asks for simple//wasm-rt/: the given URL's slash plus its own.)
    for name in ("wasm_rt", "protobuf"):
        page_url = re.compile(
            re.escape(site_url) + "simple/+" + name.replace("_", "[-_]") + "/$"
        )
        assert any(page_url.match(u) for u in requested), "\n".join(requested)
        assert any(u.startswith(site_url + f"pyodide/{name}-") for u in requested), name
