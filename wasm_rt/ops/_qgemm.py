"""Shared integer GEMM and requantization for the quantized operators.

:func:`qgemm_i32` is the exact ``(A - a_zp) @ (B - b_zp)`` with int32 results that
MatMulInteger, QGemm, MatMulIntegerToFloat, DynamicQuantizeMatMul and the
QLinear matrix ops need. Inside Pyodide the SIMD kernel of ``wasm_rt.native``
computes it when it is available; elsewhere the product runs through float64
BLAS: every shifted 8-bit value has |v| <= 255, so each product is below 2**16
and a sum of K of them stays an exact float64 integer while K < 2**37, far
beyond any real K. numpy's integer matmul is exact too but has no BLAS and is
~50x slower. The result wraps to int32 like onnxruntime's int32 accumulator.
"""

from __future__ import annotations

import numpy as np

from .. import native
from ..limits import check_alloc

_F32 = np.float32
# Bytes of float64 B columns converted at a time: bounds the temporary copy
# of a large weight matrix (a [K, N] uint8 B becomes 8 bytes per entry).
_CHUNK_BYTES = 1 << 23


def _shifted(x: np.ndarray, zp) -> np.ndarray:
    """x - zp as float64 (zp broadcasts: scalar, per row or per column)."""
    out = x.astype(np.float64)
    if zp is not None:
        out -= np.asarray(zp).astype(np.float64)
    return out


def qgemm_i32(a: np.ndarray, a_zp, b: np.ndarray, b_zp) -> np.ndarray:
    """Exact int32 ``(a - a_zp) @ (b - b_zp)`` of 8-bit (or 16-bit) matrices.

    ``a`` is [..., M, K], ``b`` is [..., K, N] (batch dims broadcast like
    np.matmul); ``a_zp`` is None, a scalar or per row ([M, 1]); ``b_zp`` is None,
    a scalar or per column ([N] or [..., 1, N]).
    """
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    check_alloc(shape, np.int32, "integer GEMM output")
    fn = getattr(native, "qgemm_i32", None)
    if fn is not None and a.ndim == 2 and b.ndim == 2 and a.dtype.itemsize == 1:
        bz = 0 if b_zp is None else np.asarray(b_zp)
        bz = int(bz) if bz.size == 1 else bz.reshape(-1).astype(np.int32)
        az = np.asarray(0 if a_zp is None else a_zp)
        if az.size == 1 and b.dtype.itemsize == 1:
            y = fn(a, int(az), b, bz)
            if y is not None:
                return y
    k, n = b.shape[-2], b.shape[-1]
    check_alloc(a.shape, np.float64, "integer GEMM A as float64")
    fa = _shifted(a, a_zp)
    out = np.empty(shape, np.float64)
    cols = max(1, _CHUNK_BYTES // max(1, 8 * k))
    bz = None if b_zp is None else np.asarray(b_zp)
    for c0 in range(0, n, cols):
        c1 = min(n, c0 + cols)
        zc = bz if bz is None or bz.size == 1 else bz[..., c0:c1]
        out[..., c0:c1] = np.matmul(fa, _shifted(b[..., c0:c1], zc))
    # Exact integers in float64; wrap through int64 like an int32 accumulator.
    return out.astype(np.int64).astype(np.int32)


def requantize(acc: np.ndarray, scale, zero_point, dtype) -> np.ndarray:
    """MLAS's requantization: float32(acc) * float32 scale, round half to even,
    add the zero point, saturate to ``dtype`` (uint8 or int8)."""
    info = np.iinfo(dtype)
    y = acc.astype(_F32) * np.asarray(scale, _F32)
    zp = np.float32(np.asarray(zero_point).reshape(-1)[0]) if zero_point is not None else 0
    with np.errstate(invalid="ignore"):
        y = np.clip(np.rint(y) + np.float32(zp), info.min, info.max)
    return y.astype(dtype)
