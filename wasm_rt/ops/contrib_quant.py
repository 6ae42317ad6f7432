"""onnxruntime's com.microsoft blockwise-quantized weight operators:
MatMulNBits and GatherBlockQuantized.

Both read n-bit integers packed into uint8, low bits first (for 4 bits the
element at even index is the low nibble), ``block_size`` consecutive values
along the quantized axis sharing one scale and one zero point. A 4-bit weight
is never expanded whole: MatMulNBits dequantizes a bounded slab of output
columns at a time, so the resident model stays at its packed size.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes, native
from ..errors import InvalidArgument
from ..errors import NotImplemented as NotImplementedErr
from ..limits import check_alloc
from ..registry import register

_F32 = np.float32
# float32 bytes of dequantized B per slab: 256 columns of K = 4096 is 4 MiB.
_SLAB_BYTES = 1 << 22


def unpack_bits(packed: np.ndarray, bits: int) -> np.ndarray:
    """uint8 [..., n] -> uint8 [..., n * 8 // bits], low bits first."""
    if bits == 8:
        return packed
    per = 8 // bits
    shifts = np.arange(0, 8, bits, dtype=np.uint8)
    vals = (packed[..., None] >> shifts) & np.uint8((1 << bits) - 1)
    return vals.reshape(packed.shape[:-1] + (packed.shape[-1] * per,))


def _need(value, name, op):
    if value is None:
        raise InvalidArgument(f"{op}: attribute {name} is required")
    return int(value)


def _shape_check(arr, shapes, what):
    if arr.shape not in shapes:
        want = " or ".join(str(s) for s in shapes)
        raise InvalidArgument(f"MatMulNBits: {what} must have shape {want}, got {arr.shape}")


class _NBitsWeight:
    """B of MatMulNBits with its scales and zero points, dequantized by slabs."""

    def __init__(self, b, scales, zero_points, g_idx, k, n, bits, block_size):
        if bits not in (2, 4, 8):
            raise NotImplementedErr(f"MatMulNBits: bits must be 2, 4 or 8, got {bits}")
        if block_size < 16 or block_size & (block_size - 1):
            raise InvalidArgument(
                f"MatMulNBits: block_size must be a power of 2 >= 16, got {block_size}"
            )
        blocks = -(-k // block_size)
        blob = block_size * bits // 8
        if b.dtype != np.uint8:
            raise InvalidArgument(f"MatMulNBits: B must be uint8, got {b.dtype}")
        _shape_check(b, [(n, blocks, blob)], "B")
        _shape_check(scales, [(n * blocks,), (n, blocks)], "scales")
        self.scales = scales.reshape(n, blocks).astype(_F32)
        self.zp_float = None
        self.zp_packed = None
        if zero_points is not None:
            if zero_points.dtype == np.uint8:
                zb = -(-blocks * bits // 8)
                _shape_check(zero_points, [(n * zb,), (n, zb)], "uint8 zero_points")
                self.zp_packed = zero_points.reshape(n, zb)
            elif zero_points.dtype == scales.dtype:
                _shape_check(zero_points, [(n * blocks,), (n, blocks)], "zero_points")
                self.zp_float = zero_points.reshape(n, blocks).astype(_F32)
            else:
                raise InvalidArgument(
                    f"MatMulNBits: zero_points must be uint8 or {scales.dtype} like the "
                    f"scales, got {zero_points.dtype}"
                )
        self.g_idx = None
        if g_idx is not None:
            _shape_check(g_idx, [(k,), (blocks * block_size,)], "g_idx")
            g = g_idx[:k].astype(np.int64)
            if g.size and (g.min() < 0 or g.max() >= blocks):
                raise InvalidArgument(
                    f"MatMulNBits: g_idx values must lie in [0, {blocks}), got "
                    f"[{g.min()}, {g.max()}]"
                )
            self.g_idx = g
        self.b, self.k, self.n, self.bits = b, k, n, bits
        self.block_size, self.blocks = block_size, blocks

    def slab(self, n0: int, n1: int) -> np.ndarray:
        """Dequantized float32 rows n0:n1 of B^T, shape [n1 - n0, K]."""
        k, bs = self.k, self.block_size
        q = unpack_bits(self.b[n0:n1], self.bits).reshape(n1 - n0, -1)[:, :k]
        # Block of every k: k // block_size, or the act-order group g_idx[k].
        block_of_k = np.arange(k) // bs if self.g_idx is None else self.g_idx
        scale = self.scales[n0:n1][:, block_of_k]
        if self.zp_float is not None:
            # onnxruntime: q * scale + (-scale * zp), rounded after each step.
            zp = self.zp_float[n0:n1][:, block_of_k]
            return q.astype(_F32) * scale + (-scale * zp)
        if self.zp_packed is not None:
            zp = unpack_bits(self.zp_packed[n0:n1], self.bits)[:, block_of_k]
        else:
            zp = np.uint8(1 << (self.bits - 1))
        return (q.astype(_F32) - zp.astype(_F32)) * scale


@register("MatMulNBits", since=1, domain="com.microsoft")
def matmul_nbits(
    a,
    b,
    scales,
    zero_points=None,
    g_idx=None,
    bias=None,
    *,
    K=None,  # noqa: N803 - onnxruntime's attribute names
    N=None,  # noqa: N803
    bits=4,
    block_size=None,
    accuracy_level=0,
):
    k, n = _need(K, "K", "MatMulNBits"), _need(N, "N", "MatMulNBits")
    block_size = _need(block_size, "block_size", "MatMulNBits")
    if a.dtype not in (np.float32, np.float16) or scales.dtype != a.dtype:
        raise InvalidArgument(
            f"MatMulNBits: A and scales must both be float32 or float16, got "
            f"{a.dtype} and {scales.dtype}"
        )
    if a.ndim < 1 or a.shape[-1] != k:
        raise InvalidArgument(f"MatMulNBits: A must end in K={k}, got shape {a.shape}")
    if bias is not None and bias.shape != (n,):
        raise InvalidArgument(f"MatMulNBits: bias must have shape ({n},), got {bias.shape}")
    w = _NBitsWeight(b, scales, zero_points, g_idx, k, n, int(bits), block_size)
    # accuracy_level only picks onnxruntime's compute precision; all levels
    # compute in float32 here (level 4 quantizes A to int8 in onnxruntime,
    # which is an approximation of this result, not a different function).
    out_shape = a.shape[:-1] + (n,)
    check_alloc(out_shape, _F32, "MatMulNBits output")
    a2 = a.reshape(-1, k).astype(_F32, copy=False)
    y = _native_nbits(a2, w)
    if y is None:
        y = np.empty((a2.shape[0], n), _F32)
        step = max(1, min(n, _SLAB_BYTES // max(1, 4 * k)))
        for n0 in range(0, n, step):
            n1 = min(n, n0 + step)
            y[:, n0:n1] = native.matmul(a2, w.slab(n0, n1).T)
    if bias is not None:
        y += bias.astype(_F32)
    return y.reshape(out_shape).astype(a.dtype, copy=False)


def _native_nbits(a2, w: _NBitsWeight):
    """The SIMD kernel's result inside Pyodide, or None (absent, or a variant it lacks)."""
    fn = getattr(native, "matmul_nbits", None)
    if fn is None or w.g_idx is not None or w.bits == 2:
        return None
    return fn(
        a2,
        w.b,
        w.scales,
        w.zp_packed if w.zp_float is None else w.zp_float,
        bits=w.bits,
        block_size=w.block_size,
        k=w.k,
        n=w.n,
    )


# --- GatherBlockQuantized -----------------------------------------------------


def _sub_byte_values(x: np.ndarray):
    """The integer values of a uint4/int4 structured tensor, else None."""
    for name, view in (("uint4", np.uint8), ("int4", np.int8)):
        dt = getattr(dtypes, name, None)
        if dt is not None and x.dtype == dt:
            return x.view(view)
    return None


def _take_valid(x, idx, axis, valid):
    """np.take with out-of-range indices reading element 0 (masked later)."""
    return np.take(x, np.where(valid, idx, 0), axis=axis)


@register("GatherBlockQuantized", since=1, domain="com.microsoft")
def gather_block_quantized(
    data,
    indices,
    scales,
    zero_points=None,
    *,
    bits=4,
    block_size=128,
    gather_axis=0,
    quantize_axis=1,
):
    op = "GatherBlockQuantized"
    bits, bs = int(bits), int(block_size)
    if bs < 16 or bs & (bs - 1):
        raise InvalidArgument(f"{op}: block_size must be a power of 2 >= 16, got {bs}")
    if scales.dtype not in (np.float32, np.float16):
        raise InvalidArgument(f"{op}: scales must be float32 or float16, got {scales.dtype}")
    if indices.dtype not in (np.int32, np.int64):
        raise InvalidArgument(f"{op}: indices must be int32 or int64, got {indices.dtype}")
    rank = data.ndim
    ga = gather_axis + rank if gather_axis < 0 else gather_axis
    qa = quantize_axis + rank if quantize_axis < 0 else quantize_axis
    if not (0 <= ga < rank and 0 <= qa < rank) or scales.ndim != rank:
        raise InvalidArgument(
            f"{op}: gather_axis {gather_axis} / quantize_axis {quantize_axis} / scales "
            f"rank {scales.ndim} do not fit data of rank {rank}"
        )
    sub = _sub_byte_values(data)
    if sub is not None:
        if bits != 4:
            raise InvalidArgument(f"{op}: int4/uint4 data needs bits=4, got {bits}")
        values, per = sub, 1
    elif data.dtype == np.uint8:
        if bits not in (2, 4, 8):
            raise InvalidArgument(f"{op}: uint8 data needs bits 2, 4 or 8, got {bits}")
        if ga != 0 or qa != rank - 1:
            raise InvalidArgument(
                f"{op}: uint8 data needs gather_axis 0 and quantize_axis {rank - 1} "
                f"(the packed last axis), got {gather_axis} and {quantize_axis}"
            )
        values, per = data, 8 // bits
    else:
        raise InvalidArgument(f"{op}: data must be uint8, int4 or uint4, got {data.dtype}")
    dim = data.shape[qa] * per
    blocks = -(-dim // bs)
    want = list(data.shape)
    want[qa] = blocks
    if list(scales.shape) != want:
        raise InvalidArgument(f"{op}: scales must have shape {tuple(want)}, got {scales.shape}")
    if zero_points is not None:
        zwant = list(want)
        zwant[qa] = -(-blocks // per)
        if list(zero_points.shape) != zwant or zero_points.dtype != data.dtype:
            raise InvalidArgument(
                f"{op}: zero_points must be {data.dtype} of shape {tuple(zwant)}, got "
                f"{zero_points.dtype} {zero_points.shape}"
            )
    n_axis = data.shape[ga]
    idx = indices.astype(np.int64)
    # onnxruntime writes zeros for out-of-range indices instead of failing.
    valid = (idx >= -n_axis) & (idx < n_axis)
    idx = np.where(idx < 0, idx + n_axis, idx)
    out_shape = data.shape[:ga] + indices.shape + data.shape[ga + 1 :]
    if per > 1:
        out_shape = out_shape[:-1] + (dim,)
    check_alloc(out_shape, _F32, f"{op} output")
    q = _take_valid(values, idx, ga, valid)
    if per > 1:
        q = unpack_bits(q, bits)
    q = q.astype(np.int32)
    # Axis of the blocks in the gathered result, and each element's block.
    out_qa = qa if qa < ga else qa + indices.ndim - 1
    if ga == qa:
        block_idx, s_axis = idx // bs, ga
    else:
        block_idx, s_axis = idx, ga
    sc = _take_valid(scales, block_idx, s_axis, valid)
    zp = None
    if zero_points is not None:
        zsub = _sub_byte_values(zero_points)
        zsrc = zero_points if zsub is None else zsub
        zp = _take_valid(zsrc, block_idx, s_axis, valid)
        if per > 1:
            zp = unpack_bits(zp, bits)[..., :blocks]
        zp = zp.astype(np.int32)
    elif sub is None:
        # uint8-packed data centres on 2**(bits-1); int4/uint4 default to 0.
        zp = np.int32(1 << (bits - 1))
    if ga != qa:
        sc = np.repeat(sc, bs, axis=out_qa).take(np.arange(dim), axis=out_qa)
        if zp is not None and np.ndim(zp):
            zp = np.repeat(zp, bs, axis=out_qa).take(np.arange(dim), axis=out_qa)
    shifted = q - zp if zp is not None else q
    out = shifted.astype(_F32) * sc.astype(_F32)
    mask_shape = (1,) * ga + indices.shape + (1,) * (len(out_shape) - ga - indices.ndim)
    out = np.where(valid.reshape(mask_shape), out, _F32(0))
    return out.astype(scales.dtype)
