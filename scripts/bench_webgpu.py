#!/usr/bin/env python3
"""Benchmark wasm_rt's providers against onnxruntime-web in one headless Chromium page.

Not a test. For each model, on the same inputs, in the same page: wasm_rt with
the numpy provider (``session.run``), wasm_rt with the WebGPU provider
(``run_async`` path), onnxruntime-web's ``wasm`` provider (1 thread) and its
``webgpu`` provider. Prints per-run medians and the ratios that matter here:
on this machine the WebGPU adapter is SwiftShader (a CPU emulation), so the
figure to read is wasm_rt-webgpu / ort-webgpu on the same adapter, not the
absolute times.

    python scripts/bench_webgpu.py [--models resnet50,squeezenet,encoder] [--runs 5]

Needs: the offline Pyodide bundle (scripts/setup_pyodide.py), chromium at
/usr/bin/chromium, ``npm`` (``npm pack onnxruntime-web@1.30.0`` into .cache/ort-web
on first use) and, for the encoder, torch (to export it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ORT_WEB_VERSION = "1.30.0"
ORT_DIR = REPO / ".cache" / "ort-web"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--enable-unsafe-webgpu"]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body><script type="module">
import * as ort from "./ort/ort.webgpu.min.mjs";
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL("./ort/", location.href).href;
ort.env.logLevel = "error";
const { loadPyodide } = await import("./pyodide/pyodide.mjs");
const py = await loadPyodide({ indexURL: new URL("./pyodide/", location.href).href });
await py.loadPackage(["numpy", "protobuf", "wasm-rt"], { messageCallback: () => {} });
window.py = py;
const TYPED = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array };
window.benchOrt = async (name, feedsSpec, ep, runs) => {
  const model = new Uint8Array(await (await fetch(name + ".onnx")).arrayBuffer());
  const sess = await ort.InferenceSession.create(model, { executionProviders: [ep],
                                                          graphOptimizationLevel: "all" });
  const feeds = {};
  for (const [k, [dtype, dims, file]] of Object.entries(feedsSpec)) {
    const buf = await (await fetch(file)).arrayBuffer();
    feeds[k] = new ort.Tensor(dtype, new TYPED[dtype](buf), dims);
  }
  const times = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const out = await sess.run(feeds);
    for (const t of Object.values(out)) { if (t.location !== "cpu") await t.getData(); }
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
import wasm_rt.providers.webgpu as webgpu
from pyodide.http import pyfetch
await webgpu.init()
async def _bytes(u):
    return await (await pyfetch(u)).bytes()
async def bench_wasm_rt(name, spec, provider, runs):
    model = await _bytes(name + ".onnx")
    feeds = {}
    for k, (dtype, dims, f) in spec.items():
        feeds[k] = np.frombuffer(await _bytes(f), dtype).reshape(dims)
    providers = [provider] + (["CPUExecutionProvider"] if provider != "CPUExecutionProvider" else [])
    sess = wasm_rt.InferenceSession(model, providers=providers)
    p = sess._providers[0]
    times = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        if provider == "WebGpuExecutionProvider":
            await p.run_plan_async(sess._executor, sess._plan, dict(feeds))
        else:
            sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
    share = p.placement_report(sess._plan)["flop_share"] if provider != "CPUExecutionProvider" else None
    sess.release()
    return json.dumps({"times": times[1:], "flop_share": share})
async def profile_wasm_rt(name, spec):
    model = await _bytes(name + ".onnx")
    feeds = {k: np.frombuffer(await _bytes(f), dtype).reshape(dims) for k, (dtype, dims, f) in spec.items()}
    sess = wasm_rt.InferenceSession(model, providers=["WebGpuExecutionProvider", "CPUExecutionProvider"])
    p = sess._providers[0]
    await p.run_plan_async(sess._executor, sess._plan, dict(feeds))
    p.runner.time_dispatches = True
    await p.run_plan_async(sess._executor, sess._plan, dict(feeds))
    by_kernel = {}
    for (node, kernel), ms in p.runner.dispatch_ms.items():
        by_kernel[kernel] = by_kernel.get(kernel, 0.0) + ms
    top_nodes = sorted(p.runner.dispatch_ms.items(), key=lambda kv: -kv[1])[:10]
    sess.release()
    return json.dumps({"by_kernel": by_kernel, "top": [[n, k, ms] for (n, k), ms in top_nodes]})
json.dumps(1)
"""


def ensure_ort_web() -> Path:
    dist = ORT_DIR / "package" / "dist"
    if not (dist / "ort.webgpu.min.mjs").exists():
        ORT_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", f"onnxruntime-web@{ORT_WEB_VERSION}"], cwd=ORT_DIR, check=True,
                       capture_output=True)
        subprocess.run(["tar", "xzf", f"onnxruntime-web-{ORT_WEB_VERSION}.tgz"], cwd=ORT_DIR, check=True)
    return dist


def light_model(name: str, folder: Path) -> dict:
    import onnx

    src = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{name}.onnx"
    shutil.copy(src, folder / f"{name}.onnx")
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    model = onnx.load(str(src))
    inp = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}][0]
    (folder / f"{name}.x.bin").write_bytes(x.tobytes())
    return {inp: ["float32", [1, 3, 224, 224], f"{name}.x.bin"]}


