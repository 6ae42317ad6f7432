"""``wasm-rt build-site``: a folder any static host can serve as is.

Layout of the output::

    index.html, wasm_rt.js, worker.js, app.js, style.css   the front end (wasm_rt/web/)
    manifest.json                                          what the front end reads
    models/*.onnx                                          the shipped models (wasm_rt/data)
                                                           and those given with --model
    pyodide/                                               the verified Pyodide bundle,
        pyodide-lock.json                                  plus wasm_rt's wheel in the lock,
        wasm_rt-<version>-py3-none-any.whl                 so loadPackage("wasm-rt") is offline
    simple/                                                a PEP 503 index of wasm_rt and
                                                           protobuf, for micropip.install
                                                           by name from any Pyodide

The wheel comes from the one build path in :mod:`wasm_rt.site.wheel`.

Nothing is fetched from outside the site at run time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .bundle import fetch_protobuf_wheel, pyodide_distribution, wheel_lock_entry
from .simple_index import write_simple_index
from .wheel import make_wheel

PACKAGE_DIR = Path(__file__).resolve().parents[1]
FRONT_END_FILES = (
    "index.html",
    "wasm_rt.js",
    "wasm_rt.global.js",
    "worker.js",
    "app.js",
    "style.css",
    "run.html",
)
LOCK_NAME = "wasm-rt"
PACKAGES = ["numpy", "protobuf", LOCK_NAME]


class SiteError(RuntimeError):
    """The site cannot be built (missing front end, model or wheel)."""


def front_end_dir() -> Path:
    """``wasm_rt/web/``: the front end ships inside the package (and its wheel)."""
    web = PACKAGE_DIR / "web"
    if not (web / "wasm_rt.js").exists():
        raise SiteError(f"the front end ({web}/wasm_rt.js) is missing: a broken install")
    return web


def _wheel_version(wheel: Path) -> str:
    parts = wheel.name.split("-")
    if len(parts) != 5 or not wheel.name.endswith("-py3-none-any.whl"):
        raise SiteError(f"{wheel.name} is not a pure-Python wasm_rt wheel")
    return parts[1]


def _protobuf_wheel(pyodide_out: Path, lock: dict) -> Path:
    """The distribution's pure-Python protobuf wheel, else the pinned one added."""
    entry = lock["packages"].get("protobuf")
    pure = entry and entry["file_name"].endswith("-py3-none-any.whl")
    if pure and (pyodide_out / entry["file_name"]).is_file():
        return pyodide_out / entry["file_name"]
    return fetch_protobuf_wheel(pyodide_out)


def build_site(
    out: str | Path,
    models: list[str | Path] = (),
    pyodide_dir: str | Path | None = None,
    wheel: str | Path | None = None,
    base_path: str = "/",
    pyscript: bool = False,
    jupyterlite: bool = False,
) -> Path:
    """Write the static site into ``out`` (replacing what a previous build wrote).

    ``base_path`` is the URL path the site is served under; the ``simple/``
    index links its wheels from there (micropip resolves an index's relative
    links against the host, not the page). ``pyscript`` and ``jupyterlite``
    add those clients (:mod:`.pyscript`, :mod:`.jupyterlite`).
    """
    out = Path(out)
    web = front_end_dir()
    dist = pyodide_distribution(Path(pyodide_dir) if pyodide_dir else None)
    if out.exists():
        if not (out / "manifest.json").exists() and any(out.iterdir()):
            raise SiteError(
                f"{out} exists and is not a wasm_rt site; choose an empty folder"
            )
        shutil.rmtree(out)
    pyodide_out = out / "pyodide"
    shutil.copytree(
        dist.path, pyodide_out, ignore=shutil.ignore_patterns("*.orig.json")
    )

    wheel_path = Path(wheel) if wheel else make_wheel(pyodide_out)
    if wheel:
        shutil.copy(wheel_path, pyodide_out / wheel_path.name)
        wheel_path = pyodide_out / wheel_path.name
    lock_path = pyodide_out / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    lock["packages"][LOCK_NAME] = wheel_lock_entry(
        wheel_path,
        LOCK_NAME,
        _wheel_version(wheel_path),
        imports=["wasm_rt"],
        depends=["numpy", "protobuf"],
    )
    lock_path.write_text(json.dumps(lock, indent=1))
    protobuf = _protobuf_wheel(pyodide_out, lock)

    for name in FRONT_END_FILES:
        if (web / name).exists():
            shutil.copy(web / name, out / name)
    model_entries = []
    (out / "models").mkdir()
    sources = sorted((PACKAGE_DIR / "data").glob("*.onnx")) + [Path(m) for m in models]
    for src in sources:
        if not src.is_file():
            raise SiteError(f"model {src} does not exist")
        shutil.copy(src, out / "models" / src.name)
        model_entries.append(
            {"name": src.name, "url": f"models/{src.name}", "bytes": src.stat().st_size}
        )
    write_simple_index(
        out / "simple",
        {
            LOCK_NAME: [wheel_path],
            "protobuf": [protobuf],
        },
        site_root=out,
        base_path=base_path,
    )
    manifest = {
        "pyodide": {
            "version": dist.version,
            "indexURL": "pyodide/",
            "bundled": dist.bundled,
        },
        "packages": PACKAGES,
        "wheel": f"pyodide/{wheel_path.name}",
        "protobufWheel": f"pyodide/{protobuf.name}",
        "models": model_entries,
        "simpleIndex": "simple/",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if pyscript:
        from .pyscript import add_pyscript

        add_pyscript(out)
    if jupyterlite:
        from .jupyterlite import add_jupyterlite

        add_jupyterlite(out)
    return out
