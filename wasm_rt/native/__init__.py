"""Matrix products for the numpy provider, fast inside Pyodide.

On desktop CPython numpy calls BLAS, so :func:`matmul` is ``np.matmul``. Pyodide's
numpy has no BLAS (about 0.7 GFLOP/s); there :func:`matmul` runs float32
products through ``gemm.wasm``, a SIMD128 GEMM built from ``gemm.c`` by
``scripts/build_native.sh`` and loaded once with ``ctypes.CDLL`` (a wasm side
module). The kernel reads numpy buffers in place by pointer and strides, so
transposed and broadcast views cost no copies. Other dtypes, or a kernel that
fails to load (warned once, with the reason), use ``np.matmul``.
"""

from __future__ import annotations

import ctypes
import itertools
import sys
import warnings
from pathlib import Path

import numpy as np

IN_PYODIDE = sys.platform == "emscripten"
WASM_PATH = Path(__file__).with_name("gemm.wasm")
_ABI = 2  # wasm_rt_gemm_abi() of the gemm.c this loader was written for
_F32 = np.dtype(np.float32)


class _Kernel:
    """The loaded side module, its signatures and its packing workspace."""

    def __init__(self, path: Path):
        lib = ctypes.CDLL(str(path))
        if lib.wasm_rt_gemm_abi() != _ABI:
            raise RuntimeError(
                f"{path.name} has ABI {lib.wasm_rt_gemm_abi()}, expected {_ABI}; "
                "rebuild it with scripts/build_native.sh"
            )
        i, p = ctypes.c_int, ctypes.c_void_p
        self.batched = lib.wasm_rt_sgemm_batched
        self.batched.restype = None
        # batch, m, n, k, a, bsa, rsa, csa, b, bsb, rsb, csb, c, bsc, rsc, acc, work
        self.batched.argtypes = [i, i, i, i, p, i, i, i, p, i, i, i, p, i, i, i, p]
        words = lib.wasm_rt_gemm_work_floats()
        self._work = np.empty(words + 4, dtype=_F32)  # +4: room to align to 16 bytes
        self.work = self._work.ctypes.data + (-self._work.ctypes.data % 16)
        self.lib = lib


_kernel: _Kernel | None = None
_status = {"native": False, "reason": "not loaded yet", "calls": 0, "flops": 0}
_enabled = True


def set_enabled(enabled: bool) -> None:
    """Turn the native kernel off (np.matmul everywhere) or back on: for A/B runs."""
    global _enabled
    _enabled = bool(enabled)


def _load() -> _Kernel | None:
    """The kernel, loaded on first use; None (and one warning) if it cannot be."""
    global _kernel
    if _kernel is not None or _status["reason"] != "not loaded yet":
        return _kernel
    if not IN_PYODIDE:
        _status["reason"] = "not in Pyodide: np.matmul uses BLAS"
        return None
    try:
        _kernel = _Kernel(WASM_PATH)
    except Exception as exc:  # noqa: BLE001 - any loading failure means: use numpy
        _status["reason"] = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"wasm_rt: the SIMD GEMM ({WASM_PATH.name}) did not load, matrix products "
            f"use np.matmul and are slower ({_status['reason']})",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    _status.update(native=True, reason="loaded")
    return _kernel


def status() -> dict:
    """Whether the native kernel is in use: ``{"native", "reason", "calls"}``.

    ``calls`` counts the products :func:`matmul` handled natively and ``flops``
    their floating-point operations (2 * M * N * K per matrix).
    """
    _load()
    return dict(_status)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b)``, through the SIMD128 kernel for float32 inside Pyodide."""
    a = np.asarray(a)
    b = np.asarray(b)
    if not _enabled or a.dtype != _F32 or b.dtype != _F32 or a.ndim == 0 or b.ndim == 0:
        return np.matmul(a, b)
    kernel = _load()
    if kernel is None:
        return np.matmul(a, b)
    return _native_matmul(kernel, a, b)


def _elem_strides(x: np.ndarray) -> tuple[int, ...] | None:
    """Strides in elements, or None when a stride is not a whole element."""
    if any(s % 4 for s in x.strides):
        return None
    return tuple(s // 4 for s in x.strides)


def _collapse(shape, *strides) -> tuple[list[int], list[list[int]]]:
    """Merge batch axes that every operand walks as one (fewer kernel calls)."""
    dims = [d for d in shape]
    st = [list(s) for s in strides]
    i = len(dims) - 1
    while i > 0:
        if all(s[i - 1] == s[i] * dims[i] for s in st):
            dims[i - 1] *= dims[i]
            del dims[i]
            for s in st:
                s[i - 1] = s.pop(i)
        i -= 1
    return dims, st


def _native_matmul(kernel: _Kernel, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    m, k = a2.shape[-2:]
    k2, n = b2.shape[-2:]
    if k != k2:
        raise ValueError(
            f"matmul: inner dimensions differ, A is {a.shape} and B is {b.shape}"
        )
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    out = np.empty(batch + (m, n), dtype=_F32)
    _status["calls"] += 1
    _status["flops"] += 2 * out.size * k
    if out.size:
        _run(
            kernel,
            np.broadcast_to(a2, batch + (m, k)),
            np.broadcast_to(b2, batch + (k, n)),
            out,
        )
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


def _run(kernel: _Kernel, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    """c[...] = a @ b with all three already of the same batch shape."""
    sa, sb = _elem_strides(a), _elem_strides(b)
    if sa is None:
        a = np.ascontiguousarray(a)
        sa = _elem_strides(a)
    if sb is None:
        b = np.ascontiguousarray(b)
        sb = _elem_strides(b)
    sc = _elem_strides(c)
    m, k = a.shape[-2:]
    n = b.shape[-1]
    batch = c.shape[:-2]
    dims, (ba, bb, bc) = _collapse(batch, sa[:-2], sb[:-2], sc[:-2])
    if not dims:
        dims, ba, bb, bc = [1], [0], [0], [0]
    pa, pb, pc = a.ctypes.data, b.ctypes.data, c.ctypes.data
    inner = dims[-1]
    for outer in itertools.product(*map(range, dims[:-1])):
        oa = sum(i * s for i, s in zip(outer, ba)) * 4
        ob = sum(i * s for i, s in zip(outer, bb)) * 4
        oc = sum(i * s for i, s in zip(outer, bc)) * 4
        kernel.batched(
            inner,
            m,
            n,
            k,
            pa + oa,
            ba[-1],
            sa[-2],
            sa[-1],
            pb + ob,
            bb[-1],
            sb[-2],
            sb[-1],
            pc + oc,
            bc[-1],
            sc[-2],
            0,
            kernel.work,
        )
