"""NonMaxSuppression, RoiAlign and GridSample against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import check_op

F32 = np.float32
RNG = np.random.default_rng(3)


def boxes(batch, n, center):
    xy = RNG.random((batch, n, 2)).astype(F32) * 10
    wh = RNG.random((batch, n, 2)).astype(F32) * 4 + 0.5
    if center:
        return np.concatenate([xy, wh], axis=2)
    return np.concatenate([xy, xy + wh], axis=2)


@pytest.mark.parametrize("center_point_box", [0, 1])
@pytest.mark.parametrize("score_threshold", [None, 0.3])
@pytest.mark.parametrize("max_out", [2, 50])
def test_non_max_suppression(center_point_box, score_threshold, max_out):
    feeds = {
        "boxes": boxes(2, 30, center_point_box),
        "scores": RNG.random((2, 3, 30)).astype(F32),
        "max_out": np.array([max_out], np.int64),
        "iou": np.array([0.2], F32),
        "score_thr": None if score_threshold is None else np.array([score_threshold], F32),
    }
    # Integer indices: exact.
    check_op("NonMaxSuppression", feeds, 1, 11, center_point_box=center_point_box)


@pytest.mark.parametrize("opset,ctm", [(10, None), (16, "half_pixel"), (16, "output_half_pixel")])
@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roi_align(opset, ctm, mode, sampling_ratio):
    x = RNG.standard_normal((2, 3, 10, 12)).astype(F32)
    rois = np.array([[0, 0, 9, 9], [1.5, 2.2, 7.7, 6.1], [-2, -1, 13, 11], [3, 3, 3.2, 3.4]], F32)
    attrs = {"mode": mode, "output_height": 3, "output_width": 4, "sampling_ratio": sampling_ratio, "spatial_scale": 0.9}
    if ctm:
        attrs["coordinate_transformation_mode"] = ctm
    # Bilinear weights are float32 products summed over <= 36 samples.
    check_op("RoiAlign", {"X": x, "rois": rois, "idx": np.array([0, 1, 1, 0], np.int64)}, 1, opset, 1e-5, 1e-5, **attrs)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_grid_sample_16(mode, padding_mode, align_corners):
    x = RNG.standard_normal((2, 3, 5, 6)).astype(F32)
    # Coordinates reach past [-1, 1] to exercise the padding modes.
    grid = (RNG.random((2, 4, 7, 2)) * 3 - 1.5).astype(F32)
    # Interpolation weights in float32; bicubic sums 16 taps.
    check_op("GridSample", {"X": x, "grid": grid}, 1, 16, 1e-5, 1e-5,
             mode=mode, padding_mode=padding_mode, align_corners=align_corners)


@pytest.mark.parametrize("mode", ["linear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_20_volumetric(mode, padding_mode):
    x = RNG.standard_normal((1, 2, 3, 4, 5)).astype(F32)
    grid = (RNG.random((1, 2, 3, 4, 3)) * 2.6 - 1.3).astype(F32)
    check_op("GridSample", {"X": x, "grid": grid}, 1, 20, 1e-5, 1e-5, mode=mode, padding_mode=padding_mode)


@pytest.mark.parametrize("align_corners", [0, 1])
@pytest.mark.parametrize("size", [[2, 3, 4, 5], [1, 2, 3, 4, 5]])
def test_affine_grid(align_corners, size):
    r = len(size) - 2
    theta = RNG.standard_normal((size[0], r, r + 1)).astype(F32)
    # One small float32 dot product per point.
    check_op("AffineGrid", {"theta": theta, "size": np.array(size, np.int64)}, 1, 20, 1e-5, 1e-6,
             initializers={"size": np.array(size, np.int64)}, align_corners=align_corners)


@pytest.mark.parametrize("strides,pads,dilations", [([1, 1], [0, 0, 0, 0], [1, 1]), ([2, 1], [1, 0, 2, 1], [1, 2])])
def test_col2im(strides, pads, dilations):
    image, block = np.array([6, 7], np.int64), np.array([2, 3], np.int64)
    blocks = [(image[i] + pads[i] + pads[i + 2] - dilations[i] * (block[i] - 1) - 1) // strides[i] + 1 for i in range(2)]
    data = RNG.standard_normal((2, 3 * 6, int(np.prod(blocks)))).astype(F32)
    # Sums of at most 6 overlapping float32 values.
    check_op("Col2Im", {"x": data, "image": image, "block": block}, 1, 18, 1e-6, 1e-6,
             initializers={"image": image, "block": block}, strides=strides, pads=pads, dilations=dilations)


@pytest.mark.parametrize("group,offset_group", [(1, 1), (2, 2)])
@pytest.mark.parametrize("with_mask", [False, True])
def test_deform_conv(group, offset_group, with_mask):
    x = RNG.standard_normal((2, 4, 6, 7)).astype(F32)
    w = RNG.standard_normal((6, 4 // group, 3, 3)).astype(F32)
    oh, ow = 6, 7  # pads 1, stride 1
    offset = (RNG.standard_normal((2, offset_group * 9 * 2, oh, ow)) * 1.5).astype(F32)
    mask = RNG.random((2, offset_group * 9, oh, ow)).astype(F32) if with_mask else None
    feeds = {"X": x, "W": w, "offset": offset, "B": RNG.standard_normal(6).astype(F32), "mask": mask}
    # 36-term float32 dot products of bilinear samples.
    check_op("DeformConv", feeds, 1, 19, 1e-5, 1e-5, group=group, offset_group=offset_group,
             pads=[1, 1, 1, 1], kernel_shape=[3, 3])
