"""onnxruntime-web code on wasm_rt with only the import changed, against onnxruntime-web itself.

Three pages under tests/browser/pages/ each run twice in headless Chromium: once with
onnxruntime-web 1.30 from npm (the control; .cache/ort-web, fetched with `npm pack` when
missing) and once with wasm_rt's front end in its place (the classic build
wasm_rt.global.js for the script-tag quick start, the ES module wasm_rt.js for the others):

* quickstart.html: onnxruntime-web's script-tag quick start (a MatMul model);
* classify.html: an image drawn on a canvas -> Tensor.fromImage -> a SqueezeNet -> top-5;
* probe.html: env, create/run forms and options, metadata, Tensor, image conversions; every
  check's value or error message is compared, except the differences listed in
  ``DIFFERENCES`` (each with its reason), whose wasm_rt side is asserted instead.

Pages are served from 127.0.0.1; nothing is fetched from elsewhere.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from wasm_rt.site import global_js

PAGES = Path(__file__).parent / "pages"
REPO = Path(__file__).resolve().parents[2]
ORT_WEB_VERSION = "1.30.0"
ORT_DIR = REPO / ".cache" / "ort-web"
# What ort.min.js / ort.min.mjs load next to themselves.
ORT_FILES = (
    "ort.min.js",
    "ort.min.mjs",
    "ort-wasm-simd-threaded.jsep.mjs",
    "ort-wasm-simd-threaded.jsep.wasm",
)
PAGE_TIMEOUT_MS = 240_000
RUNTIMES = {
    "ort": {"ORT_SCRIPT": "ort/ort.min.js", "ORT_MODULE": "./ort/ort.min.mjs"},
    "wasm_rt": {"ORT_SCRIPT": "wasm_rt.global.js", "ORT_MODULE": "./wasm_rt.js"},
}


def ort_web_dist() -> Path:
    dist = ORT_DIR / "package" / "dist"
    if not all((dist / f).exists() for f in ORT_FILES):
        if shutil.which("npm") is None:
            pytest.skip("onnxruntime-web is not in .cache/ort-web and npm is not installed")
        ORT_DIR.mkdir(parents=True, exist_ok=True)
        tgz = f"onnxruntime-web-{ORT_WEB_VERSION}.tgz"
        subprocess.run(["npm", "pack", f"onnxruntime-web@{ORT_WEB_VERSION}"], cwd=ORT_DIR,
                       check=True, capture_output=True)
        subprocess.run(["tar", "xzf", tgz], cwd=ORT_DIR, check=True)
    return dist


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    # IR 8: what onnxruntime-web 1.30 reads (it refuses the newest IR onnx writes).
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def quickstart_model():
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [3, 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [4, 3])
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, [3, 3])
    return _model([helper.make_node("MatMul", ["a", "b"], ["c"])], [a, b], [c])


def probe_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, 3])  # an unknown dim
    w = numpy_helper.from_array(np.array([[1, -2, 0.5], [0, 1, -1], [2, 0, -3]], np.float32), "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"]), helper.make_node("Relu", ["y"], ["z"])]
    return _model(nodes, [x], [y, z], [w])


def int4_model():
    """y = DequantizeLinear(q: int4 [5], scale 0.5): int4 tensors in and a float out."""
    q = helper.make_tensor_value_info("q", TensorProto.INT4, [5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [5])
    scale = numpy_helper.from_array(np.array(0.5, np.float32), "scale")
    graph = helper.make_graph([helper.make_node("DequantizeLinear", ["q", "scale"], ["y"])],
                              "g", [q], [y], [scale])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def squeezenet_model():
    """onnx's light_squeezenet with seeded random weights in place of its constant
    placeholders (ConstantOfShape), so that the 1000 class scores differ."""
    import onnx

    src = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_squeezenet.onnx"
    model = onnx.load(str(src))
    graph = model.graph
    shapes = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    rng = np.random.default_rng(0)
    weights = []
    for node in [n for n in graph.node if n.op_type == "ConstantOfShape"]:
        shape = [int(d) for d in shapes[node.input[0]]]
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        scale = np.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.01
        weights.append(numpy_helper.from_array(
            (rng.standard_normal(shape) * scale).astype(np.float32), node.output[0]))
        graph.node.remove(node)
    # The biases are small initializers of one value each: random too.
    for name, value in shapes.items():
        if not name.endswith("__SHAPE"):
            weights.append(numpy_helper.from_array(
                (rng.standard_normal(value.shape) * 0.01).astype(np.float32), name))
    names = {w.name for w in weights}
    keep = [i for i in graph.input if i.name not in names and i.name not in shapes]
    del graph.input[:]
    graph.input.extend(keep)
    del graph.initializer[:]
    graph.initializer.extend(weights)
    model.ir_version = 7  # initializers need not be graph inputs from IR 4
    return model


@pytest.fixture(scope="module")
def compat_url(site, site_url):
    dist = ort_web_dist()
    (site / "ort").mkdir(exist_ok=True)
    for name in ORT_FILES:
        shutil.copy(dist / name, site / "ort" / name)
    models = site / "compat"
    models.mkdir(exist_ok=True)
    for name, model in (("model", quickstart_model()), ("probe", probe_model()), ("int4", int4_model()),
                        ("squeezenet", squeezenet_model())):
        (models / f"{name}.onnx").write_bytes(model.SerializeToString())
    # The probe model again with W in an external file, w.bin (passed as externalData).
    import onnx

    onnx.save_model(probe_model(), str(models / "probe_external.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="w.bin", size_threshold=0)
    for page in PAGES.glob("*.html"):
        for runtime, values in RUNTIMES.items():
            text = page.read_text()
            for key, value in values.items():
                text = text.replace("{{" + key + "}}", value)
            (site / f"{page.stem}.{runtime}.html").write_text(text)
    return site_url


def open_page(browser, url: str):
    """Load a page, wait for window.done; -> (window.done, body text, console lines)."""
    context = browser.new_context()
    page = context.new_page()
    log = []
    page.on("console", lambda m: log.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: log.append(f"pageerror: {e}"))
    try:
        page.goto(url)
        page.wait_for_function("window.done !== undefined", timeout=PAGE_TIMEOUT_MS)
        return page.evaluate("window.done"), page.evaluate("document.body.innerText"), log
    finally:
        context.close()


def both(browser, compat_url, stem):
    return {rt: open_page(browser, f"{compat_url}{stem}.{rt}.html") for rt in RUNTIMES}


def test_global_build_is_current():
    assert global_js.GLOBAL.read_text() == global_js.render(global_js.MODULE.read_text()), (
        "wasm_rt.global.js is stale: run python -m wasm_rt.site.global_js"
    )


def test_quickstart_page(browser, compat_url):
    runs = both(browser, compat_url, "quickstart")
    a = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    c = a @ (a.reshape(4, 3) * 10)
    expected = "data of result tensor 'c': " + ",".join(str(int(v)) for v in c.ravel())
    for rt, (_, text, log) in runs.items():
        assert text.strip() == expected, (rt, text, log)


def test_image_classification_page(browser, compat_url):
    runs = both(browser, compat_url, "classify")
    (ort, _, ort_log), (ours, _, our_log) = runs["ort"], runs["wasm_rt"]
    assert "ok" in ort, (ort, ort_log)
    assert "ok" in ours, (ours, our_log)
    ort, ours = ort["ok"], ours["ok"]
    assert ours["inputDims"] == ort["inputDims"] == [1, 3, 224, 224]
    np.testing.assert_allclose(ours["inputHead"], ort["inputHead"], rtol=1e-6)
    assert ours["outputDims"] == ort["outputDims"]
    assert ours["top5"] == ort["top5"]
    # float32 throughout in both; the sums run in different orders (im2col GEMM vs MLAS).
    np.testing.assert_allclose(ours["probabilities"], ort["probabilities"], rtol=1e-4, atol=1e-7)
    assert ours["urlSame"] and ours["bitmapSame"]
    assert ort["urlSame"] and ort["bitmapSame"]


# Checks where wasm_rt deliberately differs from onnxruntime-web 1.30: check -> (reason,
# what wasm_rt gives). Every other check of probe.html must give the same value or message.
DIFFERENCES: dict = {
    "run.preallocated": (
        ("a pre-allocated CPU output in fetches is filled (onnxruntime-web 1.30 returns the same "
        "tensor object but leaves its data as it was)"),
        {"ok": {"same": True, "data": [7, 0, -10.5, 16, -3, -21], "keys": ["y"]}},
    ),
    "image.resized": (
        ("resizedWidth/resizedHeight scale the image; onnxruntime-web 1.30 crops (or pads) an "
        "ImageData or HTMLImageElement to that size instead, and ignores them for a URL"),
        {"ok": {"dims": [1, 3, 1, 2], "data": [1, 0, 0, 0, 0, 1]}},
    ),
    "image.element": (
        ("an HTMLImageElement gives the documented default tensorFormat RGB; onnxruntime-web 1.30 "
        "always gives RGBA for one (and throws if tensorFormat is set)"),
        {"ok": [1, 3, 2, 4]},
    ),
    "image.nhwc": (
        ("tensorLayout NHWC is supported; onnxruntime-web 1.30 throws 'NHWC Tensor layout is not "
        "supported yet'"),
        {"ok": {"dims": [1, 2, 4, 3]}},
    ),
    "image.translucent": (
        ("fromImage reads an ImageData's bytes as they are; onnxruntime-web draws it on a canvas "
        "when options are given, whose premultiplied alpha alters translucent pixels"),
        {"ok": [float(np.float32(v / 255)) for v in (0, 148, 40, 188)]},
    ),
}
# Checks where both must fail but the message is each runtime's own (shape errors).
SAME_FAILURE = {"opt.freeDims.wrongShape"}


def test_probe_page(browser, compat_url):
    runs = both(browser, compat_url, "probe")
    (ort, _, ort_log), (ours, _, our_log) = runs["ort"], runs["wasm_rt"]
    assert "ok" in ort, (ort, ort_log)
    assert "ok" in ours, (ours, our_log)
    ort, ours = ort["ok"], ours["ok"]
    assert set(ort) == set(ours)
    mismatches = {
        name: {"ort": ort[name], "wasm_rt": ours[name]}
        for name in ort
        if name not in DIFFERENCES | {n: 0 for n in SAME_FAILURE} and ort[name] != ours[name]
    }
    assert not mismatches, mismatches
    # Checks that must succeed (not merely fail alike) on both.
    for name in ("tensor.int4.run", "run.preallocated", "create.offsetLength", "opt.freeDims",
                 "opt.eps.webnnThenWasm", "image.roundTrip", "tensor.float16",
                 "opt.externalData.url", "opt.externalData.bytes", "opt.extra", "opt.graph.disabled"):
        assert "ok" in ort[name] and "ok" in ours[name], (name, ort[name], ours[name])
    assert ours["tensor.int4.run"]["ok"]["y"]["data"] == [0.5, 1, -4, -0.5, 3.5]
    for name in SAME_FAILURE:
        assert "error" in ort[name] and "error" in ours[name], (name, ort[name], ours[name])
    for name, (reason, expected) in DIFFERENCES.items():
        assert ours[name] == expected, (name, reason, ours[name], ort[name])
        assert ort[name] != expected, f"{name} no longer differs from onnxruntime-web"
    warning = 'removing requested execution provider "webnn"'
    assert any(warning in line for line in ort_log) and any(warning in line for line in our_log)
    # Settings without meaning here are accepted and named in one warning each.
    for name in ("env.wasm.proxy", "env.webgpu.powerPreference", 'extra "session.intra_op_thread_affinities"'):
        hits = [line for line in our_log if line.startswith("warning: wasm_rt: ") and name in line]
        assert len(hits) == 1, (name, our_log)
    assert not any("env.wasm.numThreads" in line for line in our_log)  # 1 is what wasm_rt does
