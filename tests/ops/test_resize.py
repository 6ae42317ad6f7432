"""Resize and Upsample against onnxruntime and the ONNX node cases."""

from __future__ import annotations

import numpy as np
import pytest
from _node_cases import compare, node_cases, run_case
from oracle import check_op

# align_corners with a non-integral scale * in_len: the reference divides by
# the unrounded output length (2.4 for 4 * 0.6), onnxruntime by the integer
# one (2); we follow onnxruntime, PyTorch and TensorFlow.
REFERENCE_ONLY = {
    "test_resize_downsample_scales_linear_align_corners",
    "test_resize_downsample_scales_cubic_align_corners",
}


def _mark(case):
    if case.name in REFERENCE_ONLY:
        reason = (
            "align_corners: onnxruntime's integer output length, not the reference's"
        )
        return pytest.param(case, marks=pytest.mark.xfail(reason=reason, strict=True))
    return case


@pytest.mark.parametrize(
    "case", [_mark(c) for c in node_cases({"Resize", "Upsample"})], ids=lambda c: c.name
)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


def _data(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# Interpolation weights are computed in float64 here and in float32 by
# onnxruntime; results are convex-ish combinations of O(1) values.
TOL = {"rtol": 1e-5, "atol": 1e-5}

COORD_MODES = [
    "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
    "tf_half_pixel_for_nn", "half_pixel_symmetric",
]  # fmt: skip

SCALES = [[1, 1, 2.0, 1.5], [1, 1, 0.5, 0.6], [1, 1, 1.7, 0.8], [1, 1, 3.0, 3.0]]


def _resize(x, scales=None, sizes=None, roi=None, opset=19, **attrs):
    inputs = {
        "x": x,
        "roi": None if roi is None else np.asarray(roi, np.float32),
        "scales": None if scales is None else np.asarray(scales, np.float32),
        "sizes": None if sizes is None else np.asarray(sizes, np.int64),
    }
    inits = {k: v for k, v in inputs.items() if k != "x" and v is not None}
    check_op("Resize", inputs, opset=opset, initializers=inits, **TOL, **attrs)


@pytest.mark.parametrize("scales", SCALES)
@pytest.mark.parametrize("coord", COORD_MODES)
@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_resize_scales(mode, coord, scales):
    if mode == "nearest" and coord == "half_pixel_symmetric":
        pytest.skip("onnxruntime 1.31 rejects half_pixel_symmetric with nearest")
    _resize(
        _data((2, 3, 5, 7)),
        scales=scales,
        mode=mode,
        coordinate_transformation_mode=coord,
    )


@pytest.mark.parametrize(
    "nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
)
@pytest.mark.parametrize("sizes", [[1, 2, 9, 4], [1, 2, 3, 11]])
def test_resize_nearest_modes(nearest_mode, sizes):
    _resize(_data((1, 2, 5, 6)), sizes=sizes, mode="nearest", nearest_mode=nearest_mode,
            coordinate_transformation_mode="asymmetric")  # fmt: skip


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("sizes", [[1, 1, 3, 4], [1, 1, 11, 5]])
def test_resize_tf_crop_and_resize(mode, sizes):
    roi = [0, 0, 0.2, 0.1, 1, 1, 1.2, 0.7]
    _resize(_data((1, 1, 6, 7)), sizes=sizes, roi=roi, mode=mode,
            coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0)  # fmt: skip


@pytest.mark.parametrize("a", [-0.5, -0.75])
@pytest.mark.parametrize("exclude", [0, 1])
def test_resize_cubic_options(a, exclude):
    _resize(_data((1, 2, 6, 5)), scales=[1, 1, 1.6, 0.7], mode="cubic", cubic_coeff_a=a,
            exclude_outside=exclude)  # fmt: skip


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales", [[1, 1, 0.5, 0.4], [1, 1, 0.7, 1.3]])
def test_resize_antialias(mode, scales):
    _resize(_data((1, 2, 12, 10)), scales=scales, mode=mode, antialias=1)


@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
def test_resize_axes_and_policy(policy):
    _resize(_data((2, 3, 6, 8)), sizes=[9, 5], axes=[2, 3], mode="linear",
            keep_aspect_ratio_policy=policy)  # fmt: skip


def test_resize_uint8_linear():
    x = np.random.default_rng(0).integers(0, 255, (1, 1, 5, 6), dtype=np.uint8)
    inputs = {"x": x, "roi": None, "scales": np.array([1, 1, 1.5, 2.5], np.float32)}
    check_op("Resize", inputs, opset=19, initializers={"scales": inputs["scales"]},
             mode="nearest")  # fmt: skip


def test_resize_3d_and_1d():
    _resize(_data((1, 2, 4, 5, 3)), scales=[1, 1, 1.5, 0.6, 2.0], mode="linear")
    _resize(_data((3, 7)), scales=[1.0, 1.4], mode="cubic")


@pytest.mark.parametrize("opset", [11, 13])
def test_resize_11_13(opset):
    _resize(_data((1, 2, 5, 6)), scales=[1, 1, 1.5, 0.5], roi=[] if opset == 11 else None,
            opset=opset, mode="linear", coordinate_transformation_mode="align_corners")  # fmt: skip


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("scales", [[1, 1, 2, 3], [1, 1, 0.5, 0.5], [1, 1, 1.5, 2.5]])
def test_resize_10(mode, scales):
    x = _data((1, 2, 4, 6))
    s = np.asarray(scales, np.float32)
    check_op("Resize", {"x": x, "scales": s}, opset=10, initializers={"scales": s},
             mode=mode, **TOL)  # fmt: skip


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample_9(mode):
    s = np.array([1, 1, 2, 3], np.float32)
    check_op("Upsample", {"x": _data((1, 2, 3, 4)), "scales": s}, opset=9,
             initializers={"scales": s}, mode=mode, **TOL)  # fmt: skip


def test_resize_rejects_both_scales_and_sizes():
    from wasm_rt.registry import resolve

    with pytest.raises(ValueError, match="exactly one"):
        resolve("", "Resize", 19).fn(
            _data((1, 1, 2, 2)), None, np.ones(4, np.float32), np.ones(4, np.int64)
        )
