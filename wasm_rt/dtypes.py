"""ONNX element types, their numpy equivalents and onnxruntime's type strings.

Numpy has no bfloat16, float8, float4 or 4-/2-bit integer dtypes, and Pyodide
has no ml_dtypes.  wasm_rt holds each of those types as a numpy array of a
single-field structured dtype (below: ``bfloat16``, ``float8e4m3fn`` ...), one
element per item with the raw bits in the field.  Such arrays survive every
data-movement operation (reshape, transpose, take, concatenate, where, copy,
pad) unchanged, and numpy refuses arithmetic on them, so nothing is ever
computed on raw bits by accident.  ``arr.view(np.uint16)`` / ``np.uint8`` /
``np.int8`` gives the bits without a copy and ``bits.view(dtypes.int4)`` tags
them back.  Conversions to and from float32 and the packed TensorProto
layouts live in :mod:`wasm_rt.lowprec`.

Storage per item: bfloat16 the 16 bits (``<u2``); float8* and float8e8m0 the
8 bits (``u1``); float4e2m1 the 4 bits in the low nibble (``u1``); uint4 and
uint2 the value (``u1``, 0..15 / 0..3); int4 and int2 the value sign-extended
(``i1``, -8..7 / -2..1).
"""

from __future__ import annotations

import numpy as np

from .errors import NotImplemented as NotImplementedErr

# TensorProto.DataType numbers, from the ONNX IR specification.
UNDEFINED, FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL = range(10)
FLOAT16, DOUBLE, UINT32, UINT64, COMPLEX64, COMPLEX128, BFLOAT16 = range(10, 17)
FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ, UINT4, INT4 = range(17, 23)
FLOAT4E2M1, FLOAT8E8M0, UINT2, INT2 = range(23, 27)
FLOAT6E2M3, FLOAT6E3M2 = 27, 28  # named in errors; wasm_rt cannot hold them

# The low-precision dtypes (see the module docstring).
bfloat16 = np.dtype([("bfloat16", "<u2")])
float8e4m3fn = np.dtype([("float8e4m3fn", "u1")])
float8e4m3fnuz = np.dtype([("float8e4m3fnuz", "u1")])
float8e5m2 = np.dtype([("float8e5m2", "u1")])
float8e5m2fnuz = np.dtype([("float8e5m2fnuz", "u1")])
float8e8m0 = np.dtype([("float8e8m0", "u1")])
float4e2m1 = np.dtype([("float4e2m1", "u1")])
uint4 = np.dtype([("uint4", "u1")])
int4 = np.dtype([("int4", "i1")])
uint2 = np.dtype([("uint2", "u1")])
int2 = np.dtype([("int2", "i1")])

# element type -> structured dtype, for the types numpy lacks.
LOWPREC = {
    BFLOAT16: bfloat16,
    FLOAT8E4M3FN: float8e4m3fn,
    FLOAT8E4M3FNUZ: float8e4m3fnuz,
    FLOAT8E5M2: float8e5m2,
    FLOAT8E5M2FNUZ: float8e5m2fnuz,
    UINT4: uint4,
    INT4: int4,
    FLOAT4E2M1: float4e2m1,
    FLOAT8E8M0: float8e8m0,
    UINT2: uint2,
    INT2: int2,
}

# onnxruntime's names, used in NodeArg.type ('tensor(float)') and error messages.
ONNX_TYPE_NAMES = {
    FLOAT: "float",
    UINT8: "uint8",
    INT8: "int8",
    UINT16: "uint16",
    INT16: "int16",
    INT32: "int32",
    INT64: "int64",
    STRING: "string",
    BOOL: "bool",
    FLOAT16: "float16",
    DOUBLE: "double",
    UINT32: "uint32",
    UINT64: "uint64",
    COMPLEX64: "complex64",
    COMPLEX128: "complex128",
    BFLOAT16: "bfloat16",
    FLOAT8E4M3FN: "float8e4m3fn",
    FLOAT8E4M3FNUZ: "float8e4m3fnuz",
    FLOAT8E5M2: "float8e5m2",
    FLOAT8E5M2FNUZ: "float8e5m2fnuz",
    UINT4: "uint4",
    INT4: "int4",
    FLOAT4E2M1: "float4e2m1",
    FLOAT8E8M0: "float8e8m0",
    UINT2: "uint2",
    INT2: "int2",
    FLOAT6E2M3: "float6e2m3",
    FLOAT6E3M2: "float6e3m2",
}

# Strings are held as numpy object arrays of Python str, as onnxruntime returns them.
_TO_NUMPY = {
    FLOAT: np.dtype(np.float32),
    UINT8: np.dtype(np.uint8),
    INT8: np.dtype(np.int8),
    UINT16: np.dtype(np.uint16),
    INT16: np.dtype(np.int16),
    INT32: np.dtype(np.int32),
    INT64: np.dtype(np.int64),
    STRING: np.dtype(object),
    BOOL: np.dtype(np.bool_),
    FLOAT16: np.dtype(np.float16),
    DOUBLE: np.dtype(np.float64),
    UINT32: np.dtype(np.uint32),
    UINT64: np.dtype(np.uint64),
    COMPLEX64: np.dtype(np.complex64),
    COMPLEX128: np.dtype(np.complex128),
    **LOWPREC,
}
_FROM_NUMPY = {v: k for k, v in _TO_NUMPY.items()}


def type_name(elem_type: int) -> str:
    """onnxruntime's short name of an ONNX element type ('float', 'int64' ...)."""
    return ONNX_TYPE_NAMES.get(elem_type, f"<unknown element type {elem_type}>")


def to_numpy(elem_type: int) -> np.dtype:
    """The numpy dtype holding an ONNX element type; raises for types numpy lacks."""
    try:
        return _TO_NUMPY[elem_type]
    except KeyError:
        raise NotImplementedErr(
            f"element type {type_name(elem_type)} ({elem_type}) has no numpy "
            "equivalent and is not supported by wasm_rt"
        ) from None


def from_numpy(dtype) -> int:
    """The ONNX element type of a numpy dtype ('<U' strings map to STRING)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "US":
        return STRING
    try:
        return _FROM_NUMPY[dtype]
    except KeyError:
        raise NotImplementedErr(f"numpy dtype {dtype} has no ONNX element type") from None


def numpy_type_string(dtype) -> str:
    """onnxruntime's 'tensor(...)' string for a numpy dtype."""
    return f"tensor({type_name(from_numpy(dtype))})"


def from_numpy_or_none(dtype) -> int | None:
    """Like :func:`from_numpy` but None for dtypes without an ONNX type."""
    try:
        return from_numpy(dtype)
    except NotImplementedErr:
        return None


def is_lowprec(dtype) -> bool:
    """True for wasm_rt's structured low-precision dtypes (bfloat16, float8 ...)."""
    if not isinstance(dtype, np.dtype) or dtype.names is None:
        return False
    return dtype in _LOWPREC_SET


_LOWPREC_SET = frozenset(LOWPREC.values())


def bits_dtype(dtype) -> np.dtype:
    """The plain numpy dtype of a low-precision dtype's field (uint16/uint8/int8)."""
    return dtype.fields[dtype.names[0]][0]
