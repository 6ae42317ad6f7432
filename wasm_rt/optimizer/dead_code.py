"""Removal of nodes and initializers that no graph output depends on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Graph

if TYPE_CHECKING:
    from . import PassContext


def remove_dead_nodes(graph: Graph, ctx: "PassContext") -> bool:
    needed = {vi.name for vi in graph.outputs}
    kept = []
    for node in reversed(graph.nodes):
        if any(o in needed for o in node.outputs if o):
            kept.append(node)
            needed.update(n for n in node.inputs if n)
            for g in node.subgraphs():
                needed |= g.outer_refs()
    kept.reverse()
    changed = len(kept) != len(graph.nodes)
    graph.nodes = kept
    unused = [n for n in graph.initializers if n not in needed and n not in ctx.overridable]
    for name in unused:
        del graph.initializers[name]
    return changed or bool(unused)
