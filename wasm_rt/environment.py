"""onnxruntime's process-wide functions: version and build info, logging, telemetry, allocators.

wasm_rt runs in one Python process with numpy managing memory, so the allocator and
thread-pool settings onnxruntime offers are accepted and recorded but change nothing
(documented per function); the logger severity does act on wasm_rt's ``logging`` logger.
"""

from __future__ import annotations

import logging
import platform
from enum import IntEnum

from .errors import Fail, InvalidArgument
from .ortvalue import OrtMemoryInfo

__all__ = [
    "ExecutionMode",
    "ExecutionOrder",
    "OrtArenaCfg",
    "create_and_register_allocator",
    "create_and_register_allocator_v2",
    "disable_telemetry_events",
    "enable_telemetry_events",
    "get_all_providers",
    "get_build_info",
    "get_device",
    "get_version_string",
    "has_collective_ops",
    "logger",
    "set_default_logger_severity",
    "set_default_logger_verbosity",
    "set_global_thread_pool_sizes",
    "set_seed",
]

VERSION = "0.1.0"

logger = logging.getLogger("wasm_rt")

# onnxruntime's severities (0 verbose .. 4 fatal) as logging levels.
_SEVERITY_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR,
                    4: logging.CRITICAL}


class ExecutionMode(IntEnum):
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class ExecutionOrder(IntEnum):
    DEFAULT = 0
    PRIORITY_BASED = 1
    MEMORY_EFFICIENT = 2


def get_version_string() -> str:
    return VERSION


def get_build_info() -> str:
    """A one-line description of this build, in onnxruntime's 'ORT Build Info: ...' form."""
    return (f"ORT Build Info: wasm_rt {VERSION} (pure Python + numpy), "
            f"python={platform.python_version()}, platform={platform.system() or 'unknown'}")


def get_device() -> str:
    """The device the default provider runs on."""
    return "CPU"


def get_all_providers() -> list[str]:
    """Every provider name this build knows, highest priority first; the CPU provider last."""
    return ["WebGpuExecutionProvider", "NumpyExecutionProvider", "CPUExecutionProvider"]


def _severity(level) -> int:
    if not isinstance(level, int) or level not in _SEVERITY_LEVELS:
        raise InvalidArgument(f"Invalid logging severity level {level!r}: expected 0 (verbose) "
                              "to 4 (fatal)")
    return level


def set_default_logger_severity(severity: int) -> None:
    """Messages below ``severity`` (0 verbose, 1 info, 2 warning, 3 error, 4 fatal) are dropped
    by wasm_rt's logger."""
    logger.setLevel(_SEVERITY_LEVELS[_severity(severity)])


def set_default_logger_verbosity(verbosity: int) -> None:
    """Verbose-message detail; wasm_rt has one level of detail, so only the type is checked."""
    if not isinstance(verbosity, int) or verbosity < 0:
        raise InvalidArgument(f"logger verbosity must be an int >= 0, got {verbosity!r}")


_telemetry = {"enabled": False}


def disable_telemetry_events() -> None:
    """wasm_rt sends no telemetry; the switch is kept for code written for onnxruntime."""
    _telemetry["enabled"] = False


def enable_telemetry_events() -> None:
    """No-op apart from the flag: wasm_rt has no telemetry (as onnxruntime off Windows)."""
    _telemetry["enabled"] = True


def has_collective_ops() -> bool:
    return False


def set_seed(seed: int) -> None:
    """Seed for random operators without their own ``seed`` attribute (numpy's generator)."""
    import numpy as np

    np.random.seed(int(seed) % 2**32)


def set_global_thread_pool_sizes(intra_op_num_threads: int = 0,
                                 inter_op_num_threads: int = 0) -> None:
    """Accepted for compatibility: wasm_rt computes on one thread (numpy's BLAS may use more)."""
    for name, value in (("intra_op_num_threads", intra_op_num_threads),
                        ("inter_op_num_threads", inter_op_num_threads)):
        if not isinstance(value, int) or value < 0:
            raise InvalidArgument(f"{name} must be an int >= 0, got {value!r}")


_ARENA_KEYS = ("max_mem", "arena_extend_strategy", "initial_chunk_size_bytes",
               "max_dead_bytes_per_chunk", "initial_growth_chunk_size_bytes",
               "max_power_of_two_extend_bytes")


class OrtArenaCfg:
    """Arena allocator settings, as onnxruntime's: ``OrtArenaCfg(max_mem, strategy,
    initial_chunk, max_dead_bytes)`` or ``OrtArenaCfg({key: value})``. numpy manages
    memory here, so a registered arena changes no allocation."""

    def __init__(self, *args):
        values = dict.fromkeys(_ARENA_KEYS, -1)
        values["max_mem"] = 0
        if len(args) == 1 and isinstance(args[0], dict):
            unknown = [k for k in args[0] if k not in _ARENA_KEYS]
            if unknown:
                raise InvalidArgument(f"Invalid OrtArenaCfg option(s) {unknown}; known: "
                                      f"{', '.join(_ARENA_KEYS)}")
            values.update({k: int(v) for k, v in args[0].items()})
        elif len(args) == 4:
            values.update(zip(_ARENA_KEYS[:4], (int(a) for a in args)))
        elif args:
            raise InvalidArgument("OrtArenaCfg takes 4 ints (max_mem, arena_extend_strategy, "
                                  "initial_chunk_size_bytes, max_dead_bytes_per_chunk) or a dict")
        for key, value in values.items():
            setattr(self, key, value)


_registered_allocators: list[tuple[OrtMemoryInfo, OrtArenaCfg | None]] = []


def create_and_register_allocator(mem_info: OrtMemoryInfo, arena_cfg: OrtArenaCfg | None) -> None:
    """Register a shared CPU allocator for sessions with ``session.use_env_allocators`` = 1.

    Recorded and checked (CPU only); numpy allocates every tensor, so nothing else changes.
    """
    if not isinstance(mem_info, OrtMemoryInfo):
        raise InvalidArgument(f"expected an OrtMemoryInfo, got {type(mem_info).__name__}")
    if mem_info.name.lower() != "cpu":
        raise Fail(f"only CPU allocators can be registered here, got '{mem_info.name}'")
    _registered_allocators.append((mem_info, arena_cfg))


def create_and_register_allocator_v2(provider_type: str, mem_info: OrtMemoryInfo,
                                     provider_options: dict, arena_cfg: OrtArenaCfg | None) -> None:
    if provider_type not in ("CPUExecutionProvider", "NumpyExecutionProvider"):
        raise Fail(f"cannot register an allocator for {provider_type}: not available here")
    create_and_register_allocator(mem_info, arena_cfg)
