"""Execution providers: who runs a node.

A provider answers one question for the planner, "which kernel of yours runs
this node at this opset, if any?"; the planner asks the session's providers in
priority order and the first that answers wins.
"""

from __future__ import annotations

from .base import ExecutionProvider
from .numpy_provider import NumpyExecutionProvider

PROVIDER_ALIASES = {"CPUExecutionProvider": "NumpyExecutionProvider"}

__all__ = ["ExecutionProvider", "NumpyExecutionProvider", "PROVIDER_ALIASES", "available_providers"]


def available_providers() -> list[str]:
    """Providers usable in this process, best first (as onnxruntime orders them)."""
    names = []
    try:
        from .webgpu import is_available as webgpu_available  # type: ignore[attr-defined]
    except ImportError:
        webgpu_available = None
    if webgpu_available is not None and webgpu_available():
        names.append("WebGpuExecutionProvider")
    names.append(NumpyExecutionProvider.name)
    return names
