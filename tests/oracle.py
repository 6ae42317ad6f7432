"""Compare wasm_rt with onnxruntime (the oracle) on single-node or whole models.

Test-only: this module imports onnx and onnxruntime, which the package never does.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

import wasm_rt

_NP_TO_ONNX = {
    np.dtype(k): v
    for k, v in {
        np.float32: onnx.TensorProto.FLOAT,
        np.float64: onnx.TensorProto.DOUBLE,
        np.float16: onnx.TensorProto.FLOAT16,
        np.int8: onnx.TensorProto.INT8,
        np.int16: onnx.TensorProto.INT16,
        np.int32: onnx.TensorProto.INT32,
        np.int64: onnx.TensorProto.INT64,
        np.uint8: onnx.TensorProto.UINT8,
        np.uint16: onnx.TensorProto.UINT16,
        np.uint32: onnx.TensorProto.UINT32,
        np.uint64: onnx.TensorProto.UINT64,
        np.bool_: onnx.TensorProto.BOOL,
        np.object_: onnx.TensorProto.STRING,
    }.items()
}


def single_node_model(
    op_type: str,
    inputs: dict[str, np.ndarray | None],
    outputs: list[str] | int = 1,
    opset: int = 21,
    domain: str = "",
    initializers: dict[str, np.ndarray] | None = None,
    **attrs,
) -> bytes:
    """A one-node model; ``None`` in ``inputs`` makes an omitted optional input.

    Inputs named in ``initializers`` become constant initializers instead of
    graph inputs (some kernels need constant shapes/axes).
    """
    initializers = initializers or {}
    if isinstance(outputs, int):
        outputs = [f"out{i}" for i in range(outputs)]
    node = helper.make_node(
        op_type,
        [n if v is not None or n in initializers else "" for n, v in inputs.items()],
        outputs,
        domain=domain,
        **attrs,
    )
    graph_inputs = [
        helper.make_tensor_value_info(n, _NP_TO_ONNX[np.asarray(v).dtype], np.shape(v))
        for n, v in inputs.items()
        if v is not None and n not in initializers
    ]
    inits = [onnx.numpy_helper.from_array(np.asarray(v), n) for n, v in initializers.items()]
    graph_outputs = [helper.make_value_info(o, onnx.TypeProto()) for o in outputs]
    graph = helper.make_graph([node], "g", graph_inputs, graph_outputs, inits)
    opsets = [helper.make_opsetid(domain, opset)]
    if domain:
        opsets.append(helper.make_opsetid("", 21))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 10 if opset <= 21 else 11
    return model.SerializeToString()


def run_ort(model: bytes, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def run_wasm_rt(model: bytes, feeds: dict[str, np.ndarray], **session_kwargs) -> list:
    sess = wasm_rt.InferenceSession(model, **session_kwargs)
    return sess.run(None, feeds)


def assert_same(ours, theirs, rtol: float = 0.0, atol: float = 0.0, what: str = "") -> None:
    """Outputs must agree in count, dtype, shape and values within the tolerances."""
    assert len(ours) == len(theirs), f"{what}: {len(ours)} outputs vs {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype, f"{what} output {i}: dtype {a.dtype} vs {b.dtype}"
        assert a.shape == b.shape, f"{what} output {i}: shape {a.shape} vs {b.shape}"
        if a.dtype == object or a.dtype.kind in "biu":
            np.testing.assert_array_equal(a, b, err_msg=f"{what} output {i}")
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{what} output {i}")


def check_op(op_type, inputs, outputs=1, opset=21, rtol=0.0, atol=0.0, initializers=None, **attrs):
    """Build a one-node model, run it on both runtimes and compare."""
    model = single_node_model(op_type, inputs, outputs, opset, initializers=initializers, **attrs)
    feeds = {n: v for n, v in inputs.items() if v is not None and n not in (initializers or {})}
    assert_same(run_wasm_rt(model, feeds), run_ort(model, feeds), rtol, atol, f"{op_type}-{opset}")
