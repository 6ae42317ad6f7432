"""``wasm-rt build-site``: a folder any static host can serve as is (stdlib only).

Layout of the output::

    index.html, wasm_rt.js, worker.js, app.js, style.css   the front end (web/)
    manifest.json                                          what the front end reads
    models/*.onnx                                          the shipped models (wasm_rt/data)
                                                           and those given with --model
    pyodide/                                               the verified Pyodide bundle,
        pyodide-lock.json                                  plus wasm_rt's wheel in the lock,
        wasm_rt-<version>-py3-none-any.whl                 so loadPackage("wasm-rt") is offline

Nothing is fetched from outside the site at run time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

from .bundle import PYODIDE_VERSION, ensure_bundle, wheel_lock_entry

PACKAGE_DIR = Path(__file__).resolve().parents[1]
FRONT_END_FILES = (
    "index.html",
    "wasm_rt.js",
    "worker.js",
    "app.js",
    "style.css",
    "run.html",
)
SKIP_SUFFIXES = (".pyc", ".pyo")
LOCK_NAME = "wasm-rt"
PACKAGES = ["numpy", "protobuf", LOCK_NAME]


class SiteError(RuntimeError):
    """The site cannot be built (missing front end, model or wheel)."""


def front_end_dir() -> Path:
    """``web/`` of a source checkout."""
    candidate = PACKAGE_DIR.parent / "web"
    if (candidate / "wasm_rt.js").exists():
        return candidate
    raise SiteError(
        f"the front end (web/wasm_rt.js) was not found next to {PACKAGE_DIR}; "
        "build the site from a source checkout of wasm_rt"
    )


def package_version() -> str:
    init = (PACKAGE_DIR / "__init__.py").read_text()
    for line in init.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise SiteError("wasm_rt/__init__.py has no __version__")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def make_wheel(dest_dir: Path) -> Path:
    """Pack the importable ``wasm_rt`` package as a pure-Python wheel.

    Same contents as ``python -m build --wheel`` (every file of the package but
    bytecode), written with zipfile so that the site builder needs no build
    tools. Timestamps are fixed, so the wheel is reproducible.
    """
    version = package_version()
    dist_info = f"wasm_rt-{version}.dist-info"
    path = Path(dest_dir) / f"wasm_rt-{version}-py3-none-any.whl"
    entries: list[tuple[str, bytes]] = []
    for file in sorted(PACKAGE_DIR.rglob("*")):
        if file.is_dir() or "__pycache__" in file.parts or file.suffix in SKIP_SUFFIXES:
            continue
        entries.append(
            (f"wasm_rt/{file.relative_to(PACKAGE_DIR).as_posix()}", file.read_bytes())
        )
    metadata = (
        f"Metadata-Version: 2.1\nName: wasm_rt\nVersion: {version}\n"
        "Requires-Python: >=3.11\nRequires-Dist: numpy>=1.26\nRequires-Dist: protobuf>=5.26\n"
    )
    wheel = "Wheel-Version: 1.0\nGenerator: wasm_rt.site\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries.append((f"{dist_info}/METADATA", metadata.encode()))
    entries.append((f"{dist_info}/WHEEL", wheel.encode()))
    entries.append((f"{dist_info}/top_level.txt", b"wasm_rt\n"))
    record = "".join(f"{n},{_record_hash(d)},{len(d)}\n" for n, d in entries)
    record += f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return path


def _wheel_version(wheel: Path) -> str:
    parts = wheel.name.split("-")
    if len(parts) != 5 or not wheel.name.endswith("-py3-none-any.whl"):
        raise SiteError(f"{wheel.name} is not a pure-Python wasm_rt wheel")
    return parts[1]


def build_site(
    out: str | Path,
    models: list[str | Path] = (),
    pyodide_dir: str | Path | None = None,
    wheel: str | Path | None = None,
) -> Path:
    """Write the static site into ``out`` (replacing what a previous build wrote)."""
    out = Path(out)
    web = front_end_dir()
    bundle = ensure_bundle(Path(pyodide_dir) if pyodide_dir else None, quiet=True)
    if out.exists():
        if not (out / "manifest.json").exists() and any(out.iterdir()):
            raise SiteError(
                f"{out} exists and is not a wasm_rt site; choose an empty folder"
            )
        shutil.rmtree(out)
    pyodide_out = out / "pyodide"
    shutil.copytree(bundle, pyodide_out, ignore=shutil.ignore_patterns("*.orig.json"))

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
    manifest = {
        "pyodide": {"version": PYODIDE_VERSION, "indexURL": "pyodide/"},
        "packages": PACKAGES,
        "wheel": f"pyodide/{wheel_path.name}",
        "protobufWheel": "pyodide/" + lock["packages"]["protobuf"]["file_name"],
        "models": model_entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out
