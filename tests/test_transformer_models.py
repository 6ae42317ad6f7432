"""Transformer models as people ship them to browsers: wasm_rt against onnxruntime.

scripts/export_transformer_models.py builds tiny random BERT, GPT-2 (with past
key/values), Whisper (encoder and decoder), ViT and Llama (grouped-query
attention) models with optimum's exporter, and rewrites each with onnxruntime's
own tools into the variants that ship: fused (Attention, SkipLayerNorm, Gelu
forms, RotaryEmbedding), float16, dynamic / static int8 (QDQ and QOperator),
4-bit MatMulNBits and onnxruntime-genai's model builder.  Every variant runs in
both runtimes on the same random inputs; GPT-2 and the genai Llama also
generate 32 tokens greedily with their KV caches.

By default one variant of every recipe runs (on BERT, the smallest model), plus
the fp32 export of every architecture and both generations; ``--slow`` (or
WASM_RT_SLOW=1) runs every model x recipe.  Each variant's row (model, tool,
com.microsoft ops, errors, tokens) goes to test-artifacts/transformer_variants.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import reporting

import wasm_rt

REPO = Path(__file__).resolve().parent.parent
pytest.importorskip(
    "transformers", reason="transformers exports the models (requirements-dev.txt)"
)
pytest.importorskip(
    "optimum.exporters.onnx",
    reason="optimum-onnx exports the models (requirements-dev.txt)",
)
sys.path.insert(0, str(REPO / "scripts"))
import export_transformer_models as exporter

TABLE = "transformer_variants"

# Tolerances, relative to the largest |value| of each output (so logits of
# magnitude ~5 and hidden states of ~1 are held to the same standard).
TOLERANCE = {
    # Both runtimes compute in float32, summing in different orders (BLAS
    # against MLAS, fused against unfused): with dot products of K <= 128
    # terms over <= 2 layers the differences are a few float32 ulps (~1e-6);
    # 1e-4 leaves a wide margin and still catches a wrong mask, epsilon or
    # GELU form (those move outputs by > 1e-3).
    "fp32": 1e-4,
    # float16 rounds every intermediate to 11 bits (ulp 2^-10 ~ 1e-3 at 1);
    # the two runtimes round at different places (onnxruntime's MLAS converts
    # MatMul/LayerNorm to float32 inside, numpy rounds per ufunc), so results
    # differ by a few ulps per op over ~40 ops; 2e-2 is ~20 ulps.
    "fp16": 2e-2,
    # int8: activations are quantized at run time; where the float inputs of a
    # DynamicQuantizeLinear differ by an ulp a value can land one step (scale
    # = range / 255) to the other side of a rounding boundary, and that one
    # step (~0.4% of the range) then flows on through the layers.  5e-2 is a
    # bit over ten such steps.
    "int8": 5e-2,
    # int4 (MatMulNBits, accuracy_level 0): weights are dequantized exactly
    # (4-bit integers times a float scale) and multiplied in float32 by both
    # runtimes, so only float32 reordering remains: the fp32 bound.  A model
    # that also computes in float16 (fp16_int4) takes the fp16 bound, one with
    # accuracy_level 4 the int8 bound (see _tolerance).
    "int4": 1e-4,
}

DEFAULT = [f"bert.model.{r}" for r in exporter.RECIPES] + [
    "gpt2.model.fp32",
    "whisper.encoder.fp32",
    "whisper.decoder.fp32",
    "vit.model.fp32",
    "llama.model.fp32",
    "llama.model.genai_int4",
]
ALL = exporter.all_variant_names()


def pytest_generate_tests(metafunc):
    slow = metafunc.config.getoption("--slow")
    if "variant_name" in metafunc.fixturenames:
        metafunc.parametrize("variant_name", ALL if slow else DEFAULT)
    if "generate_name" in metafunc.fixturenames:
        metafunc.parametrize(
            "generate_name", GENERATE + (GENERATE_SLOW if slow else [])
        )


@pytest.fixture(scope="module")
def models():
    """name -> Variant for the variants this run needs (built or taken from the cache)."""
    return _Models()


class _Models:
    def __init__(self):
        self.root = exporter.cache_dir()
        self.cache: dict[str, exporter.Variant] = {}

    def get(self, name: str) -> exporter.Variant:
        if name not in self.cache:
            self.cache.update(exporter.build([name], self.root))
        return self.cache[name]

    def path(self, v: exporter.Variant) -> Path:
        return self.root / v.path


def _ort(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _wasm_rt(path: Path, variant: exporter.Variant) -> wasm_rt.InferenceSession:
    """The wasm_rt session, or a skip naming what wasm_rt lacks (listed at creation)."""
    try:
        return wasm_rt.InferenceSession(str(path))
    except wasm_rt.NotImplemented as e:
        reporting.record(
            TABLE,
            model=variant.name,
            tool=variant.tool,
            ops=_contrib(variant),
            result="wasm_rt lacks: " + " / ".join(str(e).splitlines()[1:])[:300],
        )
        pytest.skip(f"wasm_rt does not support {variant.name} yet: {e}")


def _contrib(variant: exporter.Variant) -> str:
    return " ".join(o.split(":")[1] for o in variant.ops if ":" in o) or "-"


def _extra_dims(path: Path) -> dict[str, int]:
    """The genai builder names the cache's head axis 'kv_cache_dim'."""
    config = path.parent / "genai_config.json"
    if not config.exists():
        return {}
    decoder = json.loads(config.read_text())["model"]["decoder"]
    return {"kv_cache_dim": decoder["head_size"]}


