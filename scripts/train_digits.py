#!/usr/bin/env python3
"""Train the demo's handwritten-digit classifier and export it to ONNX.

Data: the 8x8 digits that scikit-learn ships (1,797 images, pixel values 0..16); 80%
train, 20% held out (stratified, seed 0). The training set is

* the original images and their one-pixel shifts, and
* ``AUG_PER_IMAGE`` synthetic "drawn with a mouse" versions of each image: upsampled
  (cubic spline), randomly rotated / sheared / stretched, thresholded at a random level
  and thinned or thickened at random (distance transform, so strokes of any width from a
  hairline to a blob appear), then run through *the page's own preprocessing*
  (scripts/digits_preprocess.py, a bit-exact port of wasm_rt/web/app.js's ``padToPixels``:
  crop, centre, 32x32 grid, stroke thickening, 4x4 ink counts).

Model: a small CNN (torch, CPU, fixed seeds, deterministic algorithms, one thread)::

    pixels [N,1,8,8] -> Mul(1/16) -> Conv 3x3 (16) -> Relu -> MaxPool 2 -> Conv 3x3 (32)
    -> Relu -> MaxPool 2 -> Flatten -> Gemm (64) -> Relu -> Gemm (10) -> Softmax

written to ONNX with onnx.helper (opset 13), checked against torch with onnxruntime.
Input ``pixels``: float32 [batch, 1, 8, 8], values 0..16. Output ``probabilities``:
float32 [batch, 10].

Usage: python scripts/train_digits.py [OUT]   (default wasm_rt/data/digits.onnx)
Needs scikit-learn, scipy, torch and onnx (development tools, not runtime dependencies).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from scipy import ndimage
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
import digits_preprocess  # (the page's preprocessing, shared with the tests)

SEED = 0
AUG_PER_IMAGE = 12
EPOCHS = 30
UP = 8  # upsampling factor: 8x8 -> 64x64
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "wasm_rt" / "data" / "digits.onnx"


def shifts(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def drawn_like(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random mouse-drawing-like variant of an 8x8 image, as the page would see it."""
    big = ndimage.zoom(image.astype(np.float64) / 16.0, UP, order=3)
    pad = UP * 4
    big = np.pad(big, pad)
    n = big.shape[0]
    angle = np.deg2rad(rng.uniform(-15, 15))
    shear = rng.uniform(-0.3, 0.3)
    sx = np.exp(rng.uniform(-0.45, 0.35))  # narrower or wider
    sy = np.exp(rng.uniform(-0.1, 0.1))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    fwd = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sy, sx])  # (row, col)
    inv = np.linalg.inv(fwd)
    centre = np.array([n / 2, n / 2])
    warped = ndimage.affine_transform(
        big, inv, offset=centre - inv @ centre, order=1, mode="constant"
    )
    ink = warped > rng.uniform(0.3, 0.65)
    if not ink.any():
        ink = warped > 0.5 * warped.max()
    # Stroke width: erode (hairline strokes, like a thin pen on a big drawing) or dilate.
    r = rng.uniform(-2.5, 2.0)
    if r < 0:
        dist = ndimage.distance_transform_edt(ink)
        thinned = dist > min(-r, 0.8 * dist.max())
        ink = thinned if thinned.any() else ink
    elif r > 0:
        ink = ndimage.distance_transform_edt(~ink) <= r
    return digits_preprocess.to_pixels(ink)


def redrawn_plain(image: np.ndarray) -> np.ndarray:
    """An 8x8 image upsampled, thresholded at half ink and run through the page's steps."""
    big = ndimage.zoom(image.astype(np.float64) / 16.0, UP, order=3)
    return digits_preprocess.to_pixels(big > 0.5)


