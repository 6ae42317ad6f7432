#!/usr/bin/env python3
"""Benchmark quantized transformer models in the browser: wasm_rt against onnxruntime-web.

Not a test. The BERT encoder and the GPT-2 and Llama decoders of
scripts/export_transformer_models.py, each as fp32, int8_dynamic
(quantize_dynamic), int8_qdq (quantize_static, QDQ) and int4 (MatMulNBits,
block 32, asymmetric), run in ONE headless Chromium page (the harness of
scripts/bench_numpy_browser.py) through wasm_rt (numpy provider in Pyodide,
with the SIMD module) and through onnxruntime-web's wasm provider (1 thread)
on the same model file and inputs; medians of ``--runs`` runs after one
warm-up. The encoder sees one sequence of 32 tokens; the decoders one
generation step (1 new token, a KV cache of 32 positions).

Then the peak memory of the 4-bit decoder (tracemalloc during session creation
and one run, on the host and in the page) against the bytes of its initializers
as stored (the packed 4-bit weights) and against the float32 decoder, and a
per-op profile of wasm_rt's runs (session profiling in the page).

    python scripts/bench_models_browser.py [--size tiny|small] [--runs 7]
        [--models bert,gpt2,llama]

``tiny`` are the test suite's models (hidden size 32-64: per-node overhead
dominates); ``small`` rebuilds the same architectures with hidden size 256 and
4 layers (cached in .cache/models/bench-small/). Needs what
bench_numpy_browser.py needs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import export_transformer_models as etm
from bench_numpy_browser import ARGS, CHROMIUM, PY_SETUP
from bench_webgpu import ensure_ort_web

VARIANTS = {
    "fp32": "fp32",
    "int8_dynamic": "int8_dynamic",
    "int8_qdq": "int8_qdq",
    "int4": "int4_b32_asym",
}
# Feeds: the encoder one 32-token sequence, decoders one step over 32 cached positions.
SHAPES = {
    "bert": {"batch": 1, "seq": 32, "past": 0},
    "gpt2": {"batch": 1, "seq": 1, "past": 32},
    "llama": {"batch": 1, "seq": 1, "past": 32},
}
VOCAB = {"bert": 128, "gpt2": 128, "llama": etm.LLAMA_VOCAB}
SMALL = {  # --size small: the same architectures, wider and deeper
    "bert": {"hidden_size": 256, "num_hidden_layers": 4, "intermediate_size": 1024},
    "gpt2": {"n_embd": 256, "n_layer": 4},
    "llama": {"hidden_size": 256, "num_hidden_layers": 4, "intermediate_size": 512},
}

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
const ARRAYS = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array };
window.benchOrt = async (name, feedsSpec, runs) => {
  const model = new Uint8Array(await (await fetch(name + ".onnx")).arrayBuffer());
  const sess = await ort.InferenceSession.create(model, {
    executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const feeds = {};
  for (const [k, [dtype, dims, file]] of Object.entries(feedsSpec)) {
    const buf = await (await fetch(file)).arrayBuffer();
    feeds[k] = new ort.Tensor(dtype, new ARRAYS[dtype](buf), dims);
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
window.wasmBytes = () => window.py._module.HEAPU8.buffer.byteLength;
window.benchReady = true;
</script></body></html>
"""

# In the page, after PY_SETUP: a profile by op type and a memory probe.
PY_EXTRA = """
import tracemalloc

async def _feeds(spec):
    return {k: np.frombuffer(await _bytes(f), dtype).reshape(dims)
            for k, (dtype, dims, f) in spec.items()}

async def profile_ops(name, spec, top=6):
    feeds = await _feeds(spec)
    so = wasm_rt.SessionOptions()
    so.enable_profiling = True
    sess = wasm_rt.InferenceSession(await _bytes(name + ".onnx"), sess_options=so)
    sess.run(None, feeds)
    n0 = len(sess.profile_events())
    sess.run(None, feeds)
    by_op = {}
    for e in sess.profile_events()[n0:]:
        if e.get("cat") == "Node":
            op = e["args"].get("op_name", e["name"])
            by_op[op] = by_op.get(op, 0) + e["dur"]
    total = sum(by_op.values())
    ranked = sorted(by_op.items(), key=lambda kv: -kv[1])[:top]
    return json.dumps({"total_us": total, "nodes": len(sess._graph.nodes),
                       "top": [[op, us] for op, us in ranked]})

def _held(sess):
    return sum(v.nbytes for v in sess._graph.initializers.values())

async def cprofile_run(name, spec, runs=3, top=18):
    import cProfile, io, pstats
    feeds = await _feeds(spec)
    sess = wasm_rt.InferenceSession(await _bytes(name + ".onnx"))
    sess.run(None, feeds)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        sess.run(None, feeds)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return json.dumps(out.getvalue())

async def memory_probe(name, spec):
    model = await _bytes(name + ".onnx")
    feeds = await _feeds(spec)
    warm = wasm_rt.InferenceSession(model)  # imports and one-time caches first
    warm.run(None, feeds)
    del warm
    tracemalloc.start()
    sess = wasm_rt.InferenceSession(model)
    resident = tracemalloc.get_traced_memory()[0]
    sess.run(None, feeds)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return json.dumps({"resident": resident, "peak": peak, "held": _held(sess)})
json.dumps(1)
"""