def _relative_error(ours, theirs) -> tuple[float, float]:
    """Largest absolute error and largest absolute error / max |onnxruntime value|."""
    worst_abs = worst_rel = 0.0
    for a, b in zip(ours, theirs):
        if b.size == 0:
            continue
        err = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
        scale = float(np.max(np.abs(b.astype(np.float64)))) or 1.0
        worst_abs, worst_rel = max(worst_abs, err), max(worst_rel, err / scale)
    return worst_abs, worst_rel


def _tolerance(variant: exporter.Variant, path: Path) -> float:
    tol = TOLERANCE[variant.kind]
    if variant.kind == "int4" and "fp16" in variant.recipe:
        tol = max(tol, TOLERANCE["fp16"])
    if _accuracy_level(path) == 4:
        # onnxruntime quantizes A to int8 per block inside MatMulNBits at level 4
        # (genai's builder sets it); wasm_rt computes the exact float32 product,
        # so the two differ by activation quantization: the int8 bound.
        tol = max(tol, TOLERANCE["int8"])
    return tol


def _non_finite_scales(path: Path) -> list[str]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return [
        t.name
        for t in model.graph.initializer
        if t.name.endswith("_scale")
        and t.data_type == onnx.TensorProto.FLOAT
        and not np.isfinite(numpy_helper.to_array(t)).all()
    ]


