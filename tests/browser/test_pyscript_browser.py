"""``wasm-rt build-site --pyscript``: the PyScript page runs the model from Python on the main
thread and in a worker, on first load and after a reload (PyScript's package cache), with
nothing fetched from outside the site."""

from __future__ import annotations

import json

import numpy as np
import pytest

import wasm_rt
from wasm_rt.site.build import PACKAGE_DIR, build_site

RESULT_JS = """() => ['out-main', 'out-worker'].every(
  (id) => document.getElementById(id).textContent.includes('argmax='))"""


@pytest.fixture(scope="module")
def pyscript_site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("pyscript") / "site", pyscript=True)


@pytest.fixture(scope="module")
def pyscript_site_url(pyscript_site, serve) -> str:
    return serve(pyscript_site)


def _expected(where: str) -> str:
    sess = wasm_rt.InferenceSession(str(PACKAGE_DIR / "data" / "digits.onnx"))
    (out,) = sess.run(None, {"pixels": np.zeros((1, 1, 8, 8), np.float32)})
    return (
        f"wasm_rt {wasm_rt.__version__} ({where}): NumpyExecutionProvider "
        f"shape={list(out.shape)} argmax={int(out.argmax())} sum={float(out.sum()):.4f}"
    )


def test_pyscript_page_runs_the_model_on_main_thread_and_worker(page, pyscript_site_url):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    requested = []

    def offline(route):
        requested.append(route.request.url)
        if route.request.url.startswith(pyscript_site_url):
            route.continue_()
        else:
            route.abort()

    # On the context, so the worker's requests are routed too.
    page.context.route("**/*", offline)
    page.goto(pyscript_site_url + "pyscript.html")
    for visit in ("first load", "reload"):
        if visit == "reload":
            page.reload()
        try:
            page.wait_for_function(RESULT_JS, timeout=90_000)
        except PlaywrightTimeout:
            pytest.fail(f"{visit}: no result\n" + "\n".join(page.console_log[-30:]))
        for where in ("main", "worker"):
            assert page.inner_text(f"#out-{where}") == _expected(where), visit
    assert not [u for u in requested if not u.startswith(pyscript_site_url)]
    # Packages came by name from the site's lock, Pyodide from the site.
    assert any(u.startswith(pyscript_site_url + "pyodide/wasm_rt-") for u in requested)
    assert any(u == pyscript_site_url + "pyodide/pyodide.asm.wasm" for u in requested)


def test_a_page_from_another_origin_installs_wasm_rt_from_the_site(
    page, pyscript_site, pyscript_site_url, serve
):
    """The CDN recipe's part that can run offline: a page on another origin (its own
    Pyodide, as PyScript/JupyterLite from a CDN) installs wasm_rt by name from the
    site's simple/ index and fetches the model, which needs the site's CORS header."""
    site_url = pyscript_site_url
    # The other origin: another port, a Pyodide whose lock lacks wasm_rt and protobuf.
    lock = json.loads((pyscript_site / "pyodide" / "pyodide-lock.json").read_text())
    for name in ("wasm-rt", "protobuf"):
        del lock["packages"][name]
    (pyscript_site / "pyodide" / "pyodide-lock.no-wasm-rt.json").write_text(json.dumps(lock))
    elsewhere = serve(pyscript_site)
    assert site_url != elsewhere
    requested = []

    def offline(route):
        requested.append(route.request.url)
        if route.request.url.startswith((site_url, elsewhere)):
            route.continue_()
        else:
            route.abort()

    page.context.route("**/*", offline)
    page.goto(elsewhere + "run.html")
    result = page.evaluate(
        """async (SITE) => {
          const { loadPyodide } = await import("./pyodide/pyodide.mjs");
          const pyodide = await loadPyodide({
            indexURL: new URL("pyodide/", location.href).href,
            lockFileURL: new URL("pyodide/pyodide-lock.no-wasm-rt.json", location.href).href,
          });
          await pyodide.loadPackage("micropip");
          pyodide.globals.set("SITE", SITE);
          return await pyodide.runPythonAsync(`
import micropip
await micropip.install("wasm_rt", index_urls=[SITE + "simple/"])
import numpy as np
from pyodide.http import pyfetch
import wasm_rt

model = await (await pyfetch(SITE + "models/digits.onnx")).bytes()
(probs,) = wasm_rt.InferenceSession(model).run(None, {"pixels": np.zeros((1, 1, 8, 8), np.float32)})
[list(probs.shape), round(float(probs.sum()), 4)]
`).then((r) => r.toJs());
        }""",
        site_url,
    )
    assert result == [[1, 10], 1.0]
    assert any(u.startswith(site_url + "pyodide/wasm_rt-") for u in requested)
    assert not any(u.startswith(elsewhere + "pyodide/wasm_rt-") for u in requested)
