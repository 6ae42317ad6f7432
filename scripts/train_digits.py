#!/usr/bin/env python3
"""Train the demo's handwritten-digit classifier and export it to ONNX.

Data: the 8x8 digits that scikit-learn ships (1,797 images, pixel values 0..16),
augmented with one-pixel shifts so that digits drawn with a mouse, after the
page's crop-and-centre step, are recognised. Model: a multilayer perceptron
(64 -> 128 -> 64 -> 10, ReLU) trained with scikit-learn, written to ONNX with
onnx.helper as Flatten -> Gemm -> Relu -> Gemm -> Relu -> Gemm -> Softmax.

Input ``pixels``: float32 [batch, 1, 8, 8], values 0..16 (ink count of each
4x4 block of a 32x32 bitmap, as in the data set). Output ``probabilities``:
float32 [batch, 10].

Usage: python scripts/train_digits.py [OUT]   (default wasm_rt/data/digits.onnx)
Needs scikit-learn and onnx (development tools, not runtime dependencies).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

SEED = 0
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "wasm_rt" / "data" / "digits.onnx"


def augment(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Originals plus every one-pixel shift (8 neighbours), zero-filled."""
    out_x, out_y = [images], [labels]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dx == dy == 0:
                continue
            shifted = np.roll(images, (dy, dx), axis=(1, 2))
            if dy == 1:
                shifted[:, 0, :] = 0
            if dy == -1:
                shifted[:, -1, :] = 0
            if dx == 1:
                shifted[:, :, 0] = 0
            if dx == -1:
                shifted[:, :, -1] = 0
            out_x.append(shifted)
            out_y.append(labels)
    return np.concatenate(out_x), np.concatenate(out_y)


def train() -> tuple[MLPClassifier, float]:
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images,
        digits.target,
        test_size=0.2,
        random_state=SEED,
        stratify=digits.target,
    )
    x_aug, y_aug = augment(x_train, y_train)
    clf = MLPClassifier(
        hidden_layer_sizes=(128, 64), alpha=1e-3, max_iter=200, random_state=SEED
    )
    clf.fit(x_aug.reshape(len(x_aug), -1) / 16.0, y_aug)
    accuracy = clf.score(x_test.reshape(len(x_test), -1) / 16.0, y_test)
    return clf, accuracy


def to_onnx(clf: MLPClassifier) -> onnx.ModelProto:
    """Flatten, scale by 1/16, then the perceptron's Gemm/Relu layers and a Softmax."""
    inits = [numpy_helper.from_array(np.array(1 / 16, np.float32), "scale")]
    nodes = [
        helper.make_node("Flatten", ["pixels"], ["flat"], name="flatten", axis=1),
        helper.make_node("Mul", ["flat", "scale"], ["h0"], name="scale"),
    ]
    layers = list(zip(clf.coefs_, clf.intercepts_))
    for i, (w, b) in enumerate(layers):
        inits += [
            numpy_helper.from_array(w.T.astype(np.float32), f"W{i}"),
            numpy_helper.from_array(b.astype(np.float32), f"B{i}"),
        ]
        out = f"z{i}" if i < len(layers) - 1 else "logits"
        nodes.append(
            helper.make_node(
                "Gemm", [f"h{i}", f"W{i}", f"B{i}"], [out], name=f"dense{i}", transB=1
            )
        )
        if i < len(layers) - 1:
            nodes.append(
                helper.make_node("Relu", [out], [f"h{i + 1}"], name=f"relu{i}")
            )
    nodes.append(
        helper.make_node(
            "Softmax", ["logits"], ["probabilities"], name="softmax", axis=1
        )
    )
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [
            helper.make_tensor_value_info(
                "pixels", TensorProto.FLOAT, ["batch", 1, 8, 8]
            )
        ],
        [
            helper.make_tensor_value_info(
                "probabilities", TensorProto.FLOAT, ["batch", 10]
            )
        ],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="wasm_rt/train_digits",
    )
    model.ir_version = 8
    model.doc_string = (
        "8x8 handwritten digits (scikit-learn digits data set), MLP 64-128-64-10"
    )
    onnx.checker.check_model(model)
    return model


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    clf, accuracy = train()
    model = to_onnx(clf)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, out)
    print(f"test accuracy {accuracy:.4f}; wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
