"""Shape kernels against onnxruntime, plus the official node cases run directly."""

from __future__ import annotations

import numpy as np
import pytest
from _node_cases import compare, node_cases, run_case
from oracle import check_op, single_node_model

import wasm_rt

SHAPE_OPS = {
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split",
    "Slice", "Expand", "Tile", "Pad", "Shape", "Size", "ConstantOfShape",
    "Constant", "Range", "SpaceToDepth", "DepthToSpace", "ReverseSequence",
    "CenterCropPad", "EyeLike",
}  # fmt: skip

F32 = np.float32
I64 = np.int64


def arange(*shape, dtype=F32):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


@pytest.mark.parametrize("case", list(node_cases(SHAPE_OPS)), ids=lambda c: c.name)
def test_onnx_node_case(case):
    for expected, got in run_case(case):
        compare(expected, got)


# --- Reshape / Flatten / Squeeze / Unsqueeze --------------------------------


@pytest.mark.parametrize("opset", [5, 13, 14, 21])
@pytest.mark.parametrize(
    "shape", [[4, -1], [0, -1], [-1], [2, 0, 4, 1], [1, 24], [0, 0, 4]]
)
def test_reshape(opset, shape):
    check_op("Reshape", {"x": arange(2, 3, 4), "s": np.array(shape, I64)}, opset=opset)


def test_reshape_allowzero_empty():
    x = np.zeros((0, 3), F32)
    check_op("Reshape", {"x": x, "s": np.array([3, 0], I64)}, opset=14, allowzero=1)


def test_reshape_attr_opset1():
    check_op("Reshape", {"x": arange(2, 6)}, opset=1, shape=[3, 4])


@pytest.mark.parametrize("axis", [-3, -1, 0, 1, 3])
def test_flatten(axis):
    check_op("Flatten", {"x": arange(2, 3, 4)}, opset=13, axis=axis)


@pytest.mark.parametrize("axes", [None, [1], [-1, 1], [3]])
def test_squeeze_13(axes):
    x = arange(2, 1, 3, 1)
    # onnxruntime rejects an omitted-but-named axes input, so leave it out entirely.
    inputs = {"x": x} if axes is None else {"x": x, "axes": np.array(axes, I64)}
    check_op("Squeeze", inputs, opset=13)


def test_squeeze_attr_opset11():
    check_op("Squeeze", {"x": arange(1, 3, 1)}, opset=11, axes=[0, -1])


@pytest.mark.parametrize("axes", [[0], [-1], [0, 3], [1, -2]])
def test_unsqueeze_13(axes):
    check_op("Unsqueeze", {"x": arange(2, 3), "axes": np.array(axes, I64)}, opset=13)


def test_unsqueeze_attr_opset11():
    check_op("Unsqueeze", {"x": arange(3)}, opset=11, axes=[0, -1])


@pytest.mark.parametrize("perm", [None, [0, 2, 1], [2, 0, 1]])
def test_transpose(perm):
    attrs = {} if perm is None else {"perm": perm}
    check_op("Transpose", {"x": arange(2, 3, 4)}, opset=21, **attrs)


# --- Concat / Split ----------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(axis):
    a, b = arange(2, 3), arange(2, 3) + 10
    check_op("Concat", {"a": a, "b": b}, opset=13, axis=axis)


def test_concat_with_empty():
    check_op(
        "Concat", {"a": arange(2, 3), "b": np.zeros((0, 3), F32)}, opset=13, axis=0
    )


@pytest.mark.parametrize("opset", [11, 13, 18])
@pytest.mark.parametrize("axis", [0, -1])
def test_split_equal(opset, axis):
    attrs = {"num_outputs": 3} if opset >= 18 else {}
    check_op("Split", {"x": arange(6, 6)}, outputs=3, opset=opset, axis=axis, **attrs)


def test_split_sizes_input():
    inputs = {"x": arange(7, 2), "s": np.array([2, 0, 5], I64)}
    check_op("Split", inputs, outputs=3, opset=13, axis=0)


