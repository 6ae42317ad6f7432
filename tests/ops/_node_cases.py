"""Run official ONNX node conformance cases straight through wasm_rt kernels.

This bypasses the session, so kernel semantics can be checked on their own;
attributes are converted the way the loader hands them to kernels.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.backend.test.case.node import collect_testcases

from wasm_rt.registry import KernelContext, resolve


def _attr(a: onnx.AttributeProto):
    if a.type == onnx.AttributeProto.TENSOR:
        return numpy_helper.to_array(a.t)
    if a.type == onnx.AttributeProto.SPARSE_TENSOR:
        st = a.sparse_tensor
        vals, idx = numpy_helper.to_array(st.values), numpy_helper.to_array(st.indices)
        out = np.zeros(list(st.dims), dtype=vals.dtype)
        if idx.ndim == 1:
            out.reshape(-1)[idx] = vals
        else:
            out[tuple(idx.T)] = vals
        return out
    if a.type == onnx.AttributeProto.STRING:
        return a.s.decode()
    if a.type == onnx.AttributeProto.STRINGS:
        return [s.decode() for s in a.strings]
    if a.type == onnx.AttributeProto.INTS:
        return list(a.ints)
    if a.type == onnx.AttributeProto.FLOATS:
        return list(a.floats)
    return helper.get_attribute_value(a)


def _opset(model) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return 21


@functools.cache
def _all_cases():
    # The generators emit numpy overflow warnings while building their data.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tuple(collect_testcases())


def node_cases(op_types: set[str]):
    for case in _all_cases():
        if case.model is None or len(case.model.graph.node) != 1:
            continue
        node = case.model.graph.node[0]
        if node.op_type in op_types and node.domain in ("", "ai.onnx"):
            yield case


def run_case(case):
    """Returns (expected outputs, our outputs) of each data set of ``case``."""
    node = case.model.graph.node[0]
    opset = _opset(case.model)
    k = resolve("", node.op_type, opset)
    assert k is not None, f"no kernel for {node.op_type} at opset {opset}"
    attrs = {a.name: _attr(a) for a in node.attribute}
    results = []
    for inputs, outputs in case.data_sets:
        args = []
        it = iter(inputs)
        for name in node.input:
            args.append(next(it) if name else None)
        while args and args[-1] is None:
            args.pop()
        if k.context:
            ctx = KernelContext(
                node.name, node.op_type, opset, len(node.output), tuple(node.output)
            )
            got = k.fn(ctx, *args, **attrs)
        else:
            got = k.fn(*args, **attrs)
        if not isinstance(got, tuple):
            got = (got,)
        results.append((outputs, got))
    return results


def compare(expected, got, rtol=1e-5, atol=1e-6):
    assert len(expected) <= len(got), f"{len(got)} outputs, expected {len(expected)}"
    for e, g in zip(expected, got):
        if isinstance(e, list):
            assert isinstance(g, list) and len(e) == len(g)
            for a, b in zip(e, g):
                compare([a], [b], rtol, atol)
            continue
        if e is None:
            assert g is None
            continue
        g = np.asarray(g)
        e = np.asarray(e)
        assert g.dtype == e.dtype, f"dtype {g.dtype} vs {e.dtype}"
        assert g.shape == e.shape, f"shape {g.shape} vs {e.shape}"
        if e.dtype == object or e.dtype.kind in "biuU":
            np.testing.assert_array_equal(g, e)
        else:
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
