#!/usr/bin/env python3
"""Build the transformer models people ship to browsers, small and random (test-only).

Five Hugging Face ``transformers`` architectures with random weights and tiny
sizes (each export takes seconds; nothing is downloaded from a hub) are saved
with ``save_pretrained`` and exported to ONNX by optimum's exporter, the tool
that makes the ONNX files on the hub (transformers.js, onnx-community):

* ``bert``: BERT encoder (``feature-extraction``);
* ``gpt2``: GPT-2 decoder with past key/values (``text-generation-with-past``);
* ``whisper``: Whisper-tiny-like encoder-decoder (``encoder_model`` and
  ``decoder_model``, ``automatic-speech-recognition``);
* ``vit``: ViT image classifier (``image-classification``);
* ``llama``: Llama decoder with grouped-query attention and past key/values.

Each base export is then rewritten by onnxruntime's own tools into the variants
that ship: the transformer optimizer's fused graphs (Attention, SkipLayerNorm,
FastGelu, ...), dynamic int8, static QDQ and QOperator int8 (calibrated on
random inputs), 4-bit MatMulNBits (block 32 and 128, symmetric and not),
float16 (with and without float32 I/O) and float16 + 4-bit; the Llama checkpoint
also goes through onnxruntime-genai's model builder (fp32 and int4).

Everything is cached in ``.cache/models/<key>/`` (git-ignored); ``key`` hashes
this file and the tool versions, so a changed recipe rebuilds.  A variant that
a tool cannot make is recorded with the reason in ``manifest.json``.

Usage::

    python scripts/export_transformer_models.py [--only NAME ...] [--list]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "models"
OPSET = 17  # LayerNormalization is one op; what optimum picks for these models
TOOLS = (
    "torch",
    "transformers",
    "optimum",
    "optimum-onnx",
    "onnx",
    "onnxruntime",
    "onnxruntime-genai",
    "onnx-ir",
)


@dataclass
class Base:
    """One exported architecture: its files and what the runtime inputs are."""

    name: str
    files: dict[str, str]  # part ("model", "encoder", "decoder") -> onnx file name
    model_type: str  # onnxruntime.transformers.optimizer model type
    num_heads: int
    hidden_size: int
    vocab_size: int = 0


@dataclass
class Variant:
    """One ONNX file to run: which base and part it comes from and how it was made."""

    name: str  # "<base>.<part>.<recipe>", e.g. "bert.model.int8_dynamic"
    base: str
    part: str
    recipe: str
    kind: str  # fp32, fp16, int8, int4 (drives the test's tolerance)
    tool: str
    path: str = ""  # relative to the cache folder; empty when the tool failed
    error: str = ""
    ops: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------
# Base models: random-initialised transformers configs, exported by optimum
# --------------------------------------------------------------------------

HF_SEED = 0
LLAMA_VOCAB = 160


def _hf_models():
    """name -> (config-made model, optimum task, optimizer model type)."""
    import transformers as tf

    bert = tf.BertConfig(
        vocab_size=128,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    # initializer_range: the default 0.02 makes a random 2-layer GPT-2 repeat
    # one token forever; 0.2 gives varied greedy streams (the generation test
    # needs tokens that depend on the cache).
    gpt2 = tf.GPT2Config(
        vocab_size=128,
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=4,
        initializer_range=0.2,
    )
    whisper = tf.WhisperConfig(
        vocab_size=128,
        num_mel_bins=16,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=16,  # input_features: [batch, 16, 32]
        max_target_positions=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        suppress_tokens=[],
        begin_suppress_tokens=[],
    )
    vit = tf.ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        num_labels=10,
    )
    llama = tf.LlamaConfig(
        # The genai builder takes any Linear with vocab_size outputs for the LM
        # head: the vocabulary must differ from every projection width (64, 32,
        # 128), or the logits come from the first MLP's gate (seen with 128).
        vocab_size=LLAMA_VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,  # grouped-query attention, as Llama 3 / Qwen 2
        max_position_embeddings=128,
        rms_norm_eps=1e-5,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
        # genai 0.18's builder reads rope_scaling as a dict (transformers 5's
        # layout); "default" is plain RoPE, the same as None in transformers 4.
        rope_scaling={"rope_type": "default"},
    )
    return {
        "bert": (tf.BertModel, bert, "feature-extraction", "bert"),
        "gpt2": (tf.GPT2LMHeadModel, gpt2, "text-generation-with-past", "gpt2"),
        "whisper": (
            tf.WhisperForConditionalGeneration,
            whisper,
            "automatic-speech-recognition",
            "bart",
        ),
        "vit": (tf.ViTForImageClassification, vit, "image-classification", "vit"),
        "llama": (tf.LlamaForCausalLM, llama, "text-generation-with-past", "gpt2"),
    }


# optimum's dummy Whisper input has 3000 mel frames; this one takes 2 * 16.
EXPORT_SHAPES = {"whisper": {"nb_max_frames": 32}}

BASE_FILES = {
    "bert": {"model": "model.onnx"},
    "gpt2": {"model": "model.onnx"},
    "whisper": {"encoder": "encoder_model.onnx", "decoder": "decoder_model.onnx"},
    "vit": {"model": "model.onnx"},
    "llama": {"model": "model.onnx"},
}


def hf_folder(root: Path, name: str) -> Path:
    """The random checkpoint, saved with save_pretrained (what the tools read)."""
    import torch

    folder = root / "hf" / name
    if (folder / "config.json").exists():
        return folder
    cls, config, _, _ = _hf_models()[name]
    torch.manual_seed(HF_SEED)
    model = cls(config).eval()
    tmp = folder.with_name(f"{name}.tmp-{os.getpid()}")
    model.save_pretrained(tmp)
    if hasattr(model, "generation_config") and model.generation_config is not None:
        model.generation_config.save_pretrained(tmp)
    if name == "llama":
        _tokenizer(LLAMA_VOCAB).save_pretrained(tmp)  # the genai builder copies it
    _replace_dir(tmp, folder)
    return folder


def _tokenizer(size: int):
    """A word-level tokenizer over ``size`` ids (four specials, then t4, t5, ...)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({f"t{i}": i for i in range(4, size)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )


def export_base(root: Path, name: str) -> Base:
    from optimum.exporters.onnx import main_export

    _, config, task, model_type = _hf_models()[name]
    files = BASE_FILES[name]
    out = root / name / "base"
    if not all((out / f).exists() for f in files.values()):
        src = hf_folder(root, name)
        tmp = out.with_name(f"base.tmp-{os.getpid()}")
        with _quiet():
            main_export(
                str(src),
                str(tmp),
                task=task,
                opset=OPSET,
                device="cpu",
                do_validation=False,
                no_post_process=True,  # keep decoder_model.onnx (no merged If graph)
                **EXPORT_SHAPES.get(name, {}),
            )
        _replace_dir(tmp, out)
    heads = getattr(config, "num_attention_heads", None) or getattr(
        config, "n_head", None
    )
    heads = heads or config.encoder_attention_heads
    hidden = getattr(config, "hidden_size", None) or getattr(config, "d_model", None)
    return Base(
        name, files, model_type, heads, hidden, getattr(config, "vocab_size", 0)
    )


# --------------------------------------------------------------------------
# Calibration / sample inputs (shared with the tests)
# --------------------------------------------------------------------------


def _dim(d, dims: dict[str, int]) -> int:
    if isinstance(d, int) and d > 0:
        return d
    name = str(d)
    for key, value in dims.items():
        if key == name:
            return value
    # optimum writes sums such as "past_sequence_length + sequence_length"
    if "+" in name:
        return sum(_dim(p.strip(), dims) for p in name.split("+"))
    if "sequence" in name or "length" in name:
        return dims.get("sequence_length", 5)
    return dims.get("batch_size", 1)


def sample_inputs(
    inputs,
    seed: int = 0,
    batch: int = 2,
    seq: int = 5,
    past: int = 3,
    vocab: int = 128,
    extra_dims: dict[str, int] | None = None,
    pad: bool = True,
) -> dict[str, np.ndarray]:
    """Random feeds for ``inputs`` (onnxruntime NodeArgs or wasm_rt's).

    Token ids are uniform in the vocabulary, masks are ones with the last
    position of the second row padded (so masking is exercised; ``pad=False``
    for onnxruntime-genai's GroupQueryAttention, which reads the mask as
    sequence lengths and supports left padding only), position ids
    count from the past length, key/value caches and float features are
    standard normal (floats in the model's dtype).
    """
    rng = np.random.default_rng(seed)
    dims = {
        "batch_size": batch,
        "batch": batch,
        "sequence_length": seq,
        "decoder_sequence_length": seq,
        "encoder_sequence_length": 16,
        "encoder_sequence_length_out": 16,
        "past_sequence_length": past,
        "past_decoder_sequence_length": past,
        "total_sequence_length": past + seq,
        "num_channels": 3,
        "height": 32,
        "width": 32,
    }
    dims.update(extra_dims or {})
    feeds = {}
    for arg in inputs:
        shape = [_dim(d, dims) for d in arg.shape]
        name = arg.name
        dtype = {
            "tensor(int64)": np.int64,
            "tensor(int32)": np.int32,
            "tensor(float)": np.float32,
            "tensor(float16)": np.float16,
        }[arg.type]
        if "mask" in name:
            value = np.ones(shape, dtype)
            if pad and shape[0] > 1 and shape[-1] > 1:
                value[1, -1] = 0
        elif name == "token_type_ids":
            value = rng.integers(0, 2, shape).astype(dtype)  # type_vocab_size 2
        elif name == "position_ids":
            value = np.broadcast_to(np.arange(past, past + shape[-1]), shape).astype(
                dtype
            )
        elif np.issubdtype(dtype, np.integer):
            value = rng.integers(0, vocab, shape).astype(dtype)
        else:
            value = rng.standard_normal(shape).astype(dtype)
        feeds[name] = np.ascontiguousarray(value)
    return feeds


class _RandomReader:
    """CalibrationDataReader: a few random batches for quantize_static."""

    def __init__(self, path: Path, vocab: int, count: int = 8):
        import onnxruntime as ort

        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.batches = iter(
            sample_inputs(sess.get_inputs(), seed=100 + i, vocab=vocab)
            for i in range(count)
        )

    def get_next(self):
        return next(self.batches, None)


# --------------------------------------------------------------------------
# Variants: onnxruntime's own tools
# --------------------------------------------------------------------------


def _optimize(src: Path, dst: Path, base: Base) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    with _quiet():
        model = optimize_model(
            str(src),
            model_type=base.model_type,
            num_heads=base.num_heads,
            hidden_size=base.hidden_size,
            opt_level=0,  # the Python fusions only, no onnxruntime-specific layout
        )
    model.save_model_to_file(str(dst))


def _float16(src: Path, dst: Path, keep_io_types: bool) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with _quiet():
        model = convert_float_to_float16(
            onnx.load(str(src)), keep_io_types=keep_io_types
        )
    onnx.save(model, str(dst))


def _dynamic(src: Path, dst: Path, base: Base) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            # onnx shape inference knows no com.microsoft op (fused graphs):
            # the quantizer's own advice is to default their outputs to float
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


def _static(src: Path, dst: Path, base: Base, fmt: str) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quant_format = QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator
    with _quiet():
        quantize_static(
            str(src),
            str(dst),
            _RandomReader(src, base.vocab_size),
            quant_format=quant_format,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )


def _nbits(src: Path, dst: Path, block: int, symmetric: bool) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    with _quiet():
        quant = MatMulNBitsQuantizer(
            onnx.load(str(src)), bits=4, block_size=block, is_symmetric=symmetric
        )
        quant.process()
    quant.model.save_model_to_file(str(dst), use_external_data_format=False)


def _ort_offline(src: Path, dst: Path, base: Base) -> None:
    """onnxruntime's own graph optimizer, saved (optimized_model_filepath).

    At the extended level the CPU provider's fusions are written into the
    file: on a dynamic-int8 model MatMulInteger chains become
    DynamicQuantizeMatMul / MatMulIntegerToFloat, on float graphs Gelu,
    LayerNorm, SkipLayerNorm, FusedMatMul and friends.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])


# recipe -> (kind, tool, builder(src, dst, base), source recipe)
RECIPES = {
    "fp32": ("fp32", "optimum main_export", None, None),
    "fused": ("fp32", "ort optimize_model", _optimize, "fp32"),
    "fp16": (
        "fp16",
        "ort convert_float_to_float16",
        lambda s, d, b: _float16(s, d, False),
        "fp32",
    ),
    "fp16_io32": (
        "fp16",
        "ort convert_float_to_float16(keep_io_types)",
        lambda s, d, b: _float16(s, d, True),
        "fp32",
    ),
    "fused_fp16": (
        "fp16",
        "ort optimize_model + float16(keep_io_types)",
        lambda s, d, b: _float16(s, d, True),
        "fused",
    ),
    "int8_dynamic": ("int8", "ort quantize_dynamic", _dynamic, "fp32"),
    "fused_int8_dynamic": (
        "int8",
        "ort optimize_model + quantize_dynamic",
        _dynamic,
        "fused",
    ),
    "ort_extended": (
        "fp32",
        "ort session ENABLE_EXTENDED (saved)",
        _ort_offline,
        "fp32",
    ),
    "int8_dynamic_ort_extended": (
        "int8",
        "ort quantize_dynamic + session ENABLE_EXTENDED (saved)",
        _ort_offline,
        "int8_dynamic",
    ),
    "int8_qdq": (
        "int8",
        "ort quantize_static QDQ",
        lambda s, d, b: _static(s, d, b, "qdq"),
        "fp32",
    ),
    "int8_qop": (
        "int8",
        "ort quantize_static QOperator",
        lambda s, d, b: _static(s, d, b, "qop"),
        "fp32",
    ),
    "int4_b32_sym": (
        "int4",
        "ort MatMulNBitsQuantizer(32, sym)",
        lambda s, d, b: _nbits(s, d, 32, True),
        "fp32",
    ),
    "int4_b32_asym": (
        "int4",
        "ort MatMulNBitsQuantizer(32, asym)",
        lambda s, d, b: _nbits(s, d, 32, False),
        "fp32",
    ),
    "int4_b128_sym": (
        "int4",
        "ort MatMulNBitsQuantizer(128, sym)",
        lambda s, d, b: _nbits(s, d, 128, True),
        "fp32",
    ),
    "int4_b128_asym": (
        "int4",
        "ort MatMulNBitsQuantizer(128, asym)",
        lambda s, d, b: _nbits(s, d, 128, False),
        "fp32",
    ),
    "fp16_int4": (
        "int4",
        "ort float16(keep_io_types) + MatMulNBitsQuantizer(32, asym)",
        lambda s, d, b: _nbits(s, d, 32, False),
        "fp16_io32",
    ),
}

# onnxruntime-genai 0.18's builder imports seven multimodal classes that only
# transformers 5 has, while optimum-onnx 0.1 needs transformers < 4.58.  The
# Llama path uses none of them, so the builder runs unchanged after those names
# are bound to placeholders (a class the builder would instantiate for another
# architecture fails loudly there).
GENAI_SHIM = """
import runpy, sys, transformers
for name in (
    "Gemma3ForConditionalGeneration", "Lfm2VlForConditionalGeneration",
    "Mistral3ForConditionalGeneration", "Qwen2_5_VLForConditionalGeneration",
    "Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForConditionalGeneration",
    "Qwen3VLForConditionalGeneration",
):
    if not hasattr(transformers, name):
        setattr(sys.modules["transformers"], name, type(name, (), {}))
sys.argv = ["builder"] + sys.argv[1:]
runpy.run_module("onnxruntime_genai.models.builder", run_name="__main__")
"""

GENAI_RECIPES = {"genai_fp32": ("fp32", "fp32"), "genai_int4": ("int4", "int4")}


def _genai(root: Path, precision: str) -> tuple[Path, dict]:
    """onnxruntime-genai's model builder on the local Llama checkpoint."""
    src = hf_folder(root, "llama")
    out = root / "llama" / f"genai_{precision}"
    if not (out / "model.onnx").exists():
        tmp = out.with_name(f"genai_{precision}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            sys.executable,
            "-c",
            GENAI_SHIM,
            "-i",
            str(src),
            "-o",
            str(tmp),
            "-p",
            precision,
            "-e",
            "cpu",
            "-c",
            str(root / "hf" / "genai-cache"),
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=600, check=False
        )
        if proc.returncode != 0 or not (tmp / "model.onnx").exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-6:]
            args = " ".join(cmd[3:])
            raise RuntimeError(f"genai builder {args} failed: " + " | ".join(tail))
        _replace_dir(tmp, out)
    config = json.loads((out / "genai_config.json").read_text())
    return out / "model.onnx", config


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def cache_key() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    for tool in TOOLS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            h.update(f"{tool}={metadata.version(tool)}".encode())
    return h.hexdigest()[:12]