def build_models(size: str, bases: list[str]) -> dict[tuple[str, str], Path]:
    """(base, variant) -> ONNX file, made (or reused) by export_transformer_models."""
    names = [f"{b}.model.{r}" for b in bases for r in VARIANTS.values()]
    root = etm.cache_dir()
    if size == "small":
        root = REPO / ".cache" / "models" / "bench-small"
        orig = etm._hf_models

        def wider():
            models = orig()
            for base, changes in SMALL.items():
                for key, value in changes.items():
                    setattr(models[base][1], key, value)
            return models

        etm._hf_models = wider
    built = etm.build(names, root)
    out = {}
    for b in bases:
        for label, recipe in VARIANTS.items():
            v = built[f"{b}.model.{recipe}"]
            if v.error:
                print(f"  {v.name}: not built ({v.error[:120]})", flush=True)
            else:
                out[b, label] = root / v.path
    return out


def feed_spec(path: Path, base: str, site: Path) -> dict:
    """Write the sample inputs next to the model; the page's feed spec."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    s = SHAPES[base]
    feeds = etm.sample_inputs(
        sess.get_inputs(), batch=s["batch"], seq=s["seq"], past=s["past"],
        vocab=VOCAB[base], pad=False,
    )  # fmt: skip
    spec = {}
    for k, v in feeds.items():
        file = f"{base}.{k.replace('.', '_')}.bin"
        (site / file).write_bytes(np.ascontiguousarray(v).tobytes())
        spec[k] = [str(v.dtype), list(v.shape), file]
    return spec


def weight_bytes(path: Path) -> int:
    import onnx

    model = onnx.load(str(path))
    return sum(len(t.raw_data) or onnx.numpy_helper.to_array(t).nbytes
               for t in model.graph.initializer)  # fmt: skip


def host_memory(path: Path, spec: dict, site: Path) -> dict:
    """tracemalloc on the host: bytes held by the session after creation, peak with a run."""
    import tracemalloc

    import wasm_rt

    feeds = {
        k: np.frombuffer((site / f).read_bytes(), d).reshape(s)
        for k, (d, s, f) in spec.items()
    }
    data = path.read_bytes()
    warm = wasm_rt.InferenceSession(data)  # imports and one-time caches first
    warm.run(None, feeds)
    del warm
    tracemalloc.start()
    sess = wasm_rt.InferenceSession(data)
    resident = tracemalloc.get_traced_memory()[0]
    sess.run(None, feeds)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    held = sum(v.nbytes for v in sess._graph.initializers.values())
    return {"resident": resident, "peak": peak, "held": held}


def _ms(v) -> str:
    return f"{v * 1000:.2f}" if isinstance(v, float) else str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=["tiny", "small"], default="tiny")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--models", default="bert,gpt2,llama")
    ap.add_argument(
        "--cprofile",
        default="",
        help="base_variant (e.g. bert_int8_dynamic): cProfile it in the page",
    )
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from wasm_rt.site.build import build_site
    from wasm_rt.site.server import BackgroundServer

    def py(page, code):
        return json.loads(page.evaluate("(c) => window.py.runPythonAsync(c)", code))

    bases = args.models.split(",")
    paths = build_models(args.size, bases)
    results: dict[tuple[str, str], dict] = {}
    memory = {}
    with tempfile.TemporaryDirectory() as tmp:
        site = build_site(Path(tmp) / "site")
        shutil.copytree(
            ensure_ort_web(),
            site / "ort",
            ignore=shutil.ignore_patterns("*.map", "*.js"),
        )
        (site / "bench.html").write_text(PAGE)
        specs = {}
        for (base, label), path in paths.items():
            shutil.copy(path, site / f"{base}_{label}.onnx")
            specs.setdefault(base, feed_spec(path, base, site))
        # Llama's projections are MatMuls (4-bit here); GPT-2's are Gemms the
        # MatMulNBits quantizer leaves in float32.
        decoder = next((b for b in ("llama", "gpt2") if (b, "int4") in paths), None)
        if decoder:
            for label in ("int4", "fp32"):
                if (decoder, label) in paths:
                    memory[label] = host_memory(
                        paths[decoder, label], specs[decoder], site
                    )
                    memory[label]["weights"] = weight_bytes(paths[decoder, label])
        with BackgroundServer(site) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=ARGS
            )
            page = browser.new_page()
            page.set_default_timeout(3_600_000)
            page.goto(url + "bench.html")
            page.wait_for_function("window.benchReady === true", timeout=300_000)
            py(page, PY_SETUP)
            py(page, PY_EXTRA)
            if decoder:
                # First, while the wasm heap has not grown for anything else.
                for label in ("int4", "fp32"):
                    if (decoder, label) not in paths:
                        continue
                    name, spec = f"{decoder}_{label}", json.dumps(specs[decoder])
                    before = page.evaluate("window.wasmBytes()")
                    probe = py(page, f"await memory_probe({name!r}, {spec})")
                    probe["wasm_growth"] = page.evaluate("window.wasmBytes()") - before
                    memory[label]["page"] = probe
            if args.cprofile:
                base = args.cprofile.split("_")[0]
                code = f"await cprofile_run({args.cprofile!r}, {json.dumps(specs[base])})"
                print(f"cProfile of 3 runs of {args.cprofile} in the page:")
                print(py(page, code), flush=True)
            for base, label in paths:
                name, spec = f"{base}_{label}", specs[base]
                res = results[base, label] = {}
                try:
                    code = f"await bench_wasm_rt({name!r}, {json.dumps(spec)}, True, {args.runs})"
                    times = py(page, code)["times"]
                    res["wasm_rt"] = statistics.median(times)
                    res["wasm_rt_times_ms"] = [round(t * 1000, 2) for t in times]
                    res["profile"] = py(
                        page, f"await profile_ops({name!r}, {json.dumps(spec)})"
                    )
                except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
                    res["wasm_rt"] = f"error: {str(exc).splitlines()[0][:100]}"
                try:
                    times = page.evaluate(
                        "([n, s, r]) => window.benchOrt(n, s, r)",
                        [name, spec, args.runs],
                    )
                    res["ort"] = statistics.median(times)
                except Exception as exc:  # noqa: BLE001
                    res["ort"] = f"error: {str(exc).splitlines()[0][:100]}"
                print(f"  {name}: {res}", flush=True)
            browser.close()
    print(
        f"\n{args.size} models; median ms of {args.runs} runs after 1 warm-up, headless "
        "Chromium, 1 thread; ort-web = onnxruntime-web wasm provider"
    )
    print(
        "| model | variant | wasm_rt ms | ort-web ms | ours / ort-web | ours / our fp32 |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for (base, label), res in results.items():
        w, o = res["wasm_rt"], res["ort"]
        f32 = results.get((base, "fp32"), {}).get("wasm_rt")
        ratio = f"{w / o:.2f}" if isinstance(w, float) and isinstance(o, float) else ""
        vs32 = (
            f"{w / f32:.2f}" if isinstance(w, float) and isinstance(f32, float) else ""
        )
        print(f"| {base} | {label} | {_ms(w)} | {_ms(o)} | {ratio} | {vs32} |")
    print("\nwasm_rt profile (one run, summed node time by op type, top 6)")
    for (base, label), res in results.items():
        prof = res.get("profile")
        if prof:
            top = ", ".join(f"{op} {us / 1000:.2f}" for op, us in prof["top"])
            print(f"  {base} {label}: {prof['nodes']} nodes, "
                  f"{prof['total_us'] / 1000:.2f} ms in nodes: {top}")  # fmt: skip
    if memory:
        print(
            f"\nmemory of the {decoder} decoder (MiB): weights = initializer bytes as stored"
        )
        mib = 1 / 2**20
        for label, m in memory.items():
            page_m = m.get("page", {})
            print(
                f"  {label}: weights {m['weights'] * mib:.3f}; initializers the session "
                f"holds {m['held'] * mib:.3f} ({m['held'] / m['weights']:.2f}x); "
                f"host tracemalloc resident "
                f"{m['resident'] * mib:.3f} ({m['resident'] / m['weights']:.2f}x weights), "
                f"peak {m['peak'] * mib:.3f}; page tracemalloc resident "
                f"{page_m.get('resident', 0) * mib:.3f}, peak {page_m.get('peak', 0) * mib:.3f}, "
                f"wasm heap growth {page_m.get('wasm_growth', 0) * mib:.1f}"
            )


if __name__ == "__main__":
    main()
