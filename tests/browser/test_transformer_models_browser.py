"""Shipped-style transformer variants inside Pyodide in headless Chromium.

A few variants from scripts/export_transformer_models.py (the fused BERT, the
dynamic-int8 BERT, the 4-bit GPT-2 and onnxruntime-genai's int4 Llama) run
through the JS API (wasm_rt.js, the onnxruntime-web API) on the same inputs as
the host's onnxruntime, within the tolerances tests/test_transformer_models.py
justifies; the two decoders also generate 32 tokens greedily in the page, the
KV cache fed back from JS, and must give onnxruntime's tokens.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from jsio import JS_HELPERS, from_js, to_js

REPO = Path(__file__).resolve().parents[2]
pytest.importorskip(
    "transformers", reason="transformers exports the models (requirements-dev.txt)"
)
pytest.importorskip(
    "optimum.exporters.onnx",
    reason="optimum-onnx exports the models (requirements-dev.txt)",
)
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))
import export_transformer_models as exporter
import test_transformer_models as host_tests

VARIANTS = [
    "bert.model.fused",
    "bert.model.int8_dynamic",
    "gpt2.model.int4_b32_asym",
    "llama.model.genai_int4",
]
GENERATE = ["gpt2.model.int4_b32_asym", "llama.model.genai_int4"]

RUN_JS = """
async ([url, feeds]) => {
  const session = await wasm_rt.InferenceSession.create(url);
  const out = await session.run(jsio.feeds(feeds));
  const result = { outputs: jsio.outputs(out), names: session.outputNames, runMs: session.lastRun.runMs };
  await session.release();
  return result;
}
"""

# Greedy decoding in the page: empty caches first, then one token a step with
# each present.* fed back as past_key_values.* (what transformers.js does).
GENERATE_JS = """
async ([url, prompt, steps, pasts]) => {
  const session = await wasm_rt.InferenceSession.create(url);
  const T = wasm_rt.Tensor;
  let ids = prompt.map(BigInt);
  let past = {};
  for (const [name, heads, size] of pasts) past[name] = new T("float32", new Float32Array(0), [1, heads, 0, size]);
  const tokens = [];
  let totalMs = 0;
  for (let step = 0; step < steps; step++) {
    const pastLen = Object.values(past)[0].dims[2];
    const n = ids.length;
    const feeds = { input_ids: new T("int64", BigInt64Array.from(ids), [1, n]), ...past };
    if (session.inputNames.includes("attention_mask"))
      feeds.attention_mask = new T("int64", new BigInt64Array(pastLen + n).fill(1n), [1, pastLen + n]);
    if (session.inputNames.includes("position_ids"))
      feeds.position_ids = new T("int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(pastLen + i)), [1, n]);
    const out = await session.run(feeds);
    totalMs += session.lastRun.runMs;
    const logits = out.logits.data, vocab = out.logits.dims[2];
    const last = logits.subarray((n - 1) * vocab, n * vocab);
    let best = 0;
    for (let i = 1; i < vocab; i++) if (last[i] > last[best]) best = i;
    tokens.push(best);
    ids = [BigInt(best)];
    for (const name of Object.keys(past)) past[name] = out[name.replace("past_key_values", "present")];
  }
  await session.release();
  return { tokens, totalMs };
}
"""


@pytest.fixture(scope="module")
def variants(rt_page, site):
    """The variants' files in the site (external data inlined: the JS API takes one file)."""
    folder = site / "transformers"
    folder.mkdir(exist_ok=True)
    root = exporter.cache_dir()
    built = exporter.build(sorted(set(VARIANTS + GENERATE)), root)
    files = {}
    for name, v in built.items():
        if v.error:
            continue
        model = onnx.load(str(root / v.path))  # loads model.onnx.data too
        target = folder / f"{name}.onnx"
        onnx.save(model, str(target))
        files[name] = (v, root / v.path, f"transformers/{target.name}")
    rt_page.evaluate(JS_HELPERS)
    return built, files


def _get(variants, name):
    built, files = variants
    if name not in files:
        pytest.skip(f"{built[name].tool} could not make {name}: {built[name].error}")
    return files[name]


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_in_browser_matches_onnxruntime(
    rt_page, variants, name, browser_report
):
    v, path, url = _get(variants, name)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    genai = v.recipe in exporter.GENAI_RECIPES
    feeds = exporter.sample_inputs(
        sess.get_inputs(),
        seed=sum(map(ord, name)),
        extra_dims=host_tests._extra_dims(path),
        pad=not genai,
        batch=1 if genai else 2,
    )
    expected = sess.run(None, feeds)
    result = rt_page.evaluate(RUN_JS, [url, [to_js(k, x) for k, x in feeds.items()]])
    actual = [from_js(result["outputs"][n]) for n in result["names"]]
    assert result["names"] == [o.name for o in sess.get_outputs()]
    tol = host_tests._tolerance(v, path)
    abs_err, rel_err = host_tests._relative_error(actual, expected)
    for a, e, n in zip(actual, expected, result["names"]):
        assert a.dtype == e.dtype and a.shape == e.shape, (
            f"{name} {n}: {a.dtype}{a.shape}"
        )
        scale = float(np.max(np.abs(e.astype(np.float64)))) if e.size else 1.0
        np.testing.assert_allclose(
            a.astype(np.float64),
            e.astype(np.float64),
            rtol=0,
            atol=tol * max(scale, 1e-6),
            err_msg=f"{name} {n}",
        )
    browser_report.append(
        f"{name}: browser vs onnxruntime max abs {abs_err:.2e}, rel {rel_err:.2e} "
        f"(tolerance {tol:g}); run {result['runMs']:.0f} ms"
    )


@pytest.mark.parametrize("name", GENERATE)
def test_generation_in_browser_matches_onnxruntime(
    rt_page, variants, name, browser_report
):
    _, path, url = _get(variants, name)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    spec = host_tests._past_spec(sess, path)
    expected, _ = host_tests._generate(sess, spec, host_tests.NEW_TOKENS)
    pasts = [[n, heads, size] for n, (_, heads, size) in spec.items()]
    result = rt_page.evaluate(
        GENERATE_JS, [url, host_tests.PROMPT, host_tests.NEW_TOKENS, pasts]
    )
    same = sum(a == b for a, b in zip(result["tokens"], expected))
    browser_report.append(
        f"{name}: {host_tests.NEW_TOKENS}-token greedy generation in the page, "
        f"{same}/{host_tests.NEW_TOKENS} tokens equal onnxruntime's; {result['totalMs']:.0f} ms"
    )
    assert result["tokens"] == expected, (
        f"{name}: browser {result['tokens']}, onnxruntime {expected}"
    )
