"""The wasm_rt wheel a site serves to Pyodide, made one way only.

* From a source checkout, the project's own build backend makes it (PEP 517,
  ``setuptools.build_meta``, exactly what ``pip wheel .`` runs), so its files
  and metadata are the ones ``pyproject.toml`` declares.  The build runs on a
  copy of the sources in a temporary folder (no ``build/`` or ``*.egg-info``
  left in the checkout, and two builds at once cannot collide); the result is
  cached under ``.cache/wheels/<hash of the sources>/``.
* From an installed wasm_rt (``pip install wasm_rt``, no checkout), the wheel
  that was installed is put back together: the files the distribution's
  ``RECORD`` lists, with its own ``METADATA``/``WHEEL``/``entry_points.txt``.
  Nothing is regenerated, so nothing can drift from what pip installed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CHECKOUT = PACKAGE_DIR.parent
# What the build backend reads: pyproject.toml names README.md as the readme.
SOURCE_FILES = ("pyproject.toml", "README.md")
SKIP_PARTS = ("__pycache__",)
SKIP_SUFFIXES = (".pyc", ".pyo")
# Files pip adds to an installed distribution that are not part of the wheel.
INSTALLER_FILES = ("INSTALLER", "REQUESTED", "direct_url.json", "RECORD")
FIXED_TIME = (2024, 1, 1, 0, 0, 0)  # reproducible zips
# The build backend takes zip timestamps from here: same sources, same bytes.
SOURCE_DATE_EPOCH = "1704067200"
KEEP_CACHED = 4  # wheels of the most recent source trees kept in .cache/wheels


class WheelError(RuntimeError):
    """The wheel cannot be made (no build backend, no installed distribution)."""


def is_checkout() -> bool:
    """True when wasm_rt runs from a source tree (a clone, or an editable install)."""
    return (CHECKOUT / "pyproject.toml").is_file() and (
        PACKAGE_DIR / "__init__.py"
    ).is_file()


def _source_files() -> list[Path]:
    files = [CHECKOUT / name for name in SOURCE_FILES]
    for file in sorted(PACKAGE_DIR.rglob("*")):
        if (
            file.is_file()
            and not set(SKIP_PARTS) & set(file.parts)
            and file.suffix not in SKIP_SUFFIXES
        ):
            files.append(file)
    return files


def _sources_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(CHECKOUT).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:16]


def build_from_checkout(dest_dir: Path) -> Path:
    """``setuptools.build_meta.build_wheel`` on a copy of the checkout's sources."""
    files = _source_files()
    cache = CHECKOUT / ".cache" / "wheels" / _sources_digest(files)
    cached = sorted(cache.glob("wasm_rt-*-py3-none-any.whl")) if cache.is_dir() else []
    if not cached:
        with tempfile.TemporaryDirectory(prefix="wasm_rt_wheel_") as tmp:
            src = Path(tmp) / "src"
            for file in files:
                target = src / file.relative_to(CHECKOUT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target)
            out = Path(tmp) / "out"
            out.mkdir()
            hook = (
                "import sys, setuptools.build_meta as b; "
                "print(b.build_wheel(sys.argv[1]))"
            )
            proc = subprocess.run(
                [sys.executable, "-c", hook, str(out)],
                cwd=src,
                env={**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH},
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise WheelError(
                    "building the wasm_rt wheel with setuptools failed (is setuptools "
                    f"installed in {sys.prefix}?):\n{proc.stderr[-2000:]}"
                )
            built = out / proc.stdout.strip().splitlines()[-1]
            cache.mkdir(parents=True, exist_ok=True)
            shutil.copy2(built, cache / built.name)
            _prune(cache.parent)
        cached = [cache / built.name]
    dest = Path(dest_dir) / cached[0].name
    shutil.copy2(cached[0], dest)
    return dest


def _prune(root: Path) -> None:
    """Keep the wheels of the last few source trees (helpers edit sources often)."""
    dirs = sorted(
        (d for d in root.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime
    )
    for old in dirs[:-KEEP_CACHED]:
        shutil.rmtree(old, ignore_errors=True)


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def repack_installed(dest_dir: Path) -> Path:
    """The installed distribution's files, as the wheel pip installed them from."""
    try:
        dist = metadata.distribution("wasm_rt")
    except metadata.PackageNotFoundError as e:
        raise WheelError(
            "wasm_rt is neither a source checkout nor an installed distribution"
        ) from e
    files = dist.files or []
    info_dir = next(
        (f.parts[0] for f in files if f.parts[0].endswith(".dist-info")), None
    )
    if info_dir is None:
        raise WheelError(
            f"the installed wasm_rt {dist.version} has no RECORD to rebuild its wheel from"
        )
    entries: list[tuple[str, bytes]] = []
    for f in files:
        name = f.as_posix()
        top = f.parts[0]
        if top == info_dir:
            if f.name in INSTALLER_FILES:
                continue
        elif (
            top != "wasm_rt"
            or set(SKIP_PARTS) & set(f.parts)
            or f.suffix in SKIP_SUFFIXES
        ):
            continue  # console scripts in bin/, bytecode
        path = Path(f.locate())
        if not path.is_file():
            raise WheelError(f"the installed wasm_rt is incomplete: {name} is missing")
        entries.append((name, path.read_bytes()))
    entries.sort()
    record = "".join(f"{n},{_record_hash(d)},{len(d)}\n" for n, d in entries)
    entries.append((f"{info_dir}/RECORD", (record + f"{info_dir}/RECORD,,\n").encode()))
    path = Path(dest_dir) / f"wasm_rt-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return path


def make_wheel(dest_dir: str | Path) -> Path:
    """The wasm_rt wheel for a site, written into ``dest_dir``."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    return (
        build_from_checkout(dest_dir) if is_checkout() else repack_installed(dest_dir)
    )
