"""Cast, CastLike and Identity, including conversions to and from strings.

Strings are numpy object arrays of Python str, as onnxruntime returns them.
Numeric casts follow C semantics the way onnxruntime does: float -> int
truncates, int -> narrower int wraps, float -> float16 overflows to inf.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import NotImplemented as NotImplementedErr
from ..registry import register

# Cast-1 named the target type with a string ("FLOAT") instead of an enum.
_LEGACY_TYPE_NAMES = {name.upper(): num for num, name in dtypes.ONNX_TYPE_NAMES.items()}
_LEGACY_TYPE_NAMES["FLOAT"] = dtypes.FLOAT
_LEGACY_TYPE_NAMES["DOUBLE"] = dtypes.DOUBLE


def _target_dtype(to) -> np.dtype:
    if isinstance(to, bytes):
        to = to.decode()
    if isinstance(to, str):
        if to.upper() not in _LEGACY_TYPE_NAMES:
            raise ValueError(f"Cast: unknown target type name {to!r}")
        to = _LEGACY_TYPE_NAMES[to.upper()]
    try:
        return dtypes.to_numpy(int(to))
    except NotImplementedErr:
        raise NotImplementedErr(
            f"Cast to {dtypes.type_name(int(to))} is not supported: numpy has no "
            "such dtype, so wasm_rt cannot hold the result; cast to float16, "
            "float32 or an integer type instead"
        ) from None


def _float_to_strings(flat: np.ndarray) -> np.ndarray:
    """onnxruntime's text for floats: printf '%.8g' for every float width."""
    out = np.empty(flat.shape, dtype=object)
    finite = np.isfinite(flat)
    out[finite] = np.char.mod("%.8g", flat[finite].astype(np.float64)).astype(object)
    out[np.isnan(flat)] = "NaN"
    out[np.isposinf(flat)] = "INF"
    out[np.isneginf(flat)] = "-INF"
    return out


def _to_strings(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(-1)
    if x.dtype == object:
        out = flat.copy()
    elif x.dtype.kind == "f":
        out = _float_to_strings(flat)
    elif x.dtype == np.bool_:
        out = np.where(flat, "1", "0").astype(object)
    else:
        out = flat.astype(str).astype(object)
    return out.reshape(x.shape)


def _from_strings(x: np.ndarray, target: np.dtype) -> np.ndarray:
    text = x.astype(str)
    if target.kind == "f":
        return text.astype(target)
    try:
        return text.astype(target)
    except ValueError:
        # onnxruntime parses integers like strtoll; '1.5' becomes 1.
        return text.astype(np.float64).astype(target)


def cast_to(x: np.ndarray, target: np.dtype) -> np.ndarray:
    """x converted to ``target`` with onnxruntime's semantics (always a new array)."""
    if target == object:
        return _to_strings(x)
    if x.dtype == object:
        if target == np.bool_:
            return _from_strings(x, np.dtype(np.float64)) != 0
        return _from_strings(x, target)
    with np.errstate(all="ignore"):
        return x.astype(target)


# saturate only affects float8 targets and round_mode only float8e8m0; numpy
# has neither, so both are accepted and have nothing to change.
@register("Cast", since=1)
def cast(x, *, to, saturate=1, round_mode="up"):
    return cast_to(x, _target_dtype(to))


@register("CastLike", since=15)
def cast_like(x, target_type, *, saturate=1, round_mode="up"):
    return cast_to(x, target_type.dtype)


@register("Identity", since=1)
def identity(x):
    # Values are never mutated in place, so sharing the input is safe; this
    # also passes sequences and optionals through untouched (Identity-14+).
    return x
