"""``wasm-rt run MODEL --browser``: the same run, inside Pyodide in headless Chromium.

The host builds the site into a temporary folder, serves it on 127.0.0.1 and
opens ``run.html`` with Playwright. The worker writes the model (and the
``--inputs`` file) into Pyodide's file system and runs ``wasm_rt.cli`` there
with the same arguments, so options and output are those of the host run;
``--save`` files are copied back. Needs the ``playwright`` Python package.
"""

from __future__ import annotations

import base64
import shutil
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--enable-unsafe-webgpu",
]
TIMEOUT_MS = 30 * 60 * 1000


class BrowserRunError(RuntimeError):
    """The browser run could not start (no Chromium, no Playwright, no model)."""


def _argv(args) -> list[str]:
    """The host arguments, with files replaced by their paths inside Pyodide."""
    argv = ["run"]
    if args.model:
        argv.append("/work/" + Path(args.model).name)
    for flag in ("provider", "repeat", "seed", "optimization"):
        value = getattr(args, flag, None)
        if value is not None:
            argv += [f"--{flag}", str(value)]
    for dim in args.dim or []:
        argv += ["--dim", dim]
    if args.inputs:
        argv += ["--inputs", "/work/" + Path(args.inputs).name]
    if args.save:
        argv += ["--save", "/tmp/wasm_rt_outputs.npz"]
    if args.json:
        argv.append("--json")
    return argv


def run_in_browser(args) -> int:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserRunError(
            "needs the playwright Python package (pip install playwright)"
        ) from None
    chromium = args.chromium or CHROMIUM
    if not Path(chromium).exists():
        raise BrowserRunError(
            f"no Chromium at {chromium}; install it (apt-get install chromium)"
        )
    from .build import build_site
    from .server import BackgroundServer

    files = [Path(p) for p in (args.model, args.inputs) if p]
    for f in files:
        if not f.is_file():
            raise BrowserRunError(f"{f} does not exist")
    with tempfile.TemporaryDirectory(prefix="wasm_rt_browser_") as tmp:
        site = build_site(Path(tmp) / "site")
        (site / "work").mkdir()
        for f in files:
            shutil.copy(f, site / "work" / f.name)
        with BackgroundServer(site) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(url + "run.html")
                page.wait_for_function("window.wasmRtReady === true")
                try:
                    result = page.evaluate(
                        "([argv, files, save]) => wasm_rt.debug.cli(argv, files, save)",
                        [
                            _argv(args),
                            {f"/work/{f.name}": f"work/{f.name}" for f in files},
                            "/tmp/wasm_rt_outputs.npz" if args.save else None,
                        ],
                    )
                except PlaywrightError as exc:
                    message = str(exc).split("\n")[0].removeprefix("Page.evaluate: ")
                    raise BrowserRunError(message) from None
            finally:
                browser.close()
    sys.stdout.write(result["stdout"])
    sys.stderr.write(result["stderr"])
    if args.save and result.get("saved"):
        Path(args.save).write_bytes(base64.b64decode(result["saved"]))
    return int(result["code"])
