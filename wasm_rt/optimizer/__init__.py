"""Graph optimization passes, selected by SessionOptions.graph_optimization_level.

Each pass is a function ``(graph, ctx) -> bool`` (did it change anything) that
rewrites the IR in place; ``PASSES`` lists them with the lowest level that
enables them, in the order they run.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from ..ir import Graph
from ..providers.base import ExecutionProvider
from .constant_folding import fold_constants
from .dead_code import remove_dead_nodes
from .fp16 import run_float16_in_float32
from .fusion import fuse_conv_batchnorm
from .qdq_fusion import fuse_qdq


class GraphOptimizationLevel(enum.IntEnum):
    """Same names and values as onnxruntime.GraphOptimizationLevel."""

    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


@dataclass
class PassContext:
    opsets: Mapping[str, int]
    providers: Sequence[ExecutionProvider]
    # Initializers that are also graph inputs may be overridden at run time, so
    # they are not constants.
    overridable: frozenset[str]


PASSES: list[tuple[GraphOptimizationLevel, str, Callable[[Graph, PassContext], bool]]] = [
    # Before constant folding, which would turn DQ(weight) into float32 weights.
    (GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "qdq_fusion", fuse_qdq),
    (GraphOptimizationLevel.ORT_ENABLE_BASIC, "constant_folding", fold_constants),
    (GraphOptimizationLevel.ORT_ENABLE_BASIC, "dead_node_elimination", remove_dead_nodes),
    # onnxruntime counts this among its basic, semantics-preserving fusions.
    (GraphOptimizationLevel.ORT_ENABLE_BASIC, "conv_batchnorm_fusion", fuse_conv_batchnorm),
    # At every level and last: onnxruntime's Cast insertion is part of partitioning
    # (InsertCastTransformer runs after all level transformers, ORT_DISABLE_ALL
    # included), so float16 models round where onnxruntime rounds.
    (GraphOptimizationLevel.ORT_DISABLE_ALL, "insert_cast_float16", run_float16_in_float32),
]


def optimize(graph: Graph, level: int, ctx: PassContext) -> list[str]:
    """Run the passes enabled at ``level``; returns the names of those that changed the graph."""
    applied = []
    for min_level, name, fn in PASSES:
        if level >= min_level and fn(graph, ctx):
            applied.append(name)
    return applied
