"""onnxruntime's extension-module names (``onnxruntime.capi._pybind_state``), from wasm_rt.

The error classes onnxruntime raises are wasm_rt's where wasm_rt has them; the others
(``EPFail``, ``NoModel``, ``EngineError`` ...) are defined so that ``except`` clauses
naming them work, and wasm_rt never raises them.
"""

from __future__ import annotations

import wasm_rt as _w
from wasm_rt import *
from wasm_rt import (
    Fail,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    IOBinding,
    NoSuchFile,
    NotImplemented,
    RuntimeException,
    SessionOptions,
    WasmRtError,
)

__all__ = [  # noqa: PLE0604
    *[n for n in _w.__all__ if n != "__version__"],
    "EPFail", "EngineError", "Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf",
    "ModelLoadCanceled", "ModelLoaded", "ModelRequiresCompilation", "NoModel", "NoSuchFile",
    "NotFound", "NotImplemented", "RuntimeException", "SessionIOBinding",
    "get_default_session_options",
]

SessionIOBinding = IOBinding


class EPFail(Fail):
    """An execution provider failed (onnxruntime retries on its fallback providers)."""


class NoModel(WasmRtError):
    pass


class EngineError(WasmRtError):
    pass


class ModelLoaded(WasmRtError):
    pass


class ModelLoadCanceled(WasmRtError):
    pass


class ModelRequiresCompilation(WasmRtError):
    pass


class NotFound(WasmRtError):
    pass


def get_default_session_options() -> SessionOptions:
    return SessionOptions()
