"""Exceptions raised by wasm_rt.

The names follow onnxruntime's status codes (``InvalidArgument``, ``Fail``,
``NotImplemented`` ...) so code that catches onnxruntime's exceptions by name
can be ported by changing the import.  Every class derives from
:class:`WasmRtError`, so ``except wasm_rt.WasmRtError`` catches anything the
runtime raises on purpose.
"""

from __future__ import annotations

import builtins

__all__ = [
    "WasmRtError",
    "Fail",
    "InvalidArgument",
    "NoSuchFile",
    "InvalidProtobuf",
    "InvalidGraph",
    "NotImplemented",
    "RuntimeException",
    "MemoryLimitError",
    "RunCancelled",
    "RunTimeout",
]


class WasmRtError(Exception):
    """Base class of every error wasm_rt raises deliberately."""


class Fail(WasmRtError, RuntimeError):
    """A generic failure: a kernel raised, or a run could not complete."""


class InvalidArgument(WasmRtError, ValueError):
    """The caller passed something wrong: input names, dtypes, shapes, options."""


class NoSuchFile(WasmRtError, FileNotFoundError):
    """A model file or an external-data file does not exist."""


class InvalidProtobuf(WasmRtError, ValueError):
    """The model bytes are not a valid ONNX protobuf (truncated, corrupt, wrong file)."""


class InvalidGraph(WasmRtError, ValueError):
    """The model parsed, but its graph is inconsistent (cycles, undefined values ...)."""


class NotImplemented(WasmRtError, builtins.NotImplementedError):  # noqa: A001
    """The model needs an operator, dtype or feature wasm_rt does not provide."""


class RuntimeException(WasmRtError, RuntimeError):
    """An internal invariant broke; please report it with the model."""


class MemoryLimitError(Fail, MemoryError):
    """An allocation would exceed the session's configured memory limit."""


class RunCancelled(Fail):
    """A run stopped because ``RunOptions.terminate`` was set (onnxruntime fails the
    run with "Exiting due to terminate flag being set to true."); the session
    stays usable."""


class RunTimeout(RunCancelled):
    """A run stopped because it passed its ``RunOptions.time_limit`` (seconds)."""
