"""``wasm-rt build-site --jupyterlite``: the example notebook, run in JupyterLite's Notebook UI
with the Pyodide kernel on the site's Pyodide 0.27.7, installs wasm_rt from the site's lock,
fetches the model from the site and prints the result host wasm_rt gives; nothing is fetched
from outside the site. (The lite build is cached under .cache/ by versions.)"""

from __future__ import annotations

import numpy as np
import pytest

import wasm_rt
from wasm_rt.site.build import PACKAGE_DIR, build_site

DONE_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
  .some((e) => e.textContent.includes('argmax='))"""
IDLE_JS = """() => document.querySelector('.jp-Notebook-ExecutionIndicator')
  ?.getAttribute('data-status') === 'idle'"""


@pytest.fixture(scope="module")
def lite_site_url(tmp_path_factory, serve) -> str:
    return serve(build_site(tmp_path_factory.mktemp("lite") / "site", jupyterlite=True))


def test_notebook_runs_wasm_rt_to_the_end(page, lite_site_url):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    requested = []

    def offline(route):
        requested.append(route.request.url)
        if route.request.url.startswith(lite_site_url):
            route.continue_()
        else:
            route.abort()

    page.context.route("**/*", offline)
    page.goto(lite_site_url + "lab/notebooks/index.html?path=wasm_rt.ipynb")
    try:
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_function(IDLE_JS, timeout=90_000)  # the kernel has started
        page.click('.lm-MenuBar-itemLabel:text-is("Run")', timeout=10_000)
        page.click('.lm-Menu-itemLabel:text-is("Run All Cells")', timeout=10_000)
        page.wait_for_function(DONE_JS, timeout=90_000)
    except PlaywrightTimeout:
        outputs = [o.inner_text() for o in page.query_selector_all(".jp-OutputArea-output")]
        pytest.fail(
            f"the notebook did not finish; outputs {outputs}\n"
            + "\n".join(page.console_log[-30:])
        )

    sess = wasm_rt.InferenceSession(str(PACKAGE_DIR / "data" / "digits.onnx"))
    (probs,) = sess.run(None, {"pixels": np.zeros((1, 1, 8, 8), np.float32)})
    outputs = [o.inner_text().strip() for o in page.query_selector_all(".jp-OutputArea-output")]
    result = (
        f"wasm_rt {wasm_rt.__version__}: NumpyExecutionProvider shape=[1, 10] "
        f"argmax={int(probs.argmax())} sum={float(probs.sum()):.4f}"
    )
    assert outputs == [
        repr(wasm_rt.__version__),
        "[NodeArg(name='pixels', type='tensor(float)', shape=['batch', 1, 8, 8])]",
        result,
    ]
    assert not [u for u in requested if not u.startswith(lite_site_url)]
    # The kernel booted the site's Pyodide and took wasm_rt and its own packages from it.
    for file in ("pyodide/pyodide.asm.wasm", "pyodide/wasm_rt-", "pyodide/ipython-"):
        assert any(u.startswith(lite_site_url + file) for u in requested), file
