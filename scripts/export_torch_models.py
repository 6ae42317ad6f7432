#!/usr/bin/env python3
"""Export three small PyTorch models with random weights to ONNX (test-only).

* ``cnn``: Conv -> BatchNorm -> ReLU -> MaxPool, Conv -> ReLU -> AvgPool ->
  BatchNorm, a grouped Conv, GlobalAveragePool, Linear (input ``image`` float32
  [batch, 3, 32, 32]).  The first BatchNorm is folded into its Conv by the
  exporter, the second stays a BatchNormalization node.
* ``bert``: a BERT-like encoder: token + position embeddings, 2 post-LN blocks
  of bidirectional multi-head attention and a GELU MLP, with a padding mask
  (inputs ``input_ids`` int64 [batch, seq], ``attention_mask`` int64 [batch, seq]).
* ``gpt2``: a GPT-2-like decoder: pre-LN blocks with causal attention, a final
  LayerNorm and a language-model head (input ``input_ids`` int64 [batch, seq]).

Batch and sequence axes are dynamic.  Weights come from fixed seeds, so the
files are reproducible; BatchNorm running statistics are randomised too so
the normalisation is not an identity.  The legacy TorchScript exporter
(``dynamo=False``) is used because it needs only ``onnx``, not ``onnxscript``.

Usage::

    python scripts/export_torch_models.py OUT_DIR [--opset 17]
"""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path

import torch
from torch import nn

DEFAULT_OPSET = 17  # LayerNormalization is a single op from opset 17
VOCAB, D_MODEL, HEADS, D_FF, LAYERS, MAX_POS = 97, 32, 4, 64, 2, 64


class SmallCNN(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, stride=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.BatchNorm2d(16),  # after a pool, so the exporter cannot fold it into a Conv
            nn.Conv2d(16, 16, 3, padding=1, groups=4),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(16, classes)

    def forward(self, image):
        return self.classifier(torch.flatten(self.features(image), 1))


class Attention(nn.Module):
    """Multi-head self-attention written out (MatMul, Softmax, Transpose, Reshape)."""

    def __init__(self, causal: bool):
        super().__init__()
        self.causal = causal
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.out = nn.Linear(D_MODEL, D_MODEL)

    def forward(self, x, key_padding=None):
        b, s, _ = x.shape
        q, k, v = self.qkv(x).split(D_MODEL, dim=-1)
        q, k, v = (t.reshape(b, s, HEADS, D_MODEL // HEADS).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(D_MODEL // HEADS)
        if self.causal:
            future = torch.triu(torch.ones(s, s, dtype=torch.bool, device=x.device), diagonal=1)
            scores = scores.masked_fill(future, float("-inf"))
        if key_padding is not None:  # [b, s] True where padded
            scores = scores.masked_fill(key_padding[:, None, None, :], -1e4)
        weights = torch.softmax(scores, dim=-1)
        y = (weights @ v).transpose(1, 2).reshape(b, s, D_MODEL)
        return self.out(y)


class Block(nn.Module):
    def __init__(self, causal: bool, pre_norm: bool):
        super().__init__()
        self.pre_norm = pre_norm
        self.attn = Attention(causal)
        self.ln1 = nn.LayerNorm(D_MODEL)
        self.ln2 = nn.LayerNorm(D_MODEL)
        self.mlp = nn.Sequential(nn.Linear(D_MODEL, D_FF), nn.GELU(), nn.Linear(D_FF, D_MODEL))

    def forward(self, x, key_padding=None):
        if self.pre_norm:  # GPT-2
            x = x + self.attn(self.ln1(x), key_padding)
            return x + self.mlp(self.ln2(x))
        x = self.ln1(x + self.attn(x, key_padding))  # BERT
        return self.ln2(x + self.mlp(x))


class Embeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.tokens = nn.Embedding(VOCAB, D_MODEL)
        self.positions = nn.Embedding(MAX_POS, D_MODEL)

    def forward(self, input_ids):
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)
        return self.tokens(input_ids) + self.positions(pos)[None]


class BertEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = Embeddings()
        self.ln = nn.LayerNorm(D_MODEL)
        self.blocks = nn.ModuleList(Block(causal=False, pre_norm=False) for _ in range(LAYERS))
        self.pooler = nn.Linear(D_MODEL, D_MODEL)

    def forward(self, input_ids, attention_mask):
        x = self.ln(self.embed(input_ids))
        padding = attention_mask == 0
        for block in self.blocks:
            x = block(x, padding)
        return x, torch.tanh(self.pooler(x[:, 0]))


class Gpt2Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = Embeddings()
        self.blocks = nn.ModuleList(Block(causal=True, pre_norm=True) for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(D_MODEL)
        self.lm_head = nn.Linear(D_MODEL, VOCAB, bias=False)

    def forward(self, input_ids):
        x = self.embed(input_ids)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def _randomize(model: nn.Module, seed: int) -> nn.Module:
    """Fixed-seed random weights, including BatchNorm/LayerNorm affine and statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.3 if p.dim() > 1 else 0.1))
            if name.endswith("weight") and p.dim() == 1:  # norm scales around 1
                p.add_(1.0)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return model.eval()


def sample_inputs(name: str, batch: int = 2, seq: int = 7, seed: int = 0) -> dict[str, "np.ndarray"]:  # noqa: F821
    """Feeds for ``name`` as numpy arrays (used for export and by the tests)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if name == "cnn":
        return {"image": rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)}
    ids = rng.integers(0, VOCAB, (batch, seq), dtype=np.int64)
    if name == "bert":
        mask = np.ones((batch, seq), dtype=np.int64)
        mask[0, seq - 2 :] = 0  # the first sequence is padded
        return {"input_ids": ids, "attention_mask": mask}
    return {"input_ids": ids}


MODELS = {
    # name: (constructor, seed, input names, output names, dynamic axes)
    "cnn": (SmallCNN, 1, ["image"], ["logits"], {"image": {0: "batch"}, "logits": {0: "batch"}}),
    "bert": (
        BertEncoder,
        2,
        ["input_ids", "attention_mask"],
        ["last_hidden_state", "pooled"],
        {
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "last_hidden_state": {0: "batch", 1: "sequence"},
            "pooled": {0: "batch"},
        },
    ),
    "gpt2": (
        Gpt2Decoder,
        3,
        ["input_ids"],
        ["logits"],
        {"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}},
    ),
}


def build(name: str) -> nn.Module:
    cls, seed, *_ = MODELS[name]
    torch.manual_seed(seed)
    return _randomize(cls(), seed)


def torch_outputs(name: str, feeds: dict) -> list:
    """The PyTorch model's own outputs for ``feeds`` (numpy in, numpy out)."""
    model = build(name)
    with torch.no_grad():
        out = model(*(torch.from_numpy(feeds[k]) for k in MODELS[name][2]))
    out = out if isinstance(out, tuple) else (out,)
    return [t.numpy() for t in out]


def export(name: str, path: Path, opset: int = DEFAULT_OPSET) -> Path:
    _, _, input_names, output_names, dynamic_axes = MODELS[name]
    model = build(name)
    feeds = sample_inputs(name)
    args = tuple(torch.from_numpy(feeds[k]) for k in input_names)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            args,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    return path


def export_all(out_dir: Path, opset: int = DEFAULT_OPSET) -> dict[str, Path]:
    return {name: export(name, Path(out_dir) / f"{name}.onnx", opset) for name in MODELS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    args = parser.parse_args()
    for name, path in export_all(args.out_dir, args.opset).items():
        print(f"{name}: {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
