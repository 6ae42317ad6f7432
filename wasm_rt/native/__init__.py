"""Matrix products for the numpy provider, fast inside Pyodide.

On desktop CPython numpy calls BLAS, so :func:`matmul` is ``np.matmul``. Pyodide's
numpy has no BLAS (about 0.7 GFLOP/s); there :func:`matmul` runs float32
products through ``gemm.wasm``, a SIMD128 GEMM built from ``gemm.c`` by
``scripts/build_native.sh`` and loaded once with ``ctypes.CDLL`` (a wasm side
module). The kernel reads numpy buffers in place by pointer and strides, so
transposed and broadcast views cost no copies. Other dtypes, or a kernel that
fails to load (warned once, with the reason), use ``np.matmul``.

The same module carries the quantized products (``qgemm.c``): :func:`qgemm_i32`
(MatMulInteger's exact int32 core) and :func:`matmul_nbits` (MatMulNBits, 4- or
8-bit block-quantized weights dequantized panel by panel). They return ``None``
where the module is not in use (desktop CPython, a load failure, or
:func:`set_enabled` off) so that their callers fall back to numpy.
"""

from __future__ import annotations

import ctypes
import itertools
import sys
import warnings
from pathlib import Path

import numpy as np

from ..limits import check_alloc

IN_PYODIDE = sys.platform == "emscripten"
WASM_PATH = Path(__file__).with_name("gemm.wasm")
_ABI = 3  # wasm_rt_gemm_abi() of the gemm.c this loader was written for
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
        # m, n, k, a, rsa, a_zp, b, rsb, b_zp (int32 [n]), c, rsc, flags, work
        self.qgemm = lib.wasm_rt_qgemm
        self.qgemm.restype = None
        self.qgemm.argtypes = [i, i, i, p, i, i, p, i, p, p, i, i, p]
        # m, n, k, a, rsa, b, scales, zp, zp_kind, bits, block_size, c, rsc, work
        self.nbits = lib.wasm_rt_matmul_nbits
        self.nbits.restype = None
        self.nbits.argtypes = [i, i, i, p, i, p, p, p, i, i, i, p, i, p]
        words = lib.wasm_rt_gemm_work_floats()
        self._work = np.empty(words + 4, dtype=_F32)  # +4: room to align to 16 bytes
        self.work = self._work.ctypes.data + (-self._work.ctypes.data % 16)
        self.lib = lib


_kernel: _Kernel | None = None
_status = {
    "native": False,
    "reason": "not loaded yet",
    "calls": 0,
    "flops": 0,
    "quant_calls": 0,
    "quant_ops": 0,
}
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
    """Whether the native kernel is in use: ``{"native", "reason", "calls", ...}``.

    ``calls`` counts the products :func:`matmul` handled natively and ``flops``
    their floating-point operations (2 * M * N * K per matrix); ``quant_calls``
    and ``quant_ops`` the same for :func:`qgemm_i32` and :func:`matmul_nbits`.
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


# Value ranges of the int8 GEMM's operand types (np.iinfo is slow in Pyodide).
_INT8 = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127)}


def _int_zero_point(zp, dtype: np.dtype, what: str, n: int | None):
    """A zero point as an int, or ``n`` of them (per column) as int32 [n]."""
    lo, hi = _INT8[dtype]
    if isinstance(zp, (int, np.integer)) and not isinstance(zp, (bool, np.bool_)):
        value = int(zp)  # the common case, without array round trips
        if not lo <= value <= hi:
            raise ValueError(
                f"{what}: zero points must lie in the range of {dtype} "
                f"[{lo}, {hi}], got {value}"
            )
        return value
    arr = np.asarray(zp)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{what}: expected integer zero point(s), got {arr.dtype}")
    if arr.size != 1 and (n is None or arr.shape != (n,)):
        want = "one value" if n is None else f"one value or shape ({n},)"
        raise ValueError(f"{what}: expected {want}, got shape {arr.shape}")
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise ValueError(
            f"{what}: zero points must lie in the range of {dtype} "
            f"[{lo}, {hi}], got [{arr.min()}, {arr.max()}]"
        )
    return int(arr.reshape(-1)[0]) if arr.size == 1 else arr.astype(np.int32)


def qgemm_i32(a: np.ndarray, a_zp, b: np.ndarray, b_zp) -> np.ndarray | None:
    """``(a - a_zp) @ (b - b_zp)`` in exact int32 (MatMulInteger), or None.

    ``a`` is [M, K] and ``b`` [K, N], each uint8 or int8; ``a_zp`` one integer,
    ``b_zp`` one integer or N of them (per output column). Returns int32
    [M, N], or None where the SIMD module is not in use (the caller then
    computes it with numpy). Sums wrap modulo 2**32 like int32 arithmetic.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.dtype not in _INT8 or b.dtype not in _INT8:
        raise ValueError(
            "qgemm_i32: expected 2-D uint8/int8 A and B, got A "
            f"{a.dtype}{list(a.shape)} and B {b.dtype}{list(b.shape)}"
        )
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2:
        raise ValueError(
            f"qgemm_i32: inner dimensions differ, A is {a.shape} and B is {b.shape}"
        )
    za = _int_zero_point(a_zp, a.dtype, "qgemm_i32 a_zp", None)
    zb = _int_zero_point(b_zp, b.dtype, "qgemm_i32 b_zp", n)
    check_alloc((m, n), np.int32, "qgemm_i32 output")
    kernel = _load() if _enabled else None
    if kernel is None:
        return None
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    if isinstance(zb, int):
        zb = np.full(n, zb, dtype=np.int32)
    out = np.empty((m, n), dtype=np.int32)
    flags = int(a.dtype == np.int8) | 2 * int(b.dtype == np.int8)
    _status["quant_calls"] += 1
    _status["quant_ops"] += 2 * m * n * k
    kernel.qgemm(
        m,
        n,
        k,
        a.ctypes.data,
        k,
        za,
        b.ctypes.data,
        n,
        zb.ctypes.data,
        out.ctypes.data,
        n,
        flags,
        kernel.work,
    )
    return out


