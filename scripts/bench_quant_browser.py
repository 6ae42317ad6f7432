#!/usr/bin/env python3
"""Benchmark the quantized SIMD kernels inside Pyodide, against float32 and numpy.

Not a test. In one headless Chromium page (the harness of
scripts/bench_numpy_browser.py), on transformer-sized products (M = 1 and 128
rows, K = N = 768 and K = 768, N = 3072), GOP/s (2 * M * N * K / time, the
median of 5 samples, each long enough for the page's timer) of:

* ``int8``: ``wasm_rt.native.qgemm_i32`` (uint8 A, int8 B, exact int32);
* ``nbits4`` / ``nbits8``: ``wasm_rt.native.matmul_nbits`` (block 32, uint8
  zero points), the float32 product with W dequantized panel by panel;
* ``f32``: ``wasm_rt.native.matmul`` (the float32 SIMD GEMM);
* ``np.f32``: ``np.matmul`` in Pyodide (no BLAS);
* ``np.int``, ``np.deq4``: what numpy computes without the module: an int32
  ``np.matmul`` of the widened operands, and dequantize-then-``np.matmul``.

Then whole models (:func:`bench_models`): a transformer feed-forward block
(768 -> 3072 -> 768, 128 rows) as float32, dynamic int8 (MatMulInteger), QDQ
int8 and 4-bit MatMulNBits, made on the host with onnx.helper and
onnxruntime.quantization, run by wasm_rt and by onnxruntime-web's wasm
provider (1 thread) in the same page.

    python scripts/bench_quant_browser.py [--runs 5] [--no-models]

Needs what bench_numpy_browser.py needs (the offline Pyodide bundle, chromium,
onnxruntime-web fetched with npm on first use for the model runs).
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

from bench_numpy_browser import ARGS, CHROMIUM, PAGE, PY_SETUP
from bench_webgpu import ensure_ort_web

SHAPES = [(1, 768, 768), (1, 768, 3072), (128, 768, 768), (128, 768, 3072)]
COLUMNS = ["int8", "nbits4", "nbits8", "f32", "np.f32", "np.int", "np.deq4"]

PY_KERNELS = """
import json, statistics, time
import numpy as np
import wasm_rt.native as native

def _rate(f, ops, runs, min_s=0.02):
    f()  # warm-up (first call, page faults)
    t0 = time.perf_counter()
    f()
    reps = max(1, int(min_s / max(time.perf_counter() - t0, 1e-7)))
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        samples.append((time.perf_counter() - t0) / reps)
    return ops / statistics.median(samples) / 1e9

def _unpack4(packed):
    q = np.stack([packed & 15, packed >> 4], axis=-1)
    return q.reshape(packed.shape[0], -1)

def dequantize4(w, scales, zp, bs):
    n = w.shape[0]
    q = _unpack4(w.reshape(n, -1)).astype(np.float32)
    z = _unpack4(zp)[:, : scales.shape[1]].astype(np.float32)
    return (q - np.repeat(z, bs, axis=1)) * np.repeat(scales, bs, axis=1)

