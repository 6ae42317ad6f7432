"""The GPU op table: op type -> function that emits dispatches.

``@gpu_op("Relu", ...)`` registers a function ``fn(e, node, inputs, opset)``
returning the node's outputs as :class:`GTensor` (or host arrays). It raises
:class:`Unsupported` for inputs it cannot take (dtype, non-constant shapes);
the node then runs on numpy. Modules are imported explicitly below.
"""

from __future__ import annotations

from typing import Callable

GPU_OPS: dict[str, Callable] = {}
# Ops that only re-describe their input (no dispatch).
VIEW_OPS: set[str] = set()


def gpu_op(*op_types: str, view: bool = False):
    def deco(fn):
        for op in op_types:
            if op in GPU_OPS:
                raise ValueError(f"GPU op {op} registered twice")
            GPU_OPS[op] = fn
            if view:
                VIEW_OPS.add(op)
        return fn

    return deco


from . import data, elementwise, linalg, nn, reduce  # noqa: E402,F401