def matmul_nbits(
    a: np.ndarray,
    b_packed: np.ndarray,
    scales: np.ndarray,
    zero_points: np.ndarray | None,
    *,
    bits: int,
    block_size: int,
    k: int,
    n: int,
) -> np.ndarray | None:
    """``a @ dequantize(B).T`` for MatMulNBits' layout, float32, or None.

    ``a`` float32 [M, K]; ``b_packed`` uint8 with N * n_blocks * block_size *
    bits / 8 bytes ([N, n_blocks, blob], 4-bit values two per byte, low nibble
    first), n_blocks = ceil(K / block_size); ``scales`` float32 [N, n_blocks];
    ``zero_points`` None (2**(bits - 1)), uint8 packed like B ([N,
    ceil(n_blocks * bits / 8)]) or float32 [N, n_blocks]; any shapes with those
    sizes. W[n, k] = (q - zero_point) * scale of block k // block_size. Returns
    float32 [M, N], or None where the SIMD module is not in use.
    """
    if bits not in (4, 8):
        raise ValueError(f"matmul_nbits: expected bits 4 or 8, got {bits}")
    if block_size < 16 or block_size & (block_size - 1):
        raise ValueError(
            f"matmul_nbits: expected a power-of-two block_size >= 16, got {block_size}"
        )
    a = np.asarray(a)
    if a.ndim != 2 or a.dtype != _F32 or a.shape[1] != k or k < 0 or n < 0:
        raise ValueError(
            f"matmul_nbits: expected float32 A of shape [M, {k}], "
            f"got {a.dtype}{list(a.shape)}"
        )
    n_blocks = -(-k // block_size)
    sizes = {
        "b_packed": (b_packed, np.uint8, n * n_blocks * block_size * bits // 8),
        "scales": (scales, np.float32, n * n_blocks),
    }
    if zero_points is None:
        kind = 0
    elif np.asarray(zero_points).dtype == np.float32:
        kind = 2
        sizes["zero_points"] = (zero_points, np.float32, n * n_blocks)
    else:
        kind = 1
        zp_bytes = n * (-(-n_blocks * bits // 8))
        sizes["zero_points"] = (zero_points, np.uint8, zp_bytes)
    arrays = {}
    for name, (x, dtype, size) in sizes.items():
        x = np.asarray(x)
        if x.dtype != dtype or x.size != size:
            raise ValueError(
                f"matmul_nbits: expected {name} of {np.dtype(dtype)} with {size} "
                f"values (N={n}, K={k}, block_size={block_size}, bits={bits}), "
                f"got {x.dtype}{list(x.shape)}"
            )
        arrays[name] = np.ascontiguousarray(x)
    m = a.shape[0]
    check_alloc((m, n), np.float32, "matmul_nbits output")
    kernel = _load() if _enabled else None
    if kernel is None:
        return None
    a = np.ascontiguousarray(a)
    out = np.empty((m, n), dtype=_F32)
    zp = arrays["zero_points"].ctypes.data if kind else None
    _status["quant_calls"] += 1
    _status["quant_ops"] += 2 * m * n * k
    kernel.nbits(
        m,
        n,
        k,
        a.ctypes.data,
        k,
        arrays["b_packed"].ctypes.data,
        arrays["scales"].ctypes.data,
        zp,
        kind,
        bits,
        block_size,
        out.ctypes.data,
        n,
        kernel.work,
    )
    return out
