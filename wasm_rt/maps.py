"""Map feeds (ONNX ``map(K, V)`` graph inputs, e.g. DictVectorizer's and CastMap's).

A map arrives as a Python dict, as onnxruntime's Python API takes it. The session
converts it to the declared types before any kernel reads it: string keys stay
``str``, integer keys become ``int`` (range-checked), values become numpy scalars of
the declared element type (``str`` for strings). onnxruntime's binding converts the
same way (a Python int or bool fed to map(string, float) is a float) and refuses keys
or values of another kind. The result is a :class:`MapValue`, which also carries the
value dtype, so an empty map still has one.
"""

from __future__ import annotations

import re

import numpy as np

from .errors import InvalidArgument

_TYPE = re.compile(r"map\((\w+),tensor\((\w+)\)\)$")
_INT_KEYS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
_VALUES = {
    "string": np.dtype(object),
    "float": np.dtype(np.float32),
    "double": np.dtype(np.float64),
    "int64": np.dtype(np.int64),
    "int32": np.dtype(np.int32),
    "bool": np.dtype(np.bool_),
}


class MapValue(dict):
    """A map feed with keys and values converted to its declared types."""

    __slots__ = ("key_type", "value_dtype")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _key(k, key_type: str):
    if key_type == "string":
        return str(k) if isinstance(k, str) else None
    if not _is_int(k):
        return None
    info = np.iinfo(np.dtype(key_type))
    return int(k) if info.min <= int(k) <= info.max else None


def _value(v, dt: np.dtype):
    if dt == np.dtype(object):
        return str(v) if isinstance(v, str) else None
    if isinstance(v, (str, bytes)) or not isinstance(v, (int, float, np.number, np.bool_)):
        return None
    if dt.kind == "f":
        with np.errstate(over="ignore"):
            return dt.type(v)  # float rounding / overflow to inf, as a C++ cast
    if dt.kind == "b":
        return np.bool_(v) if isinstance(v, (bool, np.bool_)) else None
    if isinstance(v, (bool, np.bool_)) or _is_int(v):
        info = np.iinfo(dt)
        return dt.type(v) if info.min <= int(v) <= info.max else None
    return None  # a float for an integer map


def convert_map(value, name: str, type_string: str):
    """``value`` (a dict) as the declared ``map(K, tensor(V))``; other declared map
    types (values that are not tensors) pass through for the kernels to check."""
    parsed = _TYPE.match(type_string)
    if parsed is None or (parsed[1] not in _INT_KEYS and parsed[1] != "string"):
        return value
    if parsed[2] not in _VALUES:
        return value
    if not isinstance(value, dict):
        raise InvalidArgument(
            f"input '{name}': expected {type_string} (a dict), got {type(value).__name__}"
        )
    key_type, dt = parsed[1], _VALUES[parsed[2]]
    out = MapValue()
    out.key_type, out.value_dtype = key_type, dt
    for k, v in value.items():
        ck, cv = _key(k, key_type), _value(v, dt)
        if ck is None or cv is None:
            what = f"key {k!r} ({type(k).__name__})" if ck is None else (
                f"value {v!r} ({type(v).__name__}) for key {k!r}")  # fmt: skip
            raise InvalidArgument(
                f"input '{name}': expected {type_string}, got {what} that does not "
                f"fit {key_type if ck is None else parsed[2]}"
            )
        out[ck] = cv
    return out
