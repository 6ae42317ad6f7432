"""The WebGPU execution provider: WGSL compute shaders driven from Pyodide.

Usage inside Pyodide (top-level ``await`` as in ``runPythonAsync``)::

    import wasm_rt
    from wasm_rt.providers import webgpu

    await webgpu.init()  # requests the device once per process
    sess = wasm_rt.InferenceSession(model, providers=["WebGpuExecutionProvider",
                                                      "CPUExecutionProvider"])
    outputs = await sess.run_async(None, feeds)   # sess.run() too, under JSPI
    sess.placement_report()  # where nodes ran, node/FLOP shares

Layout: ``kernels/<family>/<name>.wgsl`` (WGSL, shared ``prelude.wgsl``),
``shaders.py`` (finds and renders them), ``gpu_ops/`` (op -> dispatches, pure
Python), ``program.py`` / ``planner.py`` (segments, buffers; pure Python),
``runtime.py`` (builds, caches and replays segments), ``_js.py`` (the only
module that talks to JavaScript), ``provider.py`` (the provider class).

Importing this package never touches JavaScript; only ``_js`` does, and only
inside Pyodide, so everything else imports and tests on desktop CPython.
"""

from __future__ import annotations

from ._js import IN_PYODIDE, unavailable_reason
from .provider import (
    NAME, WebGpuExecutionProvider, init, init_desktop, is_available, run_session_async,
)

__all__ = ["IN_PYODIDE", "NAME", "WebGpuExecutionProvider", "init", "init_desktop", "is_available",
           "run_session_async", "unavailable_reason"]
