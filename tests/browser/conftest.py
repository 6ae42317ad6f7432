"""Browser test harness: a static server on 127.0.0.1 and Playwright on Debian's chromium.

Reusable fixtures (the WebGPU provider's tests use them too):

* ``serve(folder) -> url``: serve any folder with COOP/COEP and ``application/wasm``;
* ``browser``: headless chromium with the flags that work here, WebGPU included;
* ``site`` / ``site_url``: ``wasm-rt build-site`` output for this checkout, served;
* ``page``: a fresh page (own context) that records console output and page errors;
* ``rt_page``: one page per test module on ``run.html`` with ``window.wasm_rt``
  imported and the worker booted, so Pyodide starts once per module.

Without chromium the tests are skipped locally and fail in CI (``CI=true``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from wasm_rt.site.server import BackgroundServer

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("WASM_RT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--enable-unsafe-webgpu",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = REPO / "test-artifacts"
BOOT_TIMEOUT_MS = 120_000


def _missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: browser tests must run in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        _missing(
            f"chromium not found at {CHROMIUM}; install it with apt-get install -y chromium"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing(
            "the Python package playwright is not installed (requirements-dev.txt)"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def serve():
    """Factory: ``serve(folder)`` returns the base URL (ends with '/')."""
    servers = []

    def start(folder: str | Path) -> str:
        server = BackgroundServer(folder)
        servers.append(server)
        return server.__enter__()

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The static site of this checkout (front end, wheel, Pyodide bundle)."""
    from wasm_rt.site.build import build_site

    return build_site(tmp_path_factory.mktemp("site") / "site")


@pytest.fixture(scope="session")
def site_url(site, serve) -> str:
    return serve(site)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _new_page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.console_log = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.console_log.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page.console_log.append(f"pageerror: {e}"))
    page.set_default_timeout(BOOT_TIMEOUT_MS)
    return context, page


@pytest.fixture
def page(browser):
    context, page = _new_page(browser)
    yield page
    context.close()


def open_runner(page, site_url: str) -> None:
    """Go to run.html and wait until ``window.wasm_rt`` is there."""
    page.goto(site_url + "run.html")
    page.wait_for_function("window.wasmRtReady === true")


@pytest.fixture(scope="module")
def rt_page(browser, site_url):
    context, page = _new_page(browser)
    open_runner(page, site_url)
    yield page
    context.close()


def copy_artifact(path: Path, artifacts: Path) -> Path:
    target = artifacts / path.name
    shutil.copy(path, target)
    return target


# Lines the browser tests want in the terminal summary (counts, timings).
REPORT: list[str] = []


@pytest.fixture(scope="session")
def browser_report():
    return REPORT


def pytest_terminal_summary(terminalreporter):
    if REPORT:
        terminalreporter.section("browser results")
        for line in REPORT:
            terminalreporter.write_line(line)
