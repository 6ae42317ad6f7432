"""Pyodide 314 (the line PyScript 0.7 and JupyterLite 0.8 load): its core from npm
loads wasm_rt's SIMD side module through ctypes and gets correct products, and a
site can be built on it with ``wasm-rt build-site --pyodide DIR``.

The npm tarball holds the core and the lock but no package wheels (numpy is not
there), so the products are checked on raw ctypes buffers against a pure-Python
triple loop.  The tarball is fetched once with ``npm pack`` (hash pinned) into
``.cache/pyodide-314.0.8``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from wasm_rt.site import bundle
from wasm_rt.site.build import build_site

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"

VERSION = "314.0.8"
NPM_SHA256 = "9a52704e0ae5b07aaacb8e4fed9f1658e8024694a078695ea45ac79dee4cefcb"
CACHE = REPO / ".cache" / f"pyodide-{VERSION}"
GEMM_WASM = REPO / "wasm_rt" / "native" / "gemm.wasm"


@pytest.fixture(scope="module")
def pyodide314() -> Path:
    if (CACHE / "pyodide-lock.json").exists():
        return CACHE
    if shutil.which("npm") is None:
        (pytest.fail if IN_CI else pytest.skip)(
            "npm is needed to fetch the Pyodide 314 core"
        )
    work = CACHE.with_name(CACHE.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    subprocess.run(
        ["npm", "pack", f"pyodide@{VERSION}", "--silent"], cwd=work, check=True
    )
    tgz = work / f"pyodide-{VERSION}.tgz"
    assert bundle.sha256_file(tgz) == NPM_SHA256, "the npm Pyodide 314 tarball changed"
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            if member.isfile() and "/" not in member.name.removeprefix("package/"):
                (work / Path(member.name).name).write_bytes(
                    tar.extractfile(member).read()
                )
    tgz.unlink()
    work.rename(CACHE)
    return CACHE


def test_side_module_loads_and_multiplies_in_pyodide_314(
    page, serve, pyodide314, tmp_path
):
    root = tmp_path / "root"
    shutil.copytree(pyodide314, root / "pyodide")
    shutil.copy(GEMM_WASM, root / "gemm.wasm")
    (root / "index.html").write_text("<!DOCTYPE html><title>314</title>")
    url = serve(root)
    page.goto(url + "index.html")
    result = page.evaluate(
        """async () => {
          const { loadPyodide } = await import("./pyodide/pyodide.mjs");
          const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", location.href).href });
          const wasm = new Uint8Array(await (await fetch("gemm.wasm")).arrayBuffer());
          pyodide.FS.writeFile("/tmp/gemm.wasm", wasm);
          return pyodide.runPython(`
import ctypes, random, sys
lib = ctypes.CDLL("/tmp/gemm.wasm")
i, p = ctypes.c_int, ctypes.c_void_p
f = lib.wasm_rt_sgemm_batched
f.restype = None
f.argtypes = [i, i, i, i, p, i, i, i, p, i, i, i, p, i, i, i, p]
rng = random.Random(0)
results = []
# Shapes around the kernel's 4x8 register tile and its KC=256 depth block.
for m, n, k in [(1, 1, 1), (5, 9, 3), (17, 33, 300), (64, 64, 64)]:
    A = (ctypes.c_float * (m * k))(*[rng.randint(-8, 8) / 4 for _ in range(m * k)])
    B = (ctypes.c_float * (k * n))(*[rng.randint(-8, 8) / 4 for _ in range(k * n)])
    C = (ctypes.c_float * (m * n))()
    work = (ctypes.c_float * (lib.wasm_rt_gemm_work_floats() + 4))()
    w = (ctypes.addressof(work) + 15) & ~15
    # batch, m, n, k, a, bsa, rsa, csa, b, bsb, rsb, csb, c, bsc, rsc, acc, work
    f(1, m, n, k, ctypes.addressof(A), 0, k, 1, ctypes.addressof(B), 0, n, 1,
      ctypes.addressof(C), 0, n, 0, w)
    want = [sum(A[r * k + q] * B[q * n + c] for q in range(k)) for r in range(m) for c in range(n)]
    # Inputs are multiples of 1/4 with small sums: every product and sum is exact in float32.
    results.append(list(C) == want)
[sys.version.split()[0], lib.wasm_rt_gemm_abi(), results]
`).toJs();
        }"""
    )
    py_version, abi, checks = result
    assert py_version.startswith("3.14") and abi == 3
    assert checks == [True, True, True, True]


def test_site_on_a_users_pyodide_distribution(pyodide314, tmp_path):
    site = build_site(tmp_path / "site", pyodide_dir=pyodide314)
    manifest = json.loads((site / "manifest.json").read_text())
    assert (
        manifest["pyodide"]["version"] == VERSION and not manifest["pyodide"]["bundled"]
    )
    lock = json.loads((site / "pyodide" / "pyodide-lock.json").read_text())
    assert lock["info"]["python"].startswith("3.14")  # the distribution's own lock
    entry = lock["packages"]["wasm-rt"]
    assert (site / "pyodide" / entry["file_name"]).exists()
    assert bundle.sha256_file(site / "pyodide" / entry["file_name"]) == entry["sha256"]
    # The simple/ index serves wasm_rt and the pinned pure-Python protobuf.
    assert (site / manifest["protobufWheel"]).name == bundle.PROTOBUF_WHEEL
    assert (
        bundle.PROTOBUF_WHEEL
        in (site / "simple" / "protobuf" / "index.html").read_text()
    )
    # The user's folder is left as it was.
    assert (
        "wasm-rt"
        not in json.loads((pyodide314 / "pyodide-lock.json").read_text())["packages"]
    )


def test_a_folder_that_is_not_a_distribution_is_refused(tmp_path):
    folder = tmp_path / "not-pyodide"
    folder.mkdir()
    (folder / "pyodide-lock.json").write_text(json.dumps({"info": {"version": "1"}}))
    with pytest.raises(bundle.BundleError, match="lacks"):
        bundle.pyodide_distribution(folder)
    (folder / "pyodide-lock.json").unlink()
    (folder / "readme.txt").write_text("x")
    with pytest.raises(bundle.BundleError, match="neither"):
        bundle.pyodide_distribution(folder)
