"""What a GPU op emits: tensors, dispatches and the builder ops talk to.

Pure Python, no JS: a segment of the graph is first turned into a
:class:`SegmentProgram` (logical buffers + a list of dispatches with their
uniform parameters), which ``planner.py`` maps onto physical buffers and the
device layer records once and replays every run.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .shaders import WGSL_TYPES, WORKGROUP_SIZE

MAX_WORKGROUPS = 65535
PARAM_WORDS = 64  # u32 words of the uniform block (256 bytes, one offset alignment)
GPU_DTYPES = frozenset(np.dtype(t) for t in ("float32", "float16", "int32", "int64", "bool"))


class Unsupported(Exception):
    """This node cannot run on the GPU with these inputs; it falls back to numpy."""


@dataclass(eq=False)
class GTensor:
    """A tensor living in a GPU buffer slot of a segment (or of the session)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    slot: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def storage(self) -> str:
        return WGSL_TYPES[self.dtype.name]


def storage_nbytes(shape, dtype: np.dtype) -> int:
    """Bytes of a GPU buffer holding ``shape`` of ``dtype`` (4-byte padded, never 0)."""
    item = 2 if dtype == np.float16 else 4
    return max(4, (math.prod(shape) * item + 3) // 4 * 4)


def storage_dtype(dtype: np.dtype) -> np.dtype:
    """The numpy dtype of the GPU representation (bool -> uint32, int64 -> int32)."""
    return np.dtype({"bool": "uint32", "int64": "int32"}.get(dtype.name, dtype.name))


@dataclass
class Dispatch:
    kernel: str
    dtype: str  # numpy dtype name rendered as $T
    defines: dict[str, Any]
    params: bytes  # PARAM_WORDS * 4 bytes
    slots: list[int]  # bindings 1.. in order (inputs, then the output)
    groups: tuple[int, int, int]
    node: str = ""


def pack_params(values: list) -> bytes:
    """ints -> u32 (two's complement for negatives), floats -> f32 bits."""
    if len(values) > PARAM_WORDS:
        raise ValueError(f"{len(values)} params > {PARAM_WORDS}")
    words = []
    for v in values:
        if isinstance(v, float | np.floating):
            words.append(struct.unpack("<I", struct.pack("<f", float(v)))[0])
        else:
            words.append(int(v) & 0xFFFFFFFF)
    words += [0] * (PARAM_WORDS - len(words))
    return struct.pack(f"<{PARAM_WORDS}I", *words)


def split_groups(n_groups: int) -> tuple[int, int, int]:
    """A 1-D launch of ``n_groups`` workgroups as (x, y, 1) with x, y <= 65,535."""
    if n_groups <= MAX_WORKGROUPS:
        return (max(n_groups, 1), 1, 1)
    y = -(-n_groups // MAX_WORKGROUPS)
    x = -(-n_groups // y)
    if y > MAX_WORKGROUPS:
        raise Unsupported(f"{n_groups} workgroups exceed 65,535 x 65,535")
    return (x, y, 1)


@dataclass
class SegmentProgram:
    """Logical buffers and dispatches of one GPU segment."""

    slot_bytes: list[int] = field(default_factory=list)
    dispatches: list[Dispatch] = field(default_factory=list)
    # slot -> value name uploaded from the host before the segment runs
    uploads: dict[int, str] = field(default_factory=dict)
    # slot -> the session constant (initializer) it holds
    constants: dict[int, str] = field(default_factory=dict)
    # slot -> external GPU buffer key (an output of an earlier segment)
    imports: dict[int, Any] = field(default_factory=dict)


class Emitter:
    """The builder a GPU op function receives."""

    def __init__(self, program: SegmentProgram, node_name: str = ""):
        self.program = program
        self.node_name = node_name
        # "workgroup": tiles through workgroup memory (real GPUs); "registers":
        # barrier-free register blocking (CPU-emulated adapters such as SwiftShader).
        self.tiling = "workgroup"
        self.f16 = True  # whether the adapter has shader-f16
        # Set by an op when the dispatch whose $ACT epilogue may absorb a following
        # Relu is not its last one (a linear copy may follow it).
        self.act_dispatch: int | None = None
        # Set by the segment builder: turns a host array into a GTensor.
        self.upload: Callable[[np.ndarray], GTensor] | None = None

    def new(self, shape, dtype) -> GTensor:
        dtype = np.dtype(dtype)
        if dtype not in GPU_DTYPES:
            raise Unsupported(f"dtype {dtype} has no GPU representation")
        if dtype == np.float16 and not self.f16:
            raise Unsupported("float16 needs the adapter feature shader-f16")
        shape = tuple(int(d) for d in shape)
        self.program.slot_bytes.append(storage_nbytes(shape, dtype))
        return GTensor(shape, dtype, len(self.program.slot_bytes) - 1)

    def view(self, x: GTensor, shape) -> GTensor:
        shape = tuple(int(d) for d in shape)
        if math.prod(shape) != x.size:
            raise ValueError(f"cannot view {x.shape} as {shape}")
        return GTensor(shape, x.dtype, x.slot)

    def gpu(self, x) -> GTensor:
        """``x`` as a GPU tensor, uploading a host array."""
        if isinstance(x, GTensor):
            return x
        if x is None:
            raise Unsupported("missing input")
        arr = np.asarray(x)
        if arr.dtype not in GPU_DTYPES:
            raise Unsupported(f"dtype {arr.dtype} has no GPU representation")
        if arr.dtype == np.float16 and not self.f16:
            raise Unsupported("float16 needs the adapter feature shader-f16")
        return self.upload(arr)

    def dispatch(self, kernel, dtype, params, bindings, *, defines=None, threads=None, groups=None):
        """Emit one dispatch; ``threads`` for 1-D kernels (split past 65,535 groups)."""
        if threads is not None:
            if threads == 0:
                return
            groups = split_groups(-(-threads // WORKGROUP_SIZE))
        if any(g == 0 for g in groups):
            return
        if max(groups) > MAX_WORKGROUPS:
            raise Unsupported(f"dispatch {groups} exceeds 65,535 workgroups per dimension")
        self.program.dispatches.append(
            Dispatch(kernel, np.dtype(dtype).name, dict(defines or {}), pack_params(params),
                     [b.slot for b in bindings], tuple(groups), self.node_name)
        )


def host_value(x, what: str) -> np.ndarray | None:
    """A value the op needs on the host (shapes, axes, pads); GPU-computed is unsupported."""
    if x is None:
        return None
    if isinstance(x, GTensor):
        raise Unsupported(f"{what} is computed on the GPU; it must be a constant")
    return np.asarray(x)


def contiguous_strides(shape) -> list[int]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return strides[::-1]