def encoder_model(folder: Path, d=256, heads=4, layers=4, seq=128) -> dict:
    """A BERT-style post-LN encoder (attention + GELU MLP) on float embeddings."""
    import warnings

    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.ff1, self.ff2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            b, s, _ = x.shape
            q, k, v = self.qkv(x).reshape(b, s, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
            att = torch.softmax(q @ k.transpose(-1, -2) / (d // heads) ** 0.5, dim=-1)
            x = self.ln1(x + self.out((att @ v).transpose(1, 2).reshape(b, s, d)))
            return self.ln2(x + self.ff2(nn.functional.gelu(self.ff1(x))))

    torch.manual_seed(0)
    model = nn.Sequential(*[Block() for _ in range(layers)]).eval()
    x = torch.randn(1, seq, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(folder / "encoder.onnx"), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"], do_constant_folding=True)
    (folder / "encoder.x.bin").write_bytes(x.numpy().tobytes())
    return {"x": ["float32", [1, seq, d], "encoder.x.bin"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="resnet50,squeezenet,encoder")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", action="store_true",
                    help="time each WebGPU dispatch of wasm_rt alone and print the totals per kernel")
    ap.add_argument("--skip", default="", help="comma list of runtimes to skip "
                    "(wasm_rt-numpy, wasm_rt-webgpu, ort-wasm, ort-webgpu)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from wasm_rt.site.build import build_site
    from wasm_rt.site.server import BackgroundServer

    skip = set(filter(None, args.skip.split(",")))
    with tempfile.TemporaryDirectory() as tmp:
        site = build_site(Path(tmp) / "site")
        shutil.copytree(ensure_ort_web(), site / "ort", ignore=shutil.ignore_patterns("*.map", "*.js"))
        (site / "bench.html").write_text(PAGE)
        specs = {}
        for name in args.models.split(","):
            specs[name] = encoder_model(site) if name == "encoder" else light_model(name, site)
        results: dict[str, dict[str, dict]] = {}
        with BackgroundServer(site) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page()
            page.set_default_timeout(3_600_000)
            page.goto(url + "bench.html")
            page.wait_for_function("window.benchReady === true", timeout=300_000)
            page.evaluate("(c) => window.py.runPythonAsync(c)", PY_SETUP)
            for name, spec in specs.items():
                if args.profile:
                    code = f"await profile_wasm_rt({name!r}, {json.dumps(spec)})"
                    prof = json.loads(page.evaluate("(c) => window.py.runPythonAsync(c)", code))
                    print(f"{name}: GPU ms per kernel (each dispatch timed alone)")
                    for k, ms in sorted(prof["by_kernel"].items(), key=lambda kv: -kv[1]):
                        print(f"  {k:<24}{ms:>10.1f}")
                    for n, k, ms in prof["top"]:
                        print(f"  top: {n:<40}{k:<24}{ms:>10.1f}")
                    continue
                res = results[name] = {}
                for label, provider in (("wasm_rt-numpy", "CPUExecutionProvider"),
                                        ("wasm_rt-webgpu", "WebGpuExecutionProvider")):
                    if label in skip:
                        continue
                    code = f"await bench_wasm_rt({name!r}, {json.dumps(spec)}, {provider!r}, {args.runs})"
                    res[label] = json.loads(page.evaluate("(c) => window.py.runPythonAsync(c)", code))
                    print(f"  {name} {label}: {res[label]}", flush=True)
                for label, ep in (("ort-wasm", "wasm"), ("ort-webgpu", "webgpu")):
                    if label in skip:
                        continue
                    times = page.evaluate("([n, s, e, r]) => window.benchOrt(n, s, e, r)",
                                          [name, spec, ep, args.runs])
                    res[label] = {"times": times}
                    print(f"  {name} {label}: {res[label]}", flush=True)
            browser.close()
    if args.profile:
        return
    print(f"\nmedian seconds per run ({args.runs} runs after 1 warm-up), Chromium "
          "headless, WebGPU adapter = SwiftShader")
    cols = ["wasm_rt-numpy", "wasm_rt-webgpu", "ort-wasm", "ort-webgpu"]
    print(f"{'model':<12}" + "".join(f"{c:>16}" for c in cols)
          + f"{'gpu/ort-gpu':>14}{'numpy/ort-wasm':>16}{'gpu FLOPs':>11}")
    for name, res in results.items():
        med = {c: statistics.median(res[c]["times"]) if c in res else float("nan") for c in cols}
        share = res.get("wasm_rt-webgpu", {}).get("flop_share")
        print(f"{name:<12}" + "".join(f"{med[c]:>16.3f}" for c in cols)
              + f"{med['wasm_rt-webgpu'] / med['ort-webgpu']:>14.2f}"
              + f"{med['wasm_rt-numpy'] / med['ort-wasm']:>16.2f}"
              + (f"{share:>11.1%}" if share is not None else f"{'-':>11}"))


if __name__ == "__main__":
    main()
