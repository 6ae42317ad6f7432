"""Browser delivery: the Pyodide bundle, the static site, its server.

Everything imported here is stdlib only, so the package imports in Pyodide.
:func:`cli_commands` gives ``wasm_rt.cli`` the ``build-site`` and ``serve``
subcommands and the ``--browser`` option of ``run``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_SITE = "site"


def _add_build_site_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", help="output folder (replaced if it is a previous build)")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="FILE",
        help="an .onnx file to include under models/ (repeatable)",
    )
    p.add_argument(
        "--pyodide",
        metavar="DIR",
        help="a Pyodide distribution with its pyodide-lock.json (any version), or the "
        "folder of wasm_rt's own bundle (default: .cache/pyodide, assembled if absent)",
    )
    p.add_argument(
        "--wheel",
        metavar="FILE",
        help="a prebuilt wasm_rt wheel (default: build it from this checkout, or "
        "re-pack the installed distribution)",
    )
    p.add_argument(
        "--base-path",
        default="/",
        metavar="PATH",
        help="URL path the site is served under, for the simple/ index's links (default: /)",
    )
    p.add_argument(
        "--pyscript",
        action="store_true",
        help="add PyScript (from npm, hash-pinned) and pyscript.html, a model run "
        "from <script type=\"py\"> on the main thread and in a worker",
    )
    p.add_argument(
        "--jupyterlite",
        action="store_true",
        help="add a JupyterLite site under lab/ with an example notebook (builds it "
        "with jupyterlite in a separate venv under the cache, created on demand)",
    )


def _cmd_build_site(args) -> int:
    from .build import SiteError, build_site
    from .bundle import BundleError
    from .wheel import WheelError

    try:
        out = build_site(
            args.out,
            args.model,
            args.pyodide,
            args.wheel,
            base_path=args.base_path,
            pyscript=args.pyscript,
            jupyterlite=args.jupyterlite,
        )
    except (SiteError, BundleError, WheelError, ValueError) as exc:
        print(f"wasm-rt build-site: {exc}", file=sys.stderr)
        return 2
    print(f"Site written to {out}; serve it with: wasm-rt serve {args.out}")
    return 0


def _add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "out",
        nargs="?",
        default=DEFAULT_SITE,
        help=f"the folder build-site wrote (default: {DEFAULT_SITE})",
    )
    p.add_argument(
        "--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)"
    )


def _cmd_serve(args) -> int:
    from .server import serve_forever

    if not (Path(args.out) / "manifest.json").exists():
        print(
            f"wasm-rt serve: {args.out} is not a built site; run: wasm-rt build-site {args.out}",
            file=sys.stderr,
        )
        return 2
    serve_forever(args.out, args.port)
    return 0


def _with_browser_option(add_args, handler):
    def add(p: argparse.ArgumentParser) -> None:
        add_args(p)
        p.add_argument(
            "--browser",
            action="store_true",
            help="run inside Pyodide in headless Chromium instead of this Python",
        )
        p.add_argument(
            "--chromium",
            default=None,
            metavar="PATH",
            help="the Chromium binary for --browser (default /usr/bin/chromium)",
        )

    def run(args) -> int:
        if not args.browser:
            return handler(args)
        from .browser_run import BrowserRunError, run_in_browser

        try:
            return run_in_browser(args)
        except BrowserRunError as exc:
            print(f"wasm-rt run --browser: {exc}", file=sys.stderr)
            return 2

    return add, run


def cli_commands() -> dict[
    str, tuple[Callable[[Any], None], Callable[[Any], int], str]
]:
    """Subcommands for ``wasm_rt.cli`` (name -> (add_arguments, handler, help))."""
    from ..cli import SUBCOMMANDS

    commands = {
        "build-site": (
            _add_build_site_arguments,
            _cmd_build_site,
            "write the static browser site (Pyodide, wheel, front end, models)",
        ),
        "serve": (
            _add_serve_arguments,
            _cmd_serve,
            "serve a built site on 127.0.0.1 with the headers it needs",
        ),
    }
    if "run" in SUBCOMMANDS:
        add_args, handler, help_text = SUBCOMMANDS["run"]
        if not getattr(add_args, "_with_browser", False):
            add, run = _with_browser_option(add_args, handler)
            add._with_browser = True  # type: ignore[attr-defined]
            commands["run"] = (add, run, help_text)
    return commands
