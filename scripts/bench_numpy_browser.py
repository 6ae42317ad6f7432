#!/usr/bin/env python3
"""Benchmark the numpy provider inside Pyodide, with and without the SIMD GEMM.

Not a test. In one headless Chromium page, on the same input: wasm_rt's numpy
provider with ``wasm_rt.native``'s SIMD128 GEMM, the same with the kernel off
(``np.matmul``, Pyodide's numpy has no BLAS), and onnxruntime-web's ``wasm``
provider with 1 thread. Prints per-run medians, the ratio to onnxruntime-web,
and how much of wasm_rt's time the GEMM takes. First a raw GEMM figure
(512 x 512 x 512 float32) for the kernel against np.matmul.

    python scripts/bench_numpy_browser.py [--models resnet50,squeezenet] [--runs 5]

Needs: the offline Pyodide bundle (scripts/setup_pyodide.py), chromium at
/usr/bin/chromium, and onnxruntime-web in .cache/ort-web (fetched with npm by
scripts/bench_webgpu.py's ensure_ort_web on first use); the light models come
from the onnx package.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_webgpu import ensure_ort_web, light_model

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
</head><body><script type="module">
import * as ort from "./ort/ort.wasm.min.mjs";
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL("./ort/", location.href).href;
ort.env.logLevel = "error";
const { loadPyodide } = await import("./pyodide/pyodide.mjs");
const py = await loadPyodide({ indexURL: new URL("./pyodide/", location.href).href });
await py.loadPackage(["numpy", "protobuf", "wasm-rt"], { messageCallback: () => {} });
window.py = py;
window.benchOrt = async (name, feedsSpec, runs) => {
  const model = new Uint8Array(await (await fetch(name + ".onnx")).arrayBuffer());
  const sess = await ort.InferenceSession.create(model, {
    executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const feeds = {};
  for (const [k, [dtype, dims, file]] of Object.entries(feedsSpec)) {
    const buf = await (await fetch(file)).arrayBuffer();
    feeds[k] = new ort.Tensor(dtype, new Float32Array(buf), dims);
  }
  const times = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    await sess.run(feeds);
    times.push((performance.now() - t0) / 1000);
  }
  await sess.release();
  return times.slice(1);
};
window.benchReady = true;
</script></body></html>
"""

PY_SETUP = """
import json, time, numpy as np, wasm_rt
import wasm_rt.native as native
from pyodide.http import pyfetch

async def _bytes(u):
    return await (await pyfetch(u)).bytes()

def gemm_rate(n, use_native, reps=5):
    native.set_enabled(use_native)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    native.matmul(a, b)
    best = min(_timed(lambda: native.matmul(a, b)) for _ in range(reps))
    native.set_enabled(True)
    return 2 * n**3 / best / 1e9

def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0

async def bench_wasm_rt(name, spec, use_native, runs):
    native.set_enabled(use_native)
    model = await _bytes(name + ".onnx")
    feeds = {k: np.frombuffer(await _bytes(f), dtype).reshape(dims)
             for k, (dtype, dims, f) in spec.items()}
    sess = wasm_rt.InferenceSession(model)
    times, gemm = [], []
    for _ in range(runs + 1):
        before = native.status()["flops"]
        times.append(_timed(lambda: sess.run(None, feeds)))
        gemm.append(native.status()["flops"] - before)
    native.set_enabled(True)
    return json.dumps({"times": times[1:], "gemm_flops": gemm[-1],
                       "native": native.status()["native"]})
json.dumps(native.status())
"""