def bench_kernels(m, k, n, runs):
    rng = np.random.default_rng(0)
    ops, bs, nb = 2 * m * n * k, 32, k // 32
    a32 = rng.standard_normal((m, k), dtype=np.float32)
    b32 = rng.standard_normal((k, n), dtype=np.float32)
    a8 = rng.integers(0, 256, (m, k)).astype(np.uint8)
    b8 = rng.integers(-128, 128, (k, n)).astype(np.int8)
    w4 = rng.integers(0, 256, (n, nb, bs // 2)).astype(np.uint8)
    w8 = rng.integers(0, 256, (n, nb, bs)).astype(np.uint8)
    sc = rng.random((n, nb), dtype=np.float32)
    zp4 = rng.integers(0, 256, (n, (nb + 1) // 2)).astype(np.uint8)
    zp8 = rng.integers(0, 256, (n, nb)).astype(np.uint8)
    int8 = lambda: native.qgemm_i32(a8, 128, b8, 0)
    nbits4 = lambda: native.matmul_nbits(
        a32, w4, sc, zp4, bits=4, block_size=bs, k=k, n=n)
    nbits8 = lambda: native.matmul_nbits(
        a32, w8, sc, zp8, bits=8, block_size=bs, k=k, n=n)
    np_int = lambda: (a8.astype(np.int32) - 128) @ b8.astype(np.int32)
    np_deq4 = lambda: a32 @ dequantize4(w4, sc, zp4, bs).T
    # The kernels' answers, checked once against numpy's.
    ok = bool(np.array_equal(int8(), np_int())) and bool(
        np.allclose(nbits4(), np_deq4(), rtol=1e-3, atol=1e-2))
    res = {"check": ok}
    for name, f in [("int8", int8), ("nbits4", nbits4), ("nbits8", nbits8),
                    ("f32", lambda: native.matmul(a32, b32))]:
        res[name] = _rate(f, ops, runs)
    native.set_enabled(False)
    try:
        res["np.f32"] = _rate(lambda: native.matmul(a32, b32), ops, runs)
    finally:
        native.set_enabled(True)
    res["np.int"] = _rate(np_int, ops, runs)
    res["np.deq4"] = _rate(np_deq4, ops, runs)
    return json.dumps(res)
json.dumps(native.status())
"""


# ----------------------------------------------------------------- MODEL RUNS
# Whole quantized models, wasm_rt (Pyodide, the numpy provider with the SIMD
# module) against onnxruntime-web's wasm provider in the same page. Add a model
# by writing it into the site folder and returning its feed spec from
# make_models (the format bench_numpy_browser.py's benchOrt/bench_wasm_rt take).


def make_models(folder: Path, rows: int = 128, d: int = 768, ff: int = 3072) -> dict:
    """FFN block x[rows, d] -> MatMul, Add, Relu, MatMul, Add: float32 and quantized."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    rng = np.random.default_rng(0)

    def init(name, shape, scale):
        return numpy_helper.from_array(
            (rng.standard_normal(shape) * scale).astype(np.float32), name
        )

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h0"]),
            helper.make_node("Add", ["h0", "b1"], ["h1"]),
            helper.make_node("Relu", ["h1"], ["h2"]),
            helper.make_node("MatMul", ["h2", "w2"], ["y0"]),
            helper.make_node("Add", ["y0", "b2"], ["y"]),
        ],
        "ffn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, d])],
        [
            init("w1", (d, ff), d**-0.5),
            init("b1", (ff,), 0.1),
            init("w2", (ff, d), ff**-0.5),
            init("b2", (d,), 0.1),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    f32 = folder / "ffn_f32.onnx"
    onnx.save(model, f32)
    x = rng.standard_normal((rows, d)).astype(np.float32)
    (folder / "ffn.x.bin").write_bytes(x.tobytes())

    quantize_dynamic(f32, folder / "ffn_int8_dynamic.onnx", weight_type=QuantType.QInt8)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(
                [{"x": rng.standard_normal((rows, d)).astype(np.float32)} for _ in range(4)]
            )

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(
        f32,
        folder / "ffn_int8_qdq.onnx",
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    quantizer = MatMulNBitsQuantizer(model, bits=4, block_size=32, is_symmetric=False)
    quantizer.process()
    onnx.save(quantizer.model.model, folder / "ffn_int4.onnx")
    spec = {"x": ["float32", [rows, d], "ffn.x.bin"]}
    names = ["ffn_f32", "ffn_int8_dynamic", "ffn_int8_qdq", "ffn_int4"]
    return {name: spec for name in names}


def bench_models(page, py, folder: Path, runs: int) -> dict:
    """Median seconds per run of each model, wasm_rt and ort-wasm (or the error)."""
    results = {}
    for name, spec in make_models(folder).items():
        res = results[name] = {}
        try:
            code = f"await bench_wasm_rt({name!r}, {json.dumps(spec)}, True, {runs})"
            res["wasm_rt"] = statistics.median(py(page, code)["times"])
        except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
            res["wasm_rt"] = f"error: {str(exc).splitlines()[0][:120]}"
        try:
            times = page.evaluate(
                "([n, s, r]) => window.benchOrt(n, s, r)", [name, spec, runs]
            )
            res["ort-wasm"] = statistics.median(times)
        except Exception as exc:  # noqa: BLE001
            res["ort-wasm"] = f"error: {str(exc).splitlines()[0][:120]}"
        print(f"  {name}: {res}", flush=True)
    return results


# ------------------------------------------------------------------------------


def _cell(value) -> str:
    return f"{value:>14.3f}" if isinstance(value, float) else f"  {value}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-models", action="store_true", help="kernels only")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from wasm_rt.site.build import build_site
    from wasm_rt.site.server import BackgroundServer

    def py(page, code):
        return json.loads(page.evaluate("(c) => window.py.runPythonAsync(c)", code))

    with tempfile.TemporaryDirectory() as tmp:
        site = build_site(Path(tmp) / "site")
        shutil.copytree(
            ensure_ort_web(), site / "ort", ignore=shutil.ignore_patterns("*.map", "*.js")
        )
        (site / "bench.html").write_text(PAGE)
        with BackgroundServer(site) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=ARGS
            )
            page = browser.new_page()
            page.set_default_timeout(3_600_000)
            page.goto(url + "bench.html")
            page.wait_for_function("window.benchReady === true", timeout=300_000)
            py(page, PY_SETUP)
            print(f"wasm_rt.native in Pyodide: {py(page, PY_KERNELS)}", flush=True)
            kernels = {}
            for m, k, n in SHAPES:
                res = py(page, f"bench_kernels({m}, {k}, {n}, {args.runs})")
                kernels[m, k, n] = res
                print(f"  M={m} K={k} N={n}: {res}", flush=True)
            models = {} if args.no_models else bench_models(page, py, site, args.runs)
            browser.close()
    print(
        f"\nGOP/s (2*M*N*K / median of {args.runs}), headless Chromium, Pyodide, "
        "1 thread; nbits with block 32 and uint8 zero points"
    )
    print(f"{'M x K x N':<18}" + "".join(f"{c:>9}" for c in COLUMNS) + "  check")
    for (m, k, n), res in kernels.items():
        print(
            f"{f'{m} x {k} x {n}':<18}"
            + "".join(f"{res[c]:>9.2f}" for c in COLUMNS)
            + f"  {'ok' if res['check'] else 'MISMATCH'}"
        )
    if models:
        print("\nmedian seconds per run (after 1 warm-up); ratio = wasm_rt / ort-wasm")
        print(f"{'model':<20}{'wasm_rt':>14}{'ort-wasm':>14}{'ratio':>8}")
        for name, res in models.items():
            w, o = res["wasm_rt"], res["ort-wasm"]
            ratio = f"{w / o:>8.2f}" if isinstance(w, float) and isinstance(o, float) else ""
            print(f"{name:<20}{_cell(w)}{_cell(o)}{ratio}")


if __name__ == "__main__":
    main()
