"""The interface every execution provider implements."""

from __future__ import annotations

from typing import Any

from ..ir import Node
from ..registry import KernelDef


class ExecutionProvider:
    """Claims nodes and supplies their kernels."""

    name = "ExecutionProvider"

    def __init__(self, options: dict[str, Any] | None = None):
        self.options = dict(options or {})

    def kernel_for(self, node: Node, opset: int) -> KernelDef | None:
        """The kernel that runs ``node`` at ``opset``, or None if this provider cannot."""
        raise NotImplementedError

    def release(self) -> None:
        """Free provider resources (device buffers, caches) when the session ends."""