def test_split_sizes_attr_opset11():
    check_op("Split", {"x": arange(7)}, outputs=2, opset=11, split=[3, 4])


def test_split_num_outputs_uneven():
    check_op("Split", {"x": arange(7)}, outputs=4, opset=18, num_outputs=4)


# --- Slice -------------------------------------------------------------------


@pytest.mark.parametrize(
    "starts, ends, axes, steps",
    [
        ([0, 1], [2, 3], [0, 1], [1, 1]),
        ([-1], [-1000], [1], [-1]),
        ([10], [-10], [-1], [-2]),
        ([1], [1000], None, None),
        ([-100], [100], [0], [3]),
        ([3], [1], [0], [1]),  # empty result
        ([0, 5], [-1, -7], [0, 1], [2, -2]),
        ([3], [2**63 - 1], [1], [-2]),  # onnxruntime: INT_MAX end = no end
        ([-(2**63)], [2**31 - 1], [0], [1]),
    ],
)
def test_slice(starts, ends, axes, steps):
    inputs = {
        "x": arange(4, 6),
        "starts": np.array(starts, I64),
        "ends": np.array(ends, I64),
        "axes": None if axes is None else np.array(axes, I64),
        "steps": None if steps is None else np.array(steps, I64),
    }
    if steps is not None and axes is None:
        inputs["axes"] = np.arange(len(starts), dtype=I64)
    check_op("Slice", inputs, opset=13)


def test_slice_attrs_opset1():
    check_op(
        "Slice",
        {"x": arange(4, 6)},
        opset=1,
        starts=[1, -3],
        ends=[100, -1],
        axes=[0, 1],
    )


def test_slice_empty_input():
    inputs = {
        "x": np.zeros((0, 3), F32),
        "starts": np.array([-1], I64),
        "ends": np.array([-10], I64),
        "axes": np.array([0], I64),
        "steps": np.array([-1], I64),
    }
    check_op("Slice", inputs, opset=13)


# --- Expand / Tile / Pad -----------------------------------------------------


@pytest.mark.parametrize("shape", [[2, 3], [3, 1, 1], [1], [2, 1, 3]])
def test_expand(shape):
    check_op("Expand", {"x": arange(1, 3), "s": np.array(shape, I64)}, opset=13)


@pytest.mark.parametrize("reps", [[1, 1], [2, 3], [0, 2]])
def test_tile(reps):
    check_op("Tile", {"x": arange(2, 3), "r": np.array(reps, I64)}, opset=13)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("pads", [[1, 2, 2, 1], [0, 0, 0, 0], [1, -1, 0, 2]])
def test_pad(mode, pads):
    inputs = {"x": arange(3, 4), "pads": np.array(pads, I64), "v": np.array(1.5, F32)}
    check_op("Pad", inputs, opset=19, mode=mode)


def test_pad_axes_18():
    inputs = {
        "x": arange(2, 3, 4),
        "pads": np.array([1, 2, 0, 1], I64),
        "v": None,
        "axes": np.array([-1, 0], I64),
    }
    check_op("Pad", inputs, opset=18)


def test_pad_attr_opset2():
    check_op("Pad", {"x": arange(2, 2)}, opset=2, pads=[1, 0, 0, 1], value=3.0)


# --- Shape / Size / constants / Range ---------------------------------------


@pytest.mark.parametrize(
    "start, end", [(None, None), (1, None), (-2, None), (0, -1), (5, 9)]
)
def test_shape(start, end):
    attrs = {k: v for k, v in {"start": start, "end": end}.items() if v is not None}
    check_op("Shape", {"x": arange(2, 3, 4)}, opset=15, **attrs)


def test_size_empty():
    check_op("Size", {"x": np.zeros((2, 0), F32)}, opset=13)


@pytest.mark.parametrize("shape", [[2, 3], [], [0, 4]])
def test_constant_of_shape(shape):
    import onnx.numpy_helper

    value = onnx.numpy_helper.from_array(np.array([7], np.int32))
    check_op("ConstantOfShape", {"s": np.array(shape, I64)}, opset=21, value=value)