# Wraps native.matmul (the ops look it up per call) to time the share of a run spent in matrix products.
PY_SHARE = """
_orig = native.matmul
_spent = [0.0]
def _timed_matmul(a, b):
    t0 = time.perf_counter()
    try:
        return _orig(a, b)
    finally:
        _spent[0] += time.perf_counter() - t0
native.matmul = _timed_matmul

async def gemm_share(name, spec):
    model = await _bytes(name + ".onnx")
    feeds = {k: np.frombuffer(await _bytes(f), dtype).reshape(dims)
             for k, (dtype, dims, f) in spec.items()}
    sess = wasm_rt.InferenceSession(model)
    sess.run(None, feeds)
    best = None
    for _ in range(3):  # the quietest of three runs: this machine is noisy
        _spent[0] = 0.0
        total = _timed(lambda: sess.run(None, feeds))
        if best is None or total < best["total"]:
            best = {"total": total, "gemm": _spent[0]}
    native.matmul = _orig
    return json.dumps(best)
json.dumps(1)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="resnet50,squeezenet")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--runs-numpy",
        type=int,
        default=2,
        help="runs without the native kernel (slow: seconds per run)",
    )
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from wasm_rt.site.build import build_site
    from wasm_rt.site.server import BackgroundServer

    def py(page, code):
        return json.loads(page.evaluate("(c) => window.py.runPythonAsync(c)", code))

    with tempfile.TemporaryDirectory() as tmp:
        site = build_site(Path(tmp) / "site")
        shutil.copytree(
            ensure_ort_web(),
            site / "ort",
            ignore=shutil.ignore_patterns("*.map", "*.js"),
        )
        (site / "bench.html").write_text(PAGE)
        specs = {name: light_model(name, site) for name in args.models.split(",")}
        results: dict[str, dict] = {}
        with BackgroundServer(site) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=ARGS
            )
            page = browser.new_page()
            page.set_default_timeout(3_600_000)
            page.goto(url + "bench.html")
            page.wait_for_function("window.benchReady === true", timeout=300_000)
            status = py(page, PY_SETUP)
            print(f"wasm_rt.native in Pyodide: {status}")
            for n in (256, 512):
                fast = py(page, f"json.dumps(gemm_rate({n}, True))")
                slow = py(page, f"json.dumps(gemm_rate({n}, False, reps=2))")
                print(
                    f"GEMM {n}x{n}x{n} float32: native {fast:.1f} GFLOP/s, "
                    f"np.matmul {slow:.2f} GFLOP/s ({fast / slow:.0f}x)",
                    flush=True,
                )
            for name, spec in specs.items():
                res = results[name] = {}
                for label, on, runs in (
                    ("wasm_rt-native", True, args.runs),
                    ("wasm_rt-np.matmul", False, args.runs_numpy),
                ):
                    code = f"await bench_wasm_rt({name!r}, {json.dumps(spec)}, {on}, {runs})"
                    res[label] = py(page, code)
                    print(f"  {name} {label}: {res[label]}", flush=True)
                times = page.evaluate(
                    "([n, s, r]) => window.benchOrt(n, s, r)", [name, spec, args.runs]
                )
                res["ort-wasm"] = {"times": times}
                print(f"  {name} ort-wasm: {times}", flush=True)
                py(page, PY_SHARE)
                share = py(page, f"await gemm_share({name!r}, {json.dumps(spec)})")
                res["share"] = share
            browser.close()
    print(
        "\nmedian seconds per run (after 1 warm-up), headless Chromium, 1 thread; "
        "ratio = time / ort-wasm"
    )
    cols = ["wasm_rt-native", "wasm_rt-np.matmul", "ort-wasm"]
    print(
        f"{'model':<12}"
        + "".join(f"{c:>19}" for c in cols)
        + f"{'native/ort':>12}{'np/ort':>9}{'GEMM share':>12}{'GEMM GFLOP/s':>14}"
    )
    for name, res in results.items():
        med = {c: statistics.median(res[c]["times"]) for c in cols}
        share = res["share"]
        gflops = res["wasm_rt-native"]["gemm_flops"] / share["gemm"] / 1e9
        print(
            f"{name:<12}"
            + "".join(f"{med[c]:>19.3f}" for c in cols)
            + f"{med['wasm_rt-native'] / med['ort-wasm']:>12.2f}"
            + f"{med['wasm_rt-np.matmul'] / med['ort-wasm']:>9.2f}"
            + f"{share['gemm'] / share['total']:>12.0%}"
            + f"{gflops:>14.1f}"
        )


if __name__ == "__main__":
    main()