def cache_dir() -> Path:
    return CACHE / cache_key()


def all_variant_names() -> list[str]:
    names = []
    for base, parts in BASE_FILES.items():
        for part in parts:
            names += [f"{base}.{part}.{r}" for r in RECIPES]
    names += [f"llama.model.{r}" for r in GENAI_RECIPES]
    return names


def op_list(path: Path) -> list[str]:
    """Sorted 'domain:Op' (ai.onnx ops without a domain) of every node, subgraphs too."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    ops = set()

    def walk(graph):
        for node in graph.node:
            ops.add(f"{node.domain}:{node.op_type}" if node.domain else node.op_type)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)

    walk(model.graph)
    return sorted(ops)


def build(
    names: list[str] | None = None, root: Path | None = None
) -> dict[str, Variant]:
    """Make (or reuse) the named variants; returns name -> Variant (errors recorded)."""
    root = root or cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    names = names or all_variant_names()
    manifest_path = root / "manifest.json"
    known = {}
    if manifest_path.exists():
        known = {v["name"]: Variant(**v) for v in json.loads(manifest_path.read_text())}
    bases: dict[str, Base] = {}
    result: dict[str, Variant] = {}

    def make(name: str) -> Variant:
        if name in result:
            return result[name]
        if name in known and (
            not known[name].path or (root / known[name].path).exists()
        ):
            result[name] = known[name]
            return known[name]
        base_name, part, recipe = name.split(".")
        if recipe in GENAI_RECIPES:
            kind, precision = GENAI_RECIPES[recipe]
            v = Variant(
                name, base_name, part, recipe, kind, f"genai builder -p {precision}"
            )
            try:
                path, _ = _genai(root, precision)
                v.path = str(path.relative_to(root))
            except Exception as e:  # noqa: BLE001 - a tool failure is recorded, not raised
                v.error = _reason(e)
        else:
            kind, tool, fn, source = RECIPES[recipe]
            v = Variant(name, base_name, part, recipe, kind, tool)
            try:
                if base_name not in bases:
                    bases[base_name] = export_base(root, base_name)
                base = bases[base_name]
                if fn is None:
                    path = root / base_name / "base" / base.files[part]
                else:
                    src = make(f"{base_name}.{part}.{source}")
                    if src.error:
                        raise RuntimeError(f"source variant {src.name}: {src.error}")
                    path = root / base_name / recipe / base.files[part]
                    if not path.exists():
                        path.parent.mkdir(parents=True, exist_ok=True)
                        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}.onnx")
                        fn(root / src.path, tmp, base)
                        tmp.replace(path)
                v.path = str(path.relative_to(root))
            except Exception as e:  # noqa: BLE001 - a tool failure is recorded, not raised
                v.error = _reason(e)
        if v.path:
            v.ops = op_list(root / v.path)
        result[name] = v
        return v

    for name in names:
        make(name)
    known.update(result)
    tmp = manifest_path.with_name(f"manifest.tmp-{os.getpid()}")
    tmp.write_text(json.dumps([asdict(v) for v in known.values()], indent=1))
    tmp.replace(manifest_path)
    return {n: result[n] for n in names}


def _reason(e: Exception) -> str:
    frames = traceback.extract_tb(e.__traceback__)
    where = (
        f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    )
    return f"{type(e).__name__}: {str(e).strip()[:400]}{where}"


def _replace_dir(tmp: Path, out: Path) -> None:
    try:
        tmp.replace(out)
    except OSError:  # another process made it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _quiet():
    """The exporters print progress and tracer warnings by the page; keep the log short."""
    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                yield
        finally:
            logging.disable(logging.NOTSET)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="variant names (default: all)")
    parser.add_argument("--list", action="store_true", help="print the variant names")
    args = parser.parse_args()
    if args.list:
        print("\n".join(all_variant_names()))
        return
    root = cache_dir()
    for name, v in build(args.only, root).items():
        status = v.path if v.path else f"FAILED {v.error}"
        print(f"{name:34} {v.kind:5} {status}")
    print(f"cache: {root}")


if __name__ == "__main__":
    main()