@pytest.mark.parametrize(
    "attrs",
    [
        {"value_float": 1.5},
        {"value_floats": [1.0, 2.0]},
        {"value_int": 3},
        {"value_ints": [1, -2]},
        {"value_string": "hi"},
        {"value_strings": ["a", "bc"]},
    ],
)
def test_constant(attrs):
    check_op("Constant", {}, opset=21, **attrs)


@pytest.mark.parametrize(
    "start, limit, delta, dtype",
    [
        (0, 10, 3, I64),
        (10, 0, -3, np.int32),
        (1.0, 2.0, 0.3, F32),
        (5, 5, 1, I64),
        (2, 0, 1, I64),
    ],
)
def test_range(start, limit, delta, dtype):
    inputs = {
        n: np.array(v, dtype) for n, v in {"a": start, "b": limit, "c": delta}.items()
    }
    check_op("Range", inputs, opset=21, rtol=1e-6)


# --- Layout ops --------------------------------------------------------------


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(mode):
    check_op(
        "DepthToSpace", {"x": arange(1, 8, 2, 3)}, opset=13, blocksize=2, mode=mode
    )


def test_space_to_depth():
    check_op("SpaceToDepth", {"x": arange(2, 2, 4, 6)}, opset=13, blocksize=2)


@pytest.mark.parametrize("batch_axis, time_axis", [(1, 0), (0, 1)])
def test_reverse_sequence(batch_axis, time_axis):
    x = arange(4, 4, 2)
    inputs = {"x": x, "lens": np.array([4, 3, 1, 0], I64)}
    if batch_axis == 0:
        inputs["lens"] = np.array([1, 2, 3, 4], I64)
    check_op(
        "ReverseSequence", inputs, opset=10, batch_axis=batch_axis, time_axis=time_axis
    )


@pytest.mark.parametrize("shape, axes", [([3, 7], None), ([5], [-1]), ([2], [0])])
def test_center_crop_pad(shape, axes):
    attrs = {} if axes is None else {"axes": axes}
    inputs = {"x": arange(4, 5), "s": np.array(shape, I64)}
    check_op("CenterCropPad", inputs, opset=18, **attrs)


@pytest.mark.parametrize("k", [0, 1, -2])
def test_eye_like(k):
    check_op("EyeLike", {"x": np.zeros((3, 4), np.int32)}, opset=9, k=k, dtype=1)


# --- Errors ------------------------------------------------------------------


def _run(model, feeds, memory_limit=None):
    so = wasm_rt.SessionOptions()
    if memory_limit is not None:
        so.memory_limit = memory_limit
    return wasm_rt.InferenceSession(model, so).run(None, feeds)


@pytest.mark.parametrize(
    "op, inputs",
    [
        ("Expand", {"x": np.ones(1, F32), "s": np.array([1 << 20, 1 << 12], I64)}),
        ("Tile", {"x": np.ones((2, 2), F32), "r": np.array([1 << 20, 1 << 10], I64)}),
        ("ConstantOfShape", {"s": np.array([1 << 30, 64], I64)}),
        (
            "Range",
            {"a": np.array(0, I64), "b": np.array(1 << 40, I64), "c": np.array(1, I64)},
        ),
        (
            "Pad",
            {
                "x": np.ones((2, 2), F32),
                "pads": np.array([1 << 20, 0, 0, 1 << 20], I64),
            },
        ),
    ],
)
def test_over_limit_allocation_raises(op, inputs):
    model = single_node_model(op, inputs, opset=21)
    with pytest.raises(wasm_rt.MemoryLimitError, match="memory limit"):
        _run(model, inputs, memory_limit=1 << 20)


def test_reshape_bad_shape_raises():
    inputs = {"x": arange(2, 3), "s": np.array([4, -1], I64)}
    with pytest.raises(wasm_rt.WasmRtError, match="cannot reshape"):
        _run(single_node_model("Reshape", inputs, opset=21), inputs)
