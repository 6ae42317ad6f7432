"""Allocation limits: sizes that come from a model or its inputs are checked
before anything is allocated, so a hostile model fails with a clear error
instead of exhausting the browser tab's memory.

The limit is per tensor and per session; the session installs it in a context
variable for the duration of loading and of each run, so kernels call
:func:`check_alloc` without threading the session through.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

from .errors import MemoryLimitError

# Pyodide caps one numpy array at 2**31 - 1 bytes; the same default on the host
# keeps behaviour identical on both.
DEFAULT_MEMORY_LIMIT = 2**31 - 1

_limit: contextvars.ContextVar[int] = contextvars.ContextVar(
    "wasm_rt_memory_limit", default=DEFAULT_MEMORY_LIMIT
)


def current_limit() -> int:
    return _limit.get()


@contextlib.contextmanager
def memory_limit(nbytes: int):
    """Run the block with ``nbytes`` as the largest allowed single allocation."""
    token = _limit.set(int(nbytes))
    try:
        yield
    finally:
        _limit.reset(token)


def check_alloc(shape, dtype, what: str) -> None:
    """Raise MemoryLimitError if a tensor of ``shape``/``dtype`` would exceed the limit.

    ``what`` names the allocation for the message (e.g. "Expand output").
    """
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise MemoryLimitError(f"{what}: negative dimension in shape {dims}")
    itemsize = np.dtype(dtype).itemsize or 1
    nbytes = math.prod(dims) * itemsize
    limit = _limit.get()
    if nbytes > limit:
        raise MemoryLimitError(
            f"{what}: shape {dims} of {np.dtype(dtype)} needs {nbytes:,} bytes, "
            f"above the memory limit of {limit:,} bytes "
            "(raise SessionOptions.memory_limit if this model is trusted)"
        )
