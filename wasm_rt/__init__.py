"""wasm_rt: an ONNX inference runtime in pure Python and numpy.

It runs on desktop CPython and inside Pyodide (the browser), and its API
mirrors onnxruntime's, so ``import wasm_rt as ort`` is usually all a port needs;
``wasm_rt.compat.install()`` makes ``import onnxruntime`` give wasm_rt for code that
cannot be changed.
"""

from .environment import (
    ExecutionMode,
    ExecutionOrder,
    OrtArenaCfg,
    create_and_register_allocator,
    create_and_register_allocator_v2,
    disable_telemetry_events,
    enable_telemetry_events,
    get_all_providers,
    get_build_info,
    get_device,
    get_version_string,
    has_collective_ops,
    set_default_logger_severity,
    set_default_logger_verbosity,
    set_global_thread_pool_sizes,
    set_seed,
)
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
from .iobinding import IOBinding
from .lora import AdapterFormat, LoraAdapter
from .model import ModelMetadata
from .optimizer import GraphOptimizationLevel
from .ortvalue import (
    OrtAllocatorType,
    OrtDevice,
    OrtDeviceMemoryType,
    OrtDeviceVendorId,
    OrtMemoryInfo,
    OrtMemoryInfoDeviceType,
    OrtMemType,
    OrtSparseFormat,
    OrtValue,
    SparseTensor,
)
from .session import (
    InferenceSession,
    NodeArg,
    RunOptions,
    SessionOptions,
    get_available_providers,
)
from .session_config import OrtEpAssignedNode, OrtEpAssignedSubgraph

__version__ = get_version_string()

__all__ = [
    "InferenceSession",
    "SessionOptions",
    "RunOptions",
    "NodeArg",
    "ModelMetadata",
    "IOBinding",
    "AdapterFormat",
    "LoraAdapter",
    "OrtValue",
    "SparseTensor",
    "OrtDevice",
    "OrtMemoryInfo",
    "OrtArenaCfg",
    "OrtEpAssignedNode",
    "OrtEpAssignedSubgraph",
    "GraphOptimizationLevel",
    "ExecutionMode",
    "ExecutionOrder",
    "OrtAllocatorType",
    "OrtMemType",
    "OrtDeviceMemoryType",
    "OrtDeviceVendorId",
    "OrtMemoryInfoDeviceType",
    "OrtSparseFormat",
    "get_available_providers",
    "get_all_providers",
    "get_device",
    "inspect",
    "InspectReport",
    "get_version_string",
    "get_build_info",
    "set_default_logger_severity",
    "set_default_logger_verbosity",
    "disable_telemetry_events",
    "enable_telemetry_events",
    "create_and_register_allocator",
    "create_and_register_allocator_v2",
    "has_collective_ops",
    "set_global_thread_pool_sizes",
    "set_seed",
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
