"""The numpy provider: runs every op the kernel registry knows, on the CPU."""

from __future__ import annotations

from ..ir import Node
from ..registry import KernelDef, resolve
from .base import ExecutionProvider


class NumpyExecutionProvider(ExecutionProvider):
    name = "NumpyExecutionProvider"

    def kernel_for(self, node: Node, opset: int) -> KernelDef | None:
        return resolve(node.domain, node.op_type, opset)