def augment(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    x_shift, y_shift = shifts(images, labels)
    drawn = [drawn_like(img, rng) for img in images for _ in range(AUG_PER_IMAGE)]
    x = np.concatenate([x_shift, np.stack(drawn)]).astype(np.float32)
    y = np.concatenate([y_shift, np.repeat(labels, AUG_PER_IMAGE)])
    return x, y


def build_net():
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.fc1 = nn.Linear(32 * 2 * 2, 64)
            self.fc2 = nn.Linear(64, 10)
            self.drop = nn.Dropout(0.2)

        def forward(self, x):  # x: [N,1,8,8] in 0..16; returns logits
            x = x / 16.0
            x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
            x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
            x = self.drop(torch.relu(self.fc1(x.flatten(1))))
            return self.fc2(x)

    return Net()


def train():
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images,
        digits.target,
        test_size=0.2,
        random_state=SEED,
        stratify=digits.target,
    )
    x_aug, y_aug = augment(x_train, y_train, rng)
    xs = torch.from_numpy(x_aug[:, None])
    ys = torch.from_numpy(y_aug.astype(np.int64))
    net = build_net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        net.train()
        for idx in torch.randperm(len(xs), generator=gen).split(128):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
        sched.step()
    net.eval()

    def accuracy(images, labels):
        with torch.no_grad():
            logits = net(torch.from_numpy(images[:, None].astype(np.float32)))
        return float((logits.argmax(1).numpy() == labels).mean())

    # The held-out images as the data set has them, and as the page would show them.
    redrawn = np.stack([redrawn_plain(img) for img in x_test])
    report = {
        "held-out accuracy": accuracy(x_test, y_test),
        "held-out accuracy, page-preprocessed": accuracy(redrawn, y_test),
        "training accuracy": accuracy(x_aug, y_aug),
    }
    return net, report


def to_onnx(net) -> onnx.ModelProto:
    def arr(t):
        return t.detach().numpy().astype(np.float32)

    inits = [
        numpy_helper.from_array(np.array(1 / 16, np.float32), "scale"),
        numpy_helper.from_array(arr(net.conv1.weight), "conv1.W"),
        numpy_helper.from_array(arr(net.conv1.bias), "conv1.B"),
        numpy_helper.from_array(arr(net.conv2.weight), "conv2.W"),
        numpy_helper.from_array(arr(net.conv2.bias), "conv2.B"),
        numpy_helper.from_array(arr(net.fc1.weight), "fc1.W"),
        numpy_helper.from_array(arr(net.fc1.bias), "fc1.B"),
        numpy_helper.from_array(arr(net.fc2.weight), "fc2.W"),
        numpy_helper.from_array(arr(net.fc2.bias), "fc2.B"),
    ]
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    node = helper.make_node
    nodes = [
        node("Mul", ["pixels", "scale"], ["x0"], name="scale"),
        node("Conv", ["x0", "conv1.W", "conv1.B"], ["c1"], name="conv1", **conv),
        node("Relu", ["c1"], ["r1"], name="relu1"),
        node("MaxPool", ["r1"], ["p1"], name="pool1", **pool),
        node("Conv", ["p1", "conv2.W", "conv2.B"], ["c2"], name="conv2", **conv),
        node("Relu", ["c2"], ["r2"], name="relu2"),
        node("MaxPool", ["r2"], ["p2"], name="pool2", **pool),
        node("Flatten", ["p2"], ["flat"], name="flatten", axis=1),
        node("Gemm", ["flat", "fc1.W", "fc1.B"], ["z1"], name="dense1", transB=1),
        node("Relu", ["z1"], ["h1"], name="relu3"),
        node("Gemm", ["h1", "fc2.W", "fc2.B"], ["logits"], name="dense2", transB=1),
        node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_cnn",
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
        "8x8 handwritten digits (scikit-learn digits data set plus mouse-drawing-like "
        "augmentation), CNN conv16-pool-conv32-pool-64-10"
    )
    onnx.checker.check_model(model)
    return model


def check_against_torch(model: onnx.ModelProto, net) -> float:
    """Max |onnxruntime - torch| over the data set (skipped without onnxruntime)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return float("nan")
    import torch

    x = load_digits().images[:, None].astype(np.float32)
    sess = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (got,) = sess.run(None, {"pixels": x})
    with torch.no_grad():
        want = torch.softmax(net(torch.from_numpy(x)), 1).numpy()
    return float(np.abs(got - want).max())


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    net, report = train()
    model = to_onnx(net)
    diff = check_against_torch(model, net)
    assert not diff > 1e-4, f"ONNX export differs from torch by {diff}"
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, out)
    for key, value in report.items():
        print(f"{key}: {value:.4f}")
    print(
        f"onnx vs torch max diff {diff:.2e}; wrote {out} ({out.stat().st_size} bytes)"
    )


if __name__ == "__main__":
    main()
