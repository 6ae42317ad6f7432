"""The browser delivery on the host: bundle verification, site layout, wheel, server headers."""

from __future__ import annotations

import json
import shutil
import urllib.request
import zipfile

import pytest

from wasm_rt.site import bundle
from wasm_rt.site.build import build_site
from wasm_rt.site.wheel import make_wheel
from wasm_rt.site.server import BackgroundServer


@pytest.fixture(scope="module")
def pyodide_bundle():
    try:
        return bundle.ensure_bundle(quiet=True)
    except bundle.BundleError as exc:
        pytest.skip(f"the Pyodide bundle cannot be assembled here: {exc}")


def test_bundle_is_verified_and_tampering_is_detected(pyodide_bundle, tmp_path):
    assert bundle.verify_bundle(pyodide_bundle)
    copy = tmp_path / "pyodide"
    shutil.copytree(pyodide_bundle, copy)
    wheel = next(copy.glob("numpy-*.whl"))
    data = bytearray(wheel.read_bytes())
    data[100] ^= 0xFF
    wheel.write_bytes(bytes(data))
    assert not bundle.verify_bundle(copy)


def test_hash_mismatch_is_a_loud_error(tmp_path):
    f = tmp_path / "x.whl"
    f.write_bytes(b"not the real file")
    with pytest.raises(bundle.BundleError, match="sha256 mismatch"):
        bundle._check(f, "0" * 64, "test package")


def test_lock_lists_only_bundled_packages_with_their_hashes(pyodide_bundle):
    lock = json.loads((pyodide_bundle / "pyodide-lock.json").read_text())
    assert set(lock["packages"]) == {*bundle.LOCK_PACKAGES, "protobuf"}
    for entry in lock["packages"].values():
        assert (
            bundle.sha256_file(pyodide_bundle / entry["file_name"]) == entry["sha256"]
        )
    assert lock["packages"]["protobuf"]["file_name"].endswith("py3-none-any.whl")


def test_wheel_contents(tmp_path):
    wheel = make_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "wasm_rt/__init__.py" in names and "wasm_rt/data/digits.onnx" in names
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        record = zf.read(next(n for n in names if n.endswith("RECORD"))).decode()
        assert len(record.splitlines()) == len(names)


def test_build_site_layout(pyodide_bundle, tmp_path):
    site = build_site(tmp_path / "site")
    manifest = json.loads((site / "manifest.json").read_text())
    assert manifest["packages"] == ["numpy", "protobuf", "wasm-rt"]
    assert (site / manifest["wheel"]).exists() and (
        site / "models" / "digits.onnx"
    ).exists()
    for name in ("index.html", "wasm_rt.js", "worker.js", "pyodide/pyodide.asm.wasm"):
        assert (site / name).exists(), name
    lock = json.loads((site / "pyodide" / "pyodide-lock.json").read_text())
    assert lock["packages"]["wasm-rt"]["depends"] == ["numpy", "protobuf"]
    # Rebuilding over a previous build works; over a foreign folder it refuses.
    build_site(site)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(Exception, match="not a wasm_rt site"):
        build_site(foreign)


def test_server_headers(tmp_path):
    (tmp_path / "a.wasm").write_bytes(b"\0asm")
    (tmp_path / "m.mjs").write_text("export {}")
    with BackgroundServer(tmp_path) as url:
        with urllib.request.urlopen(url + "a.wasm") as r:
            assert r.headers["Content-Type"] == "application/wasm"
            assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        with urllib.request.urlopen(url + "m.mjs") as r:
            assert r.headers["Content-Type"].startswith("text/javascript")
    assert url.startswith("http://127.0.0.1:")


def test_simple_index_links_the_site_wheels_with_hashes(pyodide_bundle, tmp_path):
    import hashlib
    import re

    site = build_site(tmp_path / "site", base_path="/app/")
    assert "wasm-rt/" in (site / "simple" / "index.html").read_text()
    # micropip asks for simple/<name as typed>/: every likely spelling answers.
    for spelling, file_glob in (
        ("wasm-rt", "wasm_rt-*.whl"),
        ("wasm_rt", "wasm_rt-*.whl"),
        ("protobuf", "protobuf-*.whl"),
    ):
        page = (site / "simple" / spelling / "index.html").read_text()
        (href,) = re.findall(r'href="([^"]+)"', page)
        path, digest = href.split("#sha256=")
        (wheel,) = (site / "pyodide").glob(file_glob)
        assert path == f"/app/pyodide/{wheel.name}"
        assert digest == hashlib.sha256(wheel.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="absolute URL path"):
        build_site(tmp_path / "site2", base_path="app/")
