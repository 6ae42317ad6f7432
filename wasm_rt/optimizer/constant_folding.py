"""Constant folding: a node whose inputs are all constants is run once at load
time and replaced by initializers holding its outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ir import Graph, Node
from ..lowprec_ops import call_kernel

if TYPE_CHECKING:
    from . import PassContext

# Ops whose output must differ between runs, or that need run-time machinery.
NOT_FOLDABLE = frozenset(
    {
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
        "Multinomial", "Bernoulli", "If", "Loop", "Scan", "SequenceMap",
    }
)


def fold_constants(graph: Graph, ctx: "PassContext") -> bool:
    constants = set(graph.initializers) - ctx.overridable
    kept: list[Node] = []
    changed = False
    for node in graph.nodes:
        values = _fold(node, graph, constants, ctx)
        if values is None:
            kept.append(node)
            continue
        for name, value in zip(node.outputs, values):
            if name:
                graph.initializers[name] = value
                constants.add(name)
        changed = True
    # A graph output that became an initializer still reads fine: the executor
    # resolves names through the initializers too.
    graph.nodes = kept
    return changed


def _fold(node: Node, graph: Graph, constants: set[str], ctx) -> tuple | None:
    if node.op_type in NOT_FOLDABLE or node.subgraphs() or not node.outputs:
        return None
    if not all(n in constants for n in node.inputs if n):
        return None
    opset = ctx.opsets.get(node.domain)
    if opset is None:
        return None
    for provider in ctx.providers:
        kernel = provider.kernel_for(node, opset)
        if kernel is not None:
            break
    else:
        return None
    if kernel.context or any(a not in kernel.attributes for a in node.attrs):
        return None
    args = [graph.initializers[n] if n else None for n in node.inputs]
    try:
        # Through the low-precision policy, exactly as the executor calls kernels.
        result = call_kernel(node.domain, node.op_type, kernel.fn, args, node.attrs)
    except Exception:
        # Leave the node to fail at run time, where the error names the node.
        return None
    result = result if isinstance(result, tuple) else (result,)
    if len(result) < len([o for o in node.outputs if o]) or not all(
        isinstance(r, np.ndarray) for r in result
    ):
        return None
    return result
