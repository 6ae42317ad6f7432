"""Conversions of the low-precision element types (see :mod:`wasm_rt.dtypes`).

Every function is vectorized numpy and bit-exact with ml_dtypes (which the
ONNX reference implementation uses); tests/test_lowprec.py checks all codes.

Public helpers (other modules rely on these names):

- :func:`to_float32` (any low-precision array -> float32 values),
  :func:`from_float` (float/int array -> a low-precision array, rounding to
  nearest even, with Cast's ``saturate`` and ``round_mode``);
- :func:`unpack_4bit` / :func:`pack_4bit` and :func:`unpack_2bit` /
  :func:`pack_2bit`: the TensorProto layout of int4/uint4/float4e2m1 (two
  per byte, the first element in the low nibble) and int2/uint2 (four per
  byte, the first element in the lowest two bits); odd counts leave the last
  byte's high bits zero;
- :func:`from_ml_dtypes` / :func:`to_ml_dtypes`: the public API boundary.
"""

from __future__ import annotations

import functools

import numpy as np

from . import dtypes

# name -> (exponent bits, mantissa bits, bias, special-value convention):
# "ieee" has inf and NaN (e5m2); "fn" has no inf, NaN is S.1111.111 (e4m3fn);
# "fnuz" has no inf and no -0, NaN is 0x80; "none" has neither (e2m1).
_FLOAT_FORMATS = {
    dtypes.float8e4m3fn: (4, 3, 7, "fn"),
    dtypes.float8e4m3fnuz: (4, 3, 8, "fnuz"),
    dtypes.float8e5m2: (5, 2, 15, "ieee"),
    dtypes.float8e5m2fnuz: (5, 2, 16, "fnuz"),
    dtypes.float4e2m1: (2, 1, 1, "none"),
}
_INT_RANGES = {
    dtypes.int4: (-8, 7),
    dtypes.uint4: (0, 15),
    dtypes.int2: (-2, 1),
    dtypes.uint2: (0, 3),
}
FLOAT8_TYPES = frozenset(
    [
        dtypes.float8e4m3fn,
        dtypes.float8e4m3fnuz,
        dtypes.float8e5m2,
        dtypes.float8e5m2fnuz,
    ]
)


def bits(x: np.ndarray) -> np.ndarray:
    """The raw bits (or, for int4/uint4/int2/uint2, the values) of a
    low-precision array as a plain numpy view, no copy."""
    return _contiguous(x).view(dtypes.bits_dtype(x.dtype))


def _contiguous(x: np.ndarray) -> np.ndarray:
    # view() needs contiguous memory; np.ascontiguousarray would make a 0-d array 1-d.
    return x if x.flags.c_contiguous else x.copy()


