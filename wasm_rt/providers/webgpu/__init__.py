"""The WebGPU execution provider (WGSL compute shaders driven from Pyodide).

Importing this package never touches JavaScript; only ``_js`` does, and only
inside Pyodide.
"""

from __future__ import annotations

from ._js import IN_PYODIDE, unavailable_reason
from .provider import NAME, WebGpuExecutionProvider, init, is_available

__all__ = ["IN_PYODIDE", "NAME", "WebGpuExecutionProvider", "init", "is_available", "unavailable_reason"]
