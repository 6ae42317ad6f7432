"""ONNX element types, their numpy equivalents and onnxruntime's type strings."""

from __future__ import annotations

import numpy as np

from .errors import NotImplemented as NotImplementedErr

# TensorProto.DataType numbers, from the ONNX IR specification.
UNDEFINED, FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL = range(10)
FLOAT16, DOUBLE, UINT32, UINT64, COMPLEX64, COMPLEX128, BFLOAT16 = range(10, 17)
FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ, UINT4, INT4 = range(17, 23)
FLOAT4E2M1 = 23

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
