"""wasm_rt.compat inside Pyodide: a package written for onnxruntime (text2tashkeel 0.1.0,
numpy + onnxruntime, int8 models in its wheel) runs unchanged in the page and gives the
host onnxruntime's results. The package's files are served from the site as a zip and
unpacked into site-packages (its onnxruntime dependency cannot be resolved by micropip,
which is the point)."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

SENTENCES = ["ذهب الولد الى المدرسة", "كتب الطالب الدرس في الدفتر"]
MODELS = ["rawi-int8", "rawi-v2-int8"]


def test_text2tashkeel_runs_in_pyodide_through_compat(page, site_url, site):
    text2tashkeel = pytest.importorskip("text2tashkeel")
    pytest.importorskip("onnxruntime")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    expected = {m: [text2tashkeel.Diacritizer(m).diacritize(s) for s in SENTENCES] for m in MODELS}
    pkg = Path(text2tashkeel.__file__).parent
    archive = site / "text2tashkeel.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in pkg.rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                z.write(f, Path("text2tashkeel") / f.relative_to(pkg))
    manifest = json.loads((site / "manifest.json").read_text())
    page.goto(site_url + "run.html")
    try:
        got = page.evaluate(
            """async ([protobufWheel, wasmRtWheel, sentences, models]) => {
              const { loadPyodide } = await import("./pyodide/pyodide.mjs");
              const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", location.href).href });
              await pyodide.loadPackage(["micropip", "numpy"]);
              pyodide.globals.set("PROTOBUF_URL", new URL(protobufWheel, location.href).href);
              pyodide.globals.set("WASM_RT_URL", new URL(wasmRtWheel, location.href).href);
              pyodide.globals.set("SENTENCES", pyodide.toPy(sentences));
              pyodide.globals.set("MODELS", pyodide.toPy(models));
              return await pyodide.runPythonAsync(`
import io, json, site, zipfile
import micropip
await micropip.install(PROTOBUF_URL)
await micropip.install(WASM_RT_URL)
from pyodide.http import pyfetch
data = await (await pyfetch("text2tashkeel.zip")).bytes()
zipfile.ZipFile(io.BytesIO(data)).extractall(site.getsitepackages()[0])

import wasm_rt.compat
wasm_rt.compat.install()
import text2tashkeel   # unchanged: it does "import onnxruntime as ort" itself
json.dumps({m: [text2tashkeel.Diacritizer(m).diacritize(s) for s in SENTENCES] for m in MODELS})
`);
            }""",
            [manifest["protobufWheel"], manifest["wheel"], SENTENCES, MODELS],
        )
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(site / "__pycache__", ignore_errors=True)
    assert json.loads(got) == expected
