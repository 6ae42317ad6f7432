"""Shared integer GEMM and requantization for the quantized operators.

:func:`qgemm_i32` is the exact ``(A - a_zp) @ (B - b_zp)`` with int32 results that
MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv, QGemm,
MatMulIntegerToFloat, DynamicQuantizeMatMul and the QLinear matrix ops need.
Inside Pyodide the SIMD kernel of ``wasm_rt.native`` computes it, one 2-D
product per batch entry (batches over a 2-D B are folded into its rows);
elsewhere the product runs through float64 BLAS: every shifted 8-bit value has
|v| <= 255, so each product is below 2**16 and a sum of K of them stays an exact
float64 integer while K < 2**37, far beyond any real K. numpy's integer matmul
is exact too but has no BLAS and is ~50x slower. The result wraps to int32 like
onnxruntime's int32 accumulator.
"""

from __future__ import annotations

import math

import numpy as np

from .. import native
from ..limits import check_alloc

_F32 = np.float32
_I32 = np.int32
_Q8 = (np.dtype(np.uint8), np.dtype(np.int8))
# Bytes of float64 B columns converted at a time: bounds the temporary copy
# of a large weight matrix (a [K, N] uint8 B becomes 8 bytes per entry).
_CHUNK_BYTES = 1 << 23


def _shifted(x: np.ndarray, zp) -> np.ndarray:
    """x - zp as float64 (zp broadcasts: scalar, per row or per column)."""
    out = x.astype(np.float64)
    if zp is not None:
        out -= np.asarray(zp).astype(np.float64)
    return out


def _zp(zp) -> np.ndarray | None:
    """A zero point as an int32 array (a 1-element one as a 0-d array), or None."""
    if zp is None:
        return None
    zp = np.asarray(zp)
    return (zp.reshape(()) if zp.size == 1 else zp).astype(_I32)


def qgemm_i32(a: np.ndarray, a_zp, b: np.ndarray, b_zp) -> np.ndarray:
    """Exact int32 ``(a - a_zp) @ (b - b_zp)`` of 8-bit (or 16-bit) matrices.

    ``a`` is [..., M, K], ``b`` is [..., K, N] (batch dims broadcast like
    np.matmul); ``a_zp`` is None, a scalar or per row ([..., M, 1]); ``b_zp`` is
    None, a scalar or per column ([N] or [..., 1, N]).
    """
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    shape = batch + (a.shape[-2], b.shape[-1])
    check_alloc(shape, _I32, "integer GEMM output")
    az, bz = _zp(a_zp), _zp(b_zp)
    if a.dtype in _Q8 and b.dtype in _Q8 and native.status()["native"]:
        y = _native_batched(a, az, b, bz, batch, shape)
        if y is not None:
            return y
    k, n = b.shape[-2], b.shape[-1]
    check_alloc(a.shape, np.float64, "integer GEMM A as float64")
    fa = _shifted(a, az)
    out = np.empty(shape, np.float64)
    cols = max(1, _CHUNK_BYTES // max(1, 8 * k))
    for c0 in range(0, n, cols):
        c1 = min(n, c0 + cols)
        zc = bz if bz is None or bz.ndim == 0 else bz[..., c0:c1]
        out[..., c0:c1] = np.matmul(fa, _shifted(b[..., c0:c1], zc))
    # Exact integers in float64; wrap through int64 like an int32 accumulator.
    return out.astype(np.int64).astype(_I32)


def _native_batched(a, az, b, bz, batch, shape) -> np.ndarray | None:
    """The SIMD kernel over every batch entry; None where it declines."""
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if b.ndim == 2 and (bz is None or bz.ndim <= 1) and (az is None or az.ndim <= 2):
        # A 2-D B: all of A's rows in one product (per-row zero points follow).
        rows = math.prod(a.shape[:-1])
        a2 = a.reshape(rows, k)
        az2 = (
            az
            if az is None or az.ndim == 0
            else np.broadcast_to(az, a.shape[:-1] + (1,))
        )
        y = _native_2d(a2, None if az2 is None else az2.reshape(-1, 1), b, bz)
        return None if y is None else y.reshape(shape)
    out = np.empty(shape, _I32)
    a_b = np.broadcast_to(a, batch + (m, k))
    b_b = np.broadcast_to(b, batch + (k, n))
    az_b = az if az is None or az.ndim == 0 else np.broadcast_to(az, batch + (m, 1))
    bz_b = bz if bz is None or bz.ndim == 0 else np.broadcast_to(bz, batch + (1, n))
    for idx in np.ndindex(*batch):
        y = _native_2d(
            a_b[idx],
            az_b if az_b is None or az_b.ndim == 0 else az_b[idx],
            b_b[idx],
            bz_b if bz_b is None or bz_b.ndim == 0 else bz_b[idx].reshape(n),
        )
        if y is None:
            return None
        out[idx] = y
    return out


def _native_2d(a, az, b, bz) -> np.ndarray | None:
    """One 2-D product by the SIMD kernel; a per-row ``az`` ([M, 1]) is applied
    after it: (A - za) @ Bs = A @ Bs - za * colsum(Bs), wrapping like int32."""
    per_row = az is not None and az.ndim == 2
    za = 0 if az is None or per_row else int(az)
    zb = 0 if bz is None else (int(bz) if bz.ndim == 0 else bz.reshape(-1))
    y = native.qgemm_i32(a, za, b, zb)
    if y is None or not per_row:
        return y
    colsum = b.sum(axis=0, dtype=_I32)
    if bz is not None:
        colsum -= np.asarray(zb, _I32) * _I32(b.shape[0])
    y -= az.astype(_I32) * colsum  # int32 arrays wrap modulo 2**32, as wanted
    return y


def requantize(acc: np.ndarray, scale, zero_point, dtype) -> np.ndarray:
    """MLAS's requantization: float32(acc) * float32 scale, round half to even,
    add the zero point, saturate to ``dtype`` (uint8 or int8).

    ``scale`` and ``zero_point`` broadcast against ``acc`` (per tensor, row or
    column); the work is done in place on one float32 buffer.
    """
    lo, hi = (0, 255) if np.dtype(dtype) == np.uint8 else (-128, 127)
    y = acc.astype(_F32)
    y *= np.asarray(scale, _F32)
    with np.errstate(invalid="ignore"):
        np.rint(y, out=y)
        if zero_point is not None:
            zp = np.asarray(zero_point)
            y += np.float32(zp.reshape(-1)[0]) if zp.size == 1 else zp.astype(_F32)
        # fmax/fmin send NaN (from a non-finite scale) to the bound, as MLAS's
        # max/min instructions do.
        np.fmax(y, _F32(lo), out=y)
        np.fmin(y, _F32(hi), out=y)
    return y.astype(dtype)
