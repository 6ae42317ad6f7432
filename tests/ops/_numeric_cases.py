"""Official ONNX node cases for numeric op families, with their data as numpy.

Some generators store data sets as TensorProto; those are converted here so
``_node_cases.run_case`` can call the kernels. Cases whose tensors use element
types numpy cannot hold (bfloat16, float8, int4, int2 ...) come back separately
so they can be skipped with that reason.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import onnx
from _node_cases import compare, node_cases, run_case
from onnx import numpy_helper

__all__ = ["compare", "numeric_cases", "run_case"]


def _to_numpy(value):
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value)
    return value


def _plain_numpy(value) -> bool:
    # ml_dtypes types (bfloat16, float8_*, int4 ...) are not numpy builtins.
    return not isinstance(value, np.ndarray) or value.dtype.type.__module__ == "numpy"


def numeric_cases(op_types: set[str]):
    """(runnable cases, names of cases that need a dtype numpy lacks)."""
    runnable, exotic = [], []
    for case in node_cases(op_types):
        data_sets = [
            ([_to_numpy(v) for v in ins], [_to_numpy(v) for v in outs])
            for ins, outs in case.data_sets
        ]
        values = [v for ins, outs in data_sets for v in (*ins, *outs)]
        if all(_plain_numpy(v) for v in values):
            runnable.append(
                SimpleNamespace(name=case.name, model=case.model, data_sets=data_sets)
            )
        else:
            exotic.append(case.name)
    return runnable, exotic
