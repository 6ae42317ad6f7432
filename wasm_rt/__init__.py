"""wasm_rt: an ONNX inference runtime in pure Python and numpy.

It runs on desktop CPython and inside Pyodide (the browser), and its API
mirrors onnxruntime's, so ``import wasm_rt as ort`` is usually all a port needs.
"""

from .errors import (
    Fail,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    MemoryLimitError,
    NoSuchFile,
    NotImplemented,
    RunCancelled,
    RunTimeout,
    RuntimeException,
    WasmRtError,
)
from .inspect import InspectReport, inspect
from .model import ModelMetadata
from .optimizer import GraphOptimizationLevel
from .session import (
    InferenceSession,
    NodeArg,
    RunOptions,
    SessionOptions,
    get_available_providers,
)

__version__ = "0.1.0"


def get_device() -> str:
    """onnxruntime compatibility: the device the default provider runs on."""
    return "CPU"


__all__ = [
    "InferenceSession",
    "SessionOptions",
    "RunOptions",
    "NodeArg",
    "ModelMetadata",
    "GraphOptimizationLevel",
    "get_available_providers",
    "get_device",
    "inspect",
    "InspectReport",
    "WasmRtError",
    "Fail",
    "InvalidArgument",
    "InvalidGraph",
    "InvalidProtobuf",
    "MemoryLimitError",
    "NoSuchFile",
    "NotImplemented",
    "RunCancelled",
    "RunTimeout",
    "RuntimeException",
    "__version__",
]
