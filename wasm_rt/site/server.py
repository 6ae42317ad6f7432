"""Serve a folder on 127.0.0.1 the way the browser front end needs (stdlib only).

Every response carries the cross-origin isolation headers (COOP/COEP), so the
page may use ``SharedArrayBuffer``; ``.wasm`` files go out as ``application/wasm``
so that streaming compilation works; nothing is cached, so a rebuilt site is
picked up on reload. ``Access-Control-Allow-Origin: *`` lets pages served from
elsewhere (PyScript or JupyterLite on their CDN Pyodide) fetch the wheels, the
``simple/`` index and the models: the site holds only public static files.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from typing import ClassVar

MIME_TYPES = {
    ".wasm": "application/wasm",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".onnx": "application/octet-stream",
    ".npy": "application/octet-stream",
    ".pb": "application/octet-stream",
    ".wgsl": "text/plain",
}
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": "no-store",
}


class SiteRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with isolation headers and the MIME types above."""

    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        **MIME_TYPES,
    }
    quiet = True

    def end_headers(self) -> None:
        for key, value in ISOLATION_HEADERS.items():
            self.send_header(key, value)
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        if not self.quiet:
            super().log_message(format, *args)


def make_server(
    root: str | Path, port: int = 0, quiet: bool = True
) -> http.server.ThreadingHTTPServer:
    """A server for ``root`` bound to 127.0.0.1 (``port=0`` picks a free port)."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"cannot serve {root}: not a folder")
    handler = functools.partial(SiteRequestHandler, directory=str(root))
    handler.quiet = quiet  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


def url_of(server: http.server.HTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"


class BackgroundServer:
    """``with BackgroundServer(folder) as url:`` serves ``folder`` from a thread."""

    def __init__(self, root: str | Path, port: int = 0) -> None:
        self.server = make_server(root, port)
        self.url = url_of(self.server)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_forever(root: str | Path, port: int = 8000) -> None:
    """Serve ``root`` until Ctrl-C, printing the URL (``wasm-rt serve``)."""
    server = make_server(root, port, quiet=False)
    print(
        f"Serving {Path(root).resolve()} at {url_of(server)}  (Ctrl-C to stop)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