def tag(raw: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``raw`` bits (uint16 / uint8 / int8 of the right width) as ``dtype``."""
    raw = np.asarray(raw).astype(dtypes.bits_dtype(dtype), copy=False)
    return _contiguous(raw).view(dtype)


@functools.lru_cache(maxsize=None)
def _decode_table(dtype: np.dtype) -> np.ndarray:
    """float32 value of every code of an 8- or 4-bit float format."""
    if dtype == dtypes.float8e8m0:
        table = np.ldexp(np.float64(1), np.arange(256) - 127).astype(np.float32)
        table[255] = np.nan
        return table
    e_bits, m_bits, bias, kind = _FLOAT_FORMATS[dtype]
    width = 1 + e_bits + m_bits
    codes = np.arange(1 << width)
    sign = np.where(codes >> (width - 1), -1.0, 1.0)
    exp = (codes >> m_bits) & ((1 << e_bits) - 1)
    man = codes & ((1 << m_bits) - 1)
    value = np.where(
        exp == 0,
        np.ldexp(man.astype(np.float64), 1 - bias - m_bits),
        np.ldexp((man + (1 << m_bits)).astype(np.float64), exp - bias - m_bits),
    )
    table = sign * value
    top = (1 << (e_bits + m_bits)) - 1  # all exponent and mantissa bits set
    if kind == "fn":
        table[[top, top | 0x80]] = np.nan
    elif kind == "fnuz":
        table[0x80] = np.nan
    elif kind == "ieee":
        inf = top & ~((1 << m_bits) - 1)
        table[inf], table[inf | 0x80] = np.inf, -np.inf
        for sgn in (0, 0x80):
            table[sgn + inf + 1 : sgn + top + 1] = np.nan
    return table.astype(np.float32)


def to_float32(x: np.ndarray) -> np.ndarray:
    """The float32 values of a low-precision array (exact for every type)."""
    dt = x.dtype
    if dt in _INT_RANGES:
        return bits(x).astype(np.float32)
    if dt == dtypes.bfloat16:
        return (bits(x).astype(np.uint32) << 16).view(np.float32)
    return _decode_table(dt)[bits(x)]


@functools.lru_cache(maxsize=None)
def _encode_tables(dtype: np.dtype):
    """(positive finite values, midpoints between neighbours, overflow threshold,
    whether the largest code is odd) of an 8/4-bit float format."""
    table = _decode_table(dtype).astype(np.float64)
    half = len(table) // 2
    values = table[:half]
    values = values[: int(np.argmax(~np.isfinite(values))) or half]
    mids = (values[1:] + values[:-1]) / 2  # exact: one bit more than the format
    top = values[-1]
    overflow = top + (top - values[-2]) / 2
    return values, mids, overflow, (len(values) - 1) % 2 == 1


def _round_to_codes(a: np.ndarray, dtype: np.dtype):
    """Round |x| (float64, finite or not) to the nearest code, ties to even;
    returns (codes, overflowed) where overflowed marks [x] above the largest."""
    values, mids, overflow, top_odd = _encode_tables(dtype)
    idx = np.searchsorted(mids, a, side="left")
    tie = (idx < len(mids)) & (a == mids[np.minimum(idx, len(mids) - 1)])
    codes = idx + (tie & (idx % 2 == 1))
    over = (a > overflow) | ((a == overflow) & top_odd)
    return np.minimum(codes, len(values) - 1), over


def _encode_float(x: np.ndarray, dtype: np.dtype, saturate: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # signalling NaNs stay NaN
        x = x.astype(np.float64)  # exact; the midpoints need float64
    e_bits, m_bits, _, kind = _FLOAT_FORMATS[dtype]
    sign_bit = 1 << (e_bits + m_bits)
    nan = np.isnan(x)
    neg = np.signbit(x)
    codes, over = _round_to_codes(np.abs(np.where(nan, 0.0, x)), dtype)
    codes = codes.astype(np.uint8)
    max_code = codes.dtype.type(len(_encode_tables(dtype)[0]) - 1)
    if kind == "none":
        # float4e2m1 has no inf/NaN: ml_dtypes saturates, and sends NaN to the
        # sign-flipped zero (NaN -> 0x8, -NaN -> 0x0), which ONNX's reference copies.
        codes = np.where(over, max_code, codes)
        codes = np.where(nan, 0, codes)
        neg = np.where(nan, ~neg, neg)
    elif saturate:
        codes = np.where(over, max_code, codes)
    elif kind == "ieee":
        codes = np.where(over, max_code + 1, codes)  # the inf code follows the max
    else:
        nan = nan | over
    out = codes | np.where(neg, sign_bit, 0).astype(np.uint8)
    if kind == "fnuz":
        out = np.where(codes == 0, 0, out)  # no negative zero
        out = np.where(nan, 0x80, out)
    elif kind == "fn":
        out = np.where(nan, 0x7F | np.where(neg, 0x80, 0), out)
    elif kind == "ieee":
        out = np.where(nan, 0x7E | np.where(neg, 0x80, 0), out)
    return out.astype(np.uint8)


def _encode_bfloat16(x: np.ndarray) -> np.ndarray:
    b = _contiguous(x).view(np.uint32)
    # Round to nearest even on the 16 dropped bits; carries into the exponent
    # give the next binade or inf, as they should.  NaN becomes the canonical
    # quiet NaN with its sign (0x7FC0 / 0xFFC0), as in ml_dtypes.
    rounded = ((b + np.uint32(0x7FFF) + ((b >> 16) & 1)) >> 16).astype(np.uint16)
    quiet = ((b >> 16) & 0x8000 | 0x7FC0).astype(np.uint16)
    return np.where(np.isnan(x), quiet, rounded)


def _encode_e8m0(x: np.ndarray, saturate: bool, round_mode: str) -> np.ndarray:
    """ONNX's reference (numpy_helper.to_float8e8m0): the float32 exponent,
    rounded by the dropped mantissa; the sign is ignored (the spec leaves
    negative inputs undefined).  One difference: with ``saturate`` +-inf gives
    E8M0_MAX as the spec's table and onnxruntime say (the reference gives NaN)."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32)
    exp = ((b >> 23) & 0xFF).astype(np.uint16)
    special = exp == 0xFF
    if round_mode == "nearest":
        g, r_s = (b & 0x400000) > 0, (b & 0x3FFFFF) > 0
        up = g & (r_s | (exp > 0))
    elif round_mode == "up":
        up = (b & 0x7FFFFF) > 0
    elif round_mode == "down":
        up = np.zeros(b.shape, bool)
    else:
        raise ValueError(
            f"round_mode must be 'up', 'down' or 'nearest', got {round_mode!r}"
        )
    if saturate:
        up = up & (exp != 0xFE)
    exp = exp + (up & ~special)
    out = np.where(special, 0xFF, exp).astype(np.uint8)
    if saturate:
        out = np.where(np.isinf(x), 0xFE, out).astype(np.uint8)
    return out


def from_float(
    x: np.ndarray, dtype: np.dtype, saturate: bool = True, round_mode: str = "up"
) -> np.ndarray:
    """``x`` (any float, integer or bool array) converted to low-precision ``dtype``.

    Floats round to nearest even.  ``saturate`` (float8 only, as Cast's
    attribute) sends out-of-range values and inf to +-max instead of inf/NaN;
    float4e2m1 always saturates; float8e8m0 follows ``round_mode``.  Integer
    targets truncate and wrap like ml_dtypes' ``astype`` (Cast leaves that
    undefined); :func:`saturate_int` is the clamping QuantizeLinear wants.
    """
    x = np.asarray(x)
    if x.dtype == np.bool_:
        x = x.astype(np.float32)
    if dtype in _INT_RANGES:
        lo, hi = _INT_RANGES[dtype]
        if x.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                x = np.where(np.isfinite(x), np.trunc(x), 0).astype(np.int64)
        width = hi - lo + 1
        return tag(((x.astype(np.int64) - lo) % width + lo), dtype)
    # Wider inputs are first rounded to float32, as ml_dtypes and onnxruntime
    # (static_cast<float>) do; float16 -> float32 is exact.
    with np.errstate(all="ignore"):
        x = x.astype(np.float32, copy=False)
    if dtype == dtypes.bfloat16:
        return tag(_encode_bfloat16(x), dtype)
    if dtype == dtypes.float8e8m0:
        return tag(_encode_e8m0(x, saturate, round_mode), dtype)
    return tag(_encode_float(x, dtype, bool(saturate)), dtype)


def saturate_int(q: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Integer values (already rounded) clamped into int4/uint4/int2/uint2."""
    lo, hi = _INT_RANGES[dtype]
    return tag(np.clip(q, lo, hi), dtype)


def int_range(dtype: np.dtype) -> tuple[int, int]:
    """(min, max) of int4/uint4/int2/uint2."""
    return _INT_RANGES[dtype]


def convert(x: np.ndarray, target: np.dtype, saturate=True, round_mode="up"):
    """Any numeric array (low-precision or not) -> ``target`` (either kind).

    Low-precision sources go through float32 (exact for all of them), except
    the integer ones, which convert as integers.
    """
    src = x.dtype
    if dtypes.is_lowprec(src):
        x = bits(x) if src in _INT_RANGES else to_float32(x)
    if dtypes.is_lowprec(target):
        return from_float(x, target, saturate, round_mode)
    with np.errstate(all="ignore"):
        return x.astype(target)


# --- packed TensorProto layouts --------------------------------------------------


def _as_bytes(packed) -> np.ndarray:
    if isinstance(packed, np.ndarray):
        return packed.astype(np.uint8, copy=False).reshape(-1)
    return np.frombuffer(bytes(packed), np.uint8)


def unpack_4bit(packed, count: int, signed: bool) -> np.ndarray:
    """``count`` 4-bit values from bytes packed two per byte, low nibble first;
    int8 sign-extended if ``signed`` else uint8.  ``packed`` must hold
    exactly ``ceil(count / 2)`` bytes (the caller checks and reports sizes)."""
    b = _as_bytes(packed)
    vals = np.stack([b & 0x0F, b >> 4], axis=-1).reshape(-1)[:count]
    if signed:
        return ((vals.astype(np.int8) ^ 8) - 8).astype(np.int8)
    return vals


def pack_4bit(values: np.ndarray) -> np.ndarray:
    """The inverse of :func:`unpack_4bit`: uint8 bytes, two values per byte."""
    v = (np.asarray(values).reshape(-1).astype(np.int16) & 0x0F).astype(np.uint8)
    if v.size % 2:
        v = np.append(v, np.uint8(0))
    return (v[0::2] | (v[1::2] << 4)).astype(np.uint8)


def unpack_2bit(packed, count: int, signed: bool) -> np.ndarray:
    """``count`` 2-bit values from bytes packed four per byte, lowest bits first."""
    b = _as_bytes(packed)
    vals = np.stack([(b >> s) & 3 for s in (0, 2, 4, 6)], axis=-1).reshape(-1)[:count]
    if signed:
        return ((vals.astype(np.int8) ^ 2) - 2).astype(np.int8)
    return vals.astype(np.uint8)


def pack_2bit(values: np.ndarray) -> np.ndarray:
    """The inverse of :func:`unpack_2bit`: uint8 bytes, four values per byte."""
    v = (np.asarray(values).reshape(-1).astype(np.int16) & 3).astype(np.uint8)
    v = np.concatenate([v, np.zeros(-v.size % 4, np.uint8)])
    return (v[0::4] | (v[1::4] << 2) | (v[2::4] << 4) | (v[3::4] << 6)).astype(np.uint8)


def packed_size(dtype: np.dtype, count: int) -> int | None:
    """Bytes the TensorProto layout needs for ``count`` items of ``dtype``, or
    None if the type is not sub-byte packed."""
    if dtype in (dtypes.int4, dtypes.uint4, dtypes.float4e2m1):
        return (count + 1) // 2
    if dtype in (dtypes.int2, dtypes.uint2):
        return (count + 3) // 4
    return None


def unpack(packed, dtype: np.dtype, count: int) -> np.ndarray:
    """A flat ``dtype`` array from its packed TensorProto bytes."""
    signed = dtype in (dtypes.int4, dtypes.int2)
    if dtype in (dtypes.int2, dtypes.uint2):
        return tag(unpack_2bit(packed, count, signed), dtype)
    return tag(unpack_4bit(packed, count, signed), dtype)


def pack(x: np.ndarray) -> bytes:
    """The packed TensorProto bytes of an int4/uint4/float4e2m1/int2/uint2 array."""
    if x.dtype in (dtypes.int2, dtypes.uint2):
        return pack_2bit(bits(x)).tobytes()
    return pack_4bit(bits(x)).tobytes()


# --- the public API boundary: ml_dtypes arrays -----------------------------------

# ml_dtypes' dtype names -> wasm_rt's dtypes (recognised without importing it).
_ML_NAMES = {
    "bfloat16": dtypes.bfloat16,
    "float8_e4m3fn": dtypes.float8e4m3fn,
    "float8_e4m3fnuz": dtypes.float8e4m3fnuz,
    "float8_e5m2": dtypes.float8e5m2,
    "float8_e5m2fnuz": dtypes.float8e5m2fnuz,
    "float8_e8m0fnu": dtypes.float8e8m0,
    "float4_e2m1fn": dtypes.float4e2m1,
    "int4": dtypes.int4,
    "uint4": dtypes.uint4,
    "int2": dtypes.int2,
    "uint2": dtypes.uint2,
}
_SUB_BYTE_INTS = {dtypes.int4: 4, dtypes.int2: 2, dtypes.uint4: 4, dtypes.uint2: 2}


def ml_dtypes_equivalent(dtype) -> np.dtype | None:
    """wasm_rt's dtype for an ml_dtypes dtype, or None if ``dtype`` is not one."""
    # The scalar type's module names the package; the dtype name the type.
    if not getattr(dtype.type, "__module__", "").startswith("ml_dtypes"):
        return None
    return _ML_NAMES.get(dtype.name)


def from_ml_dtypes(x: np.ndarray) -> np.ndarray:
    """An ml_dtypes array as wasm_rt's structured array (arrays of other
    dtypes are returned unchanged)."""
    target = ml_dtypes_equivalent(x.dtype)
    if target is None:
        return x
    raw = _contiguous(x).view(dtypes.bits_dtype(target))
    if target in (dtypes.int4, dtypes.int2):
        # ml_dtypes keeps intN values masked to N bits; wasm_rt sign-extends them.
        half = 1 << (_SUB_BYTE_INTS[target] - 1)
        raw = ((raw & (2 * half - 1)) ^ half) - half
    return tag(raw, target)


@functools.lru_cache(maxsize=1)
def _ml_dtypes():
    try:
        import ml_dtypes
    except ImportError:
        return None
    return ml_dtypes


_ML_ATTR = {v: k for k, v in _ML_NAMES.items()}


def to_ml_dtypes(x: np.ndarray, use_ml_dtypes: bool = True) -> np.ndarray:
    """A structured low-precision array as the ml_dtypes array of the same
    values when ml_dtypes is importable (and ``use_ml_dtypes``), else unchanged."""
    ml = _ml_dtypes() if use_ml_dtypes else None
    if ml is None or not dtypes.is_lowprec(x.dtype):
        return x
    raw = bits(_contiguous(x))
    if x.dtype in _SUB_BYTE_INTS:
        raw = raw.view(np.uint8) & ((1 << _SUB_BYTE_INTS[x.dtype]) - 1)
    return raw.view(getattr(ml, _ML_ATTR[x.dtype]))


def public_value(value, use_ml_dtypes: bool = True):
    """An output value as the public API returns it: low-precision arrays
    (also inside sequences, maps and optionals) as ml_dtypes arrays when
    ml_dtypes is importable, else as wasm_rt's structured arrays."""
    if isinstance(value, np.ndarray):
        return to_ml_dtypes(value, use_ml_dtypes)
    if isinstance(value, list):
        return [public_value(v, use_ml_dtypes) for v in value]
    if isinstance(value, dict):
        return {k: public_value(v, use_ml_dtypes) for k, v in value.items()}
    return value


def internal_value(value):
    """A feed as the runtime holds it: ml_dtypes arrays (also inside lists
    and dicts) become wasm_rt's structured arrays; all else is unchanged."""
    if isinstance(value, np.ndarray):
        return from_ml_dtypes(value)
    if isinstance(value, list):
        return [internal_value(v) for v in value]
    if isinstance(value, dict):
        return {k: internal_value(v) for k, v in value.items()}
    return value