def _accuracy_level(path: Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    levels = [
        a.i
        for n in model.graph.node
        if n.op_type == "MatMulNBits"
        for a in n.attribute
        if a.name == "accuracy_level"
    ]
    return max(levels, default=0)


def test_variant_matches_onnxruntime(variant_name, models):
    v = models.get(variant_name)
    if v.error:
        reporting.record(
            TABLE, model=v.name, tool=v.tool, result="tool failed: " + v.error[:200]
        )
        pytest.skip(f"{v.tool} could not make {v.name}: {v.error}")
    path = models.path(v)
    theirs_sess = _ort(path)
    ours_sess = _wasm_rt(path, v)
    assert [i.name for i in ours_sess.get_inputs()] == [
        i.name for i in theirs_sess.get_inputs()
    ]
    assert [o.name for o in ours_sess.get_outputs()] == [
        o.name for o in theirs_sess.get_outputs()
    ]
    feeds = exporter.sample_inputs(
        theirs_sess.get_inputs(),
        seed=sum(map(ord, v.name)),
        vocab=128,
        extra_dims=_extra_dims(path),
        # GroupQueryAttention reads the mask as sequence lengths (no right
        # padding) and takes a prompt after a past only for batch 1.
        pad=v.recipe not in exporter.GENAI_RECIPES,
        batch=1 if v.recipe in exporter.GENAI_RECIPES else 2,
    )
    theirs = theirs_sess.run(None, feeds)
    try:
        ours = ours_sess.run(None, feeds)
    except wasm_rt.InvalidArgument as e:
        bad = _non_finite_scales(path)
        if not bad:
            raise
        # quantize_static calibrates the attention scores of causal decoders,
        # which hold transformers' float32-min mask, and writes scale = inf.
        # onnxruntime still computes something finite; wasm_rt refuses the
        # scale by name.  Reported to the kernel owners (notes/e2e_missing.md).
        reason = f"{len(bad)} non-finite quantization scales (e.g. {bad[0]}): {e}"
        reporting.record(
            TABLE, model=v.name, tool=v.tool, ops=_contrib(v), result=reason[:300]
        )
        pytest.skip(f"{v.tool} wrote {reason}")
    abs_err, rel_err = _relative_error(ours, theirs)
    tol = _tolerance(v, path)
    reporting.record(
        TABLE,
        model=v.name,
        tool=v.tool,
        ops=_contrib(v),
        max_abs_err=abs_err,
        max_rel_err=rel_err,
        tolerance=tol,
        result="match" if rel_err <= tol else "MISMATCH",
    )
    for i, (a, b) in enumerate(zip(ours, theirs)):
        what = f"{v.name} output {theirs_sess.get_outputs()[i].name}"
        assert a.dtype == b.dtype, f"{what}: dtype {a.dtype}, onnxruntime {b.dtype}"
        assert a.shape == b.shape, f"{what}: shape {a.shape}, onnxruntime {b.shape}"
        scale = float(np.max(np.abs(b.astype(np.float64)))) if b.size else 1.0
        np.testing.assert_allclose(
            a.astype(np.float64),
            b.astype(np.float64),
            rtol=0,
            atol=tol * max(scale, 1e-6),
            err_msg=what,
        )


# --------------------------------------------------------------------------
# Greedy generation with the KV cache
# --------------------------------------------------------------------------

GENERATE = ["gpt2.model.fp32", "llama.model.genai_int4"]
GENERATE_SLOW = [
    "gpt2.model.int4_b32_asym",
    "gpt2.model.fp16_io32",
    "llama.model.genai_fp32",
    "llama.model.fp32",
]
NEW_TOKENS = 32
PROMPT = [5, 17, 42, 99]


def _generate(sess, past_spec, steps: int):
    """Greedy decoding: the prompt, then one token a step, feeding the cache back.

    ``past_spec``: input name -> (dtype, heads, head size); the first step's
    caches are empty (past length 0), as transformers.js and genai start.
    Returns the tokens and each step's last-position logits.
    """
    inputs = [i.name for i in sess.get_inputs()]
    outputs = [o.name for o in sess.get_outputs()]
    tokens = list(PROMPT)
    ids = np.array([PROMPT], np.int64)
    past = {
        n: np.zeros((1, heads, 0, size), dtype)
        for n, (dtype, heads, size) in past_spec.items()
    }
    logits_seen = []
    for _ in range(steps):
        past_len = next(iter(past.values())).shape[2]
        feeds = {"input_ids": ids, **past}
        if "attention_mask" in inputs:
            feeds["attention_mask"] = np.ones((1, past_len + ids.shape[1]), np.int64)
        if "position_ids" in inputs:
            feeds["position_ids"] = np.arange(
                past_len, past_len + ids.shape[1], dtype=np.int64
            )[None]
        result = dict(zip(outputs, sess.run(None, feeds)))
        last = result["logits"][0, -1].astype(np.float32)
        logits_seen.append(last)
        token = int(np.argmax(last))
        tokens.append(token)
        ids = np.array([[token]], np.int64)
        past = {n: result[n.replace("past_key_values", "present")] for n in past}
    return tokens[len(PROMPT) :], logits_seen


def _past_spec(sess, path: Path):
    dims = _extra_dims(path)
    spec = {}
    for i in sess.get_inputs():
        if i.name.startswith("past_key_values"):
            heads, size = i.shape[1], i.shape[3]
            size = dims.get(size, size) if isinstance(size, str) else size
            dtype = np.float16 if i.type == "tensor(float16)" else np.float32
            spec[i.name] = (dtype, heads, size)
    return spec


def test_greedy_generation_matches_onnxruntime(generate_name, models):
    name = generate_name
    v = models.get(name)
    if v.error:
        pytest.skip(f"{v.tool} could not make {v.name}: {v.error}")
    path = models.path(v)
    theirs_sess = _ort(path)
    ours_sess = _wasm_rt(path, v)
    spec = _past_spec(theirs_sess, path)
    theirs, theirs_logits = _generate(theirs_sess, spec, NEW_TOKENS)
    ours, ours_logits = _generate(ours_sess, spec, NEW_TOKENS)
    abs_err, rel_err = _relative_error(ours_logits, theirs_logits)
    same = sum(a == b for a, b in zip(ours, theirs))
    reporting.record(
        TABLE,
        model=f"{v.name} (generate {NEW_TOKENS})",
        tool=v.tool,
        ops=_contrib(v),
        max_abs_err=abs_err,
        max_rel_err=rel_err,
        tokens_equal=f"{same}/{NEW_TOKENS}",
        result="match" if ours == theirs else "MISMATCH",
    )
    assert ours == theirs, f"{name}: wasm_rt generated {ours}, onnxruntime {theirs}"
    if v.recipe in exporter.GENAI_RECIPES:
        # The folder is also what onnxruntime-genai itself runs: its own greedy
        # search (which stops at the end-of-sequence id) must agree.
        genai = _genai_tokens(path.parent, NEW_TOKENS)
        assert genai == ours[: len(genai)], (
            f"{name}: onnxruntime-genai {genai}, wasm_rt {ours}"
        )
    # The random model must not be degenerate (a constant stream would match
    # even with a broken cache).
    assert len(set(theirs)) > 3, f"{name}: onnxruntime's tokens {theirs} barely vary"


# --------------------------------------------------------------------------
# The exports compute the model: wasm_rt against the PyTorch checkpoint
# --------------------------------------------------------------------------

TORCH_CHECK = [
    "bert.model.fp32",
    "gpt2.model.fp32",
    "vit.model.fp32",
    "llama.model.fp32",
    "llama.model.genai_fp32",
]


@pytest.mark.parametrize("name", TORCH_CHECK)
def test_fp32_export_matches_pytorch(name, models):
    """Same inputs through transformers' own module (empty caches: a prompt)."""
    torch = pytest.importorskip("torch")
    v = models.get(name)
    if v.error:
        pytest.skip(f"{v.tool} could not make {v.name}: {v.error}")
    path = models.path(v)
    ours_sess = _wasm_rt(path, v)
    genai = v.recipe in exporter.GENAI_RECIPES
    feeds = exporter.sample_inputs(
        ours_sess.get_inputs(),
        seed=3,
        past=0,
        extra_dims=_extra_dims(path),
        pad=not genai,
        batch=1 if genai else 2,
    )
    cls = exporter._hf_models()[v.base][0]
    module = cls.from_pretrained(exporter.hf_folder(models.root, v.base)).eval()
    torch_feeds = {
        k: torch.from_numpy(x)
        for k, x in feeds.items()
        if not k.startswith("past_key_values")
    }
    with torch.no_grad():
        expected = module(**torch_feeds)
    outputs = [o.name for o in ours_sess.get_outputs()]
    ours = dict(zip(outputs, ours_sess.run(None, feeds)))
    compared = [n for n in ("logits", "last_hidden_state") if n in ours]
    assert compared, f"{name}: no logits/last_hidden_state among {outputs}"
    for n in compared:
        want = expected[n].numpy()
        scale = float(np.max(np.abs(want)))
        err = float(np.max(np.abs(ours[n] - want)))
        reporting.record(
            "transformer_vs_pytorch",
            model=name,
            output=n,
            max_abs_err=err,
            max_rel_err=err / scale,
        )
        # float32 on both sides (see TOLERANCE["fp32"]).
        np.testing.assert_allclose(
            ours[n],
            want,
            rtol=0,
            atol=TOLERANCE["fp32"] * scale,
            err_msg=f"{name} {n} vs PyTorch",
        )


def _genai_tokens(folder: Path, steps: int) -> list[int]:
    og = pytest.importorskip(
        "onnxruntime_genai", reason="onnxruntime-genai (requirements-dev.txt)"
    )
    model = og.Model(str(folder))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(PROMPT) + steps, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(np.array([PROMPT], np.int32))
    tokens = []
    while not generator.is_done():
        generator.generate_next_token()
        tokens.append(int(generator.get_next_tokens()[0]))
    return tokens
