"""``wasm-rt build-site OUT --pyscript``: PyScript served from the site (stdlib only).

Adds to a built site::

    pyscript/core.js, core.css, ...   @pyscript/core from npm (``npm pack``, sha256 pinned)
    pyscript.html                     a model run from ``<script type="py">`` on the
                                      main thread and in a worker

PyScript 0.6.66 is the newest release that starts on the bundled Pyodide
0.27.7: from 0.6.72 on PyScript imports ``jsnull`` from ``pyodide.ffi``, which
Pyodide 0.27 lacks. The page points PyScript's ``interpreter`` at the site's
``pyodide/pyodide.mjs`` and asks for ``"packages": ["wasm-rt"]`` by name, so
micropip resolves wasm_rt, numpy and protobuf from the site's lock (given as
wheel URLs instead, PyScript's package cache loses numpy on a reload).

A worker resolves relative URLs against its own script, not the page, so the
page writes the configs with absolute URLs at load time; the model reaches both
interpreters through the config's ``fetch`` (into their virtual file system).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .bundle import BundleError, sha256_file

PYSCRIPT_VERSION = "0.6.66"
PYSCRIPT_NPM_SHA256 = "973182bd45a4d615c436a45a442a6fffc3a6acb170ea755ff30071b16ef5fe82"
PAGE = "pyscript.html"
TEMPLATE = Path(__file__).with_name("templates") / "pyscript.html"


def cache_root() -> Path:
    """``.cache`` of a source checkout, else ``~/.cache/wasm_rt``."""
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").exists() and (repo / "wasm_rt").is_dir():
        return repo / ".cache"
    return Path.home() / ".cache" / "wasm_rt"


def _npm_pack(spec: str, work: Path) -> Path:
    cmd = ["npm", "pack", spec, "--silent"]
    print("+", " ".join(cmd), file=sys.stderr)
    try:
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BundleError("npm is needed to fetch @pyscript/core (apt-get install npm)") from None
    if proc.returncode != 0:
        raise BundleError(f"npm pack {spec} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return work / proc.stdout.strip().splitlines()[-1]


def pyscript_dist(cache: Path | None = None) -> Path:
    """``dist/`` of the verified @pyscript/core tarball (fetched once, then cached)."""
    dest = (cache or cache_root()) / f"pyscript-{PYSCRIPT_VERSION}"
    tgz = dest / f"pyscript-core-{PYSCRIPT_VERSION}.tgz"
    if tgz.is_file() and sha256_file(tgz) == PYSCRIPT_NPM_SHA256 and (dest / "dist").is_dir():
        return dest / "dist"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wasm_rt_pyscript_") as tmp:
        work = Path(tmp)
        got = _npm_pack(f"@pyscript/core@{PYSCRIPT_VERSION}", work)
        digest = sha256_file(got)
        if digest != PYSCRIPT_NPM_SHA256:
            raise BundleError(
                f"sha256 mismatch for @pyscript/core {PYSCRIPT_VERSION}:\n"
                f"  expected {PYSCRIPT_NPM_SHA256}\n  got      {digest}\nNothing was installed."
            )
        stage = work / "stage"
        (stage / "dist").mkdir(parents=True)
        with tarfile.open(got) as tar:
            for member in tar.getmembers():
                name = member.name
                # Only the built files; source maps are for debugging PyScript itself.
                if member.isfile() and name.startswith("package/dist/") and "/" not in (
                    rel := name[len("package/dist/") :]
                ) and not rel.endswith(".map"):
                    (stage / "dist" / rel).write_bytes(tar.extractfile(member).read())
        if not (stage / "dist" / "core.js").is_file():
            raise BundleError(f"{got.name} has no package/dist/core.js")
        shutil.copy(got, stage / tgz.name)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(stage), str(dest))
    return dest / "dist"


def add_pyscript(out: Path) -> dict:
    """Copy PyScript into ``out/pyscript/`` and write the example page.

    Returns the manifest entry (also written into ``out/manifest.json``).
    """
    out = Path(out)
    shutil.copytree(pyscript_dist(), out / "pyscript")
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    model = next(
        (m for m in manifest["models"] if m["name"] == "digits.onnx"), manifest["models"][0]
    )
    page = TEMPLATE.read_text().replace("{{MODEL}}", model["url"])
    (out / PAGE).write_text(page)
    entry = {"version": PYSCRIPT_VERSION, "core": "pyscript/core.js", "page": PAGE}
    manifest["pyscript"] = entry
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return entry

