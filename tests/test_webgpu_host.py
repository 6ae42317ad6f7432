"""The WebGPU provider's host-side logic, without a GPU or a browser.

Kernels' GPU behaviour is tested in tests/browser/webgpu; here: the package
imports on desktop CPython, every WGSL template renders, GPU op functions
agree with the numpy kernels on output shapes and dtypes, segments and buffer
reuse are planned correctly, and large launches are split.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from wasm_rt.errors import NotImplemented as NotImplementedErr
from wasm_rt.ir import Node
from wasm_rt.providers import webgpu
from wasm_rt.providers.webgpu import shaders
from wasm_rt.providers.webgpu.gpu_ops import GPU_OPS
from wasm_rt.providers.webgpu.planner import assign_buffers, segments
from wasm_rt.providers.webgpu.program import (
    MAX_WORKGROUPS, Emitter, GTensor, SegmentProgram, Unsupported, pack_params, split_groups,
)
from wasm_rt.registry import KernelContext, resolve


def test_imports_without_pyodide():
    assert not webgpu.IN_PYODIDE
    assert not webgpu.is_available()


def test_provider_without_device_warns_and_strict_fails(monkeypatch):
    from wasm_rt.providers.webgpu import _js

    # The desktop backend's tests may have set a process-wide device.
    monkeypatch.setattr(_js, "_device", None)
    monkeypatch.setattr(_js, "_device_reason", "not running in Pyodide")
    with pytest.warns(RuntimeWarning, match="running on numpy"):
        p = webgpu.WebGpuExecutionProvider()
    assert p.kernel_for(Node("n", "Relu", "", ["x"], ["y"], {}), 13) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(NotImplementedErr, match="running on numpy"):
            webgpu.WebGpuExecutionProvider({"strict": True})


def test_kernels_are_found_and_render():
    names = shaders.kernel_sources()
    assert {"elementwise/unary", "linalg/matmul", "conv/conv_gemm", "data/copy"} <= set(names)
    placeholder = re.compile(r"\$\{?([A-Z_]+)")
    for name, text in names.items():
        needed = set(placeholder.findall(text)) - {"T", "WG"}
        defines = {k: "f32" if k.startswith("T") else ("v" if k == "ACT" else 1) for k in needed}
        defines.update({"EXPR": "a", "VALUE": "T(0)", "HAS_C": True, "HAS_BIAS": False,
                        "SELECT_LAST": False, "ELEMENTS": False})
        for dtype in ("float32", "float16"):
            src = shaders.render(name, dtype, {k: v for k, v in defines.items() if k in needed})
            assert "$" not in src, name
            assert src.startswith("enable f16;") == (dtype == "float16")


def test_cache_key_ignores_shapes_but_not_defines():
    a = shaders.cache_key("data/copy", "float32", {"RANK": 2})
    assert a == shaders.cache_key("data/copy", "float32", {"RANK": 2})
    assert a != shaders.cache_key("data/copy", "float32", {"RANK": 3})
    assert a != shaders.cache_key("data/copy", "float16", {"RANK": 2})


def test_split_groups():
    assert split_groups(10) == (10, 1, 1)
    x, y, z = split_groups(3 * MAX_WORKGROUPS + 5)
    assert x <= MAX_WORKGROUPS and y <= MAX_WORKGROUPS and x * y >= 3 * MAX_WORKGROUPS + 5


def test_pack_params():
    words = np.frombuffer(pack_params([3, -1, 1.5]), np.uint32)
    assert words[0] == 3 and words[1] == 0xFFFFFFFF
    assert np.frombuffer(words[2].tobytes(), np.float32)[0] == 1.5
    assert len(words) == 64


def test_segments():
    g, c = "gpu", "cpu"
    assert segments([g, g, c, g, c, c, g], "gpu") == [(0, 2), (3, 4), (6, 7)]
    assert segments([c], "gpu") == []


def _emit(op, inputs, attrs=None, opset=21, n_out=1):
    program = SegmentProgram()
    e = Emitter(program)

    def upload(arr):
        program.slot_bytes.append(max(4, arr.nbytes))
        program.constants[len(program.slot_bytes) - 1] = "c"
        return GTensor(arr.shape, arr.dtype, len(program.slot_bytes) - 1)

    e.upload = upload
    node = Node("n", op, "", [f"i{k}" if v is not None else "" for k, v in enumerate(inputs)],
                [f"o{k}" for k in range(n_out)], dict(attrs or {}))
    outs = GPU_OPS[op](e, node, list(inputs), opset)
    return program, outs


def _numpy(op, inputs, attrs=None, opset=21):
    k = resolve("", op, opset)
    args = list(inputs)
    if k.context:
        args.insert(0, KernelContext("n", op, opset, 1, ("o0",)))
    res = k.fn(*args, **(attrs or {}))
    return res if isinstance(res, tuple) else (res,)


r = np.random.default_rng(0).standard_normal
CASES = [
    ("Add", [r((2, 1, 5)).astype("f4"), r((3, 1)).astype("f4")], {}),
    ("Where", [r((3, 1)) > 0, r((1, 4)).astype("f4"), r((3, 4)).astype("f4")], {}),
    ("MatMul", [r((2, 3, 4, 5)).astype("f4"), r((5, 6)).astype("f4")], {}),
    ("MatMul", [r((5,)).astype("f4"), r((2, 5, 6)).astype("f4")], {}),
    ("Gemm", [r((4, 3)).astype("f4"), r((5, 4)).astype("f4")], {"transA": 1, "transB": 1}),
    ("Conv", [r((1, 3, 10, 9)).astype("f4"), r((8, 3, 3, 3)).astype("f4")],
     {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ("MaxPool", [r((1, 2, 9, 9)).astype("f4")], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ("AveragePool", [r((1, 2, 9, 9)).astype("f4")], {"kernel_shape": [2, 2], "pads": [1, 1, 0, 0]}),
    ("Softmax", [r((2, 3)).astype("f4")], {}),
    ("ReduceMean", [r((2, 3, 4)).astype("f4"), np.array([1], np.int64)], {"keepdims": 0}),
    ("ArgMax", [r((2, 3, 4)).astype("f4")], {"axis": 2}),
    ("Transpose", [r((2, 3, 4)).astype("f4")], {"perm": [2, 0, 1]}),
    ("Slice", [r((5, 6)).astype("f4"), np.array([4]), np.array([-10]), np.array([0]), np.array([-2])], {}),
    ("Pad", [r((2, 3)).astype("f4"), np.array([1, 0, 2, 3])], {"mode": "edge"}),
    ("Tile", [r((2, 3)).astype("f4"), np.array([3, 1])], {}),
    ("Gather", [r((5, 4)).astype("f4"), np.array([[1, 2]])], {"axis": 1}),
    ("Unsqueeze", [r((3,)).astype("f4"), np.array([0, 2])], {}),
    ("Cast", [r((3,)).astype("f4")], {"to": 7}),
]


@pytest.mark.parametrize("op,inputs,attrs", CASES, ids=[c[0] for c in CASES])
def test_gpu_op_shapes_match_numpy(op, inputs, attrs):
    _, outs = _emit(op, inputs, attrs)
    want = _numpy(op, inputs, attrs)
    for got, w in zip(outs, want):
        assert got.shape == w.shape, (op, got.shape, w.shape)
        assert got.dtype == w.dtype, (op, got.dtype, w.dtype)


def test_unsupported_dtype_falls_back():
    with pytest.raises(Unsupported):
        _emit("Relu", [np.zeros(3, np.float64)])


def test_buffer_reuse_never_aliases_within_a_dispatch():
    x = np.zeros((64, 64), np.float32)
    program, outs = _emit("Relu", [x])
    e = Emitter(program)
    e.upload = None
    y = outs[0]
    for _ in range(6):  # a chain: each buffer dies right after its reader
        node = Node("n", "Sigmoid", "", ["a"], ["b"], {})
        y = GPU_OPS["Sigmoid"](e, node, [y], 13)[0]
    a = assign_buffers(program, pinned={y.slot})
    for d in program.dispatches:
        bufs = [a.slot_to_buffer[s] for s in d.slots]
        assert bufs[-1] not in bufs[:-1]
    assert len(a.buffer_bytes) <= 3  # ping-pong, not one buffer per op
