"""One-node models in onnxruntime's com.microsoft (or any) domain, compared with
onnxruntime; unlike oracle.check_op an output may be skipped ('' in the node)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from oracle import _NP_TO_ONNX, assert_same, run_ort, run_wasm_rt

import wasm_rt

MS = "com.microsoft"


def ms_model(
    op_type, inputs, outputs=1, domain=MS, opset=1, initializers=None, **attrs
):
    """``outputs``: a count, or a list of booleans (False leaves that output out)."""
    initializers = initializers or {}
    if isinstance(outputs, int):
        outputs = [True] * outputs
    names = [f"out{i}" if keep else "" for i, keep in enumerate(outputs)]
    node = helper.make_node(
        op_type,
        [n if v is not None else "" for n, v in inputs.items()],
        names,
        domain=domain,
        **attrs,
    )
    graph_inputs = [
        helper.make_tensor_value_info(n, _NP_TO_ONNX[v.dtype], v.shape)
        for n, v in inputs.items()
        if v is not None and n not in initializers
    ]
    inits = [
        onnx.numpy_helper.from_array(np.asarray(v), n) for n, v in initializers.items()
    ]
    graph_outputs = [helper.make_value_info(o, onnx.TypeProto()) for o in names if o]
    graph = helper.make_graph([node], "g", graph_inputs, graph_outputs, inits)
    opsets = [helper.make_opsetid("", 21)]
    if domain:
        opsets.append(helper.make_opsetid(domain, opset))
    else:
        opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 10
    return model.SerializeToString()


def feeds_of(inputs, initializers=None):
    return {
        n: v
        for n, v in inputs.items()
        if v is not None and n not in (initializers or {})
    }


def check_ms(op_type, inputs, outputs=1, *, rtol=0.0, atol=0.0, domain=MS, opset=1,
             initializers=None, **attrs):  # fmt: skip
    """Run the one-node model on both runtimes and compare every output."""
    model = ms_model(op_type, inputs, outputs, domain, opset, initializers, **attrs)
    feeds = feeds_of(inputs, initializers)
    theirs = run_ort(model, feeds)
    ours = run_wasm_rt(model, feeds)
    assert_same(ours, theirs, rtol, atol, op_type)
    return ours


def both_fail(op_type, inputs, outputs=1, *, domain=MS, opset=1, match=None, **attrs):
    """onnxruntime refuses the case and wasm_rt raises a WasmRtError for it."""
    model = ms_model(op_type, inputs, outputs, domain, opset, **attrs)
    feeds = feeds_of(inputs)
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own exception types
        run_ort(model, feeds)
    with pytest.raises(wasm_rt.WasmRtError, match=match):
        run_wasm_rt(model, feeds)
