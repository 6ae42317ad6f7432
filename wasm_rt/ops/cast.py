"""Cast, CastLike and Identity, including conversions to and from strings.

Strings are numpy object arrays of Python str, as onnxruntime returns them.
Numeric casts follow C semantics the way onnxruntime does: float -> int
truncates, int -> narrower int wraps, float -> float16 overflows to inf.
The low-precision types (bfloat16, float8*, float4e2m1, int4/uint4, int2/uint2,
float8e8m0; structured dtypes, see wasm_rt.dtypes) convert through
wasm_rt.lowprec, bit-exact with ONNX's reference: to them rounding to nearest
even with ``saturate`` (float8) and ``round_mode`` (float8e8m0), from them
through float32, which holds every one of their values exactly.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes, lowprec
from ..errors import NotImplemented as NotImplementedErr
from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import T, type_of_code, unary

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
            f"Cast to {dtypes.type_name(int(to))} ({int(to)}) is not supported by "
            "wasm_rt"
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
    if dtypes.is_lowprec(x.dtype):
        # int4/uint4/int2/uint2 print as integers, the float types as floats.
        is_int = x.dtype in (dtypes.int4, dtypes.uint4, dtypes.int2, dtypes.uint2)
        x = lowprec.bits(x) if is_int else lowprec.to_float32(x)
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


def cast_to(
    x: np.ndarray, target: np.dtype, saturate: int = 1, round_mode: str = "up"
) -> np.ndarray:
    """x converted to ``target`` with onnxruntime's semantics (always a new array).

    ``saturate`` only affects float8 targets, ``round_mode`` only float8e8m0.
    """
    if target == object:
        return _to_strings(x)
    if x.dtype == object:
        if target == np.bool_:
            return _from_strings(x, np.dtype(np.float64)) != 0
        if dtypes.is_lowprec(target):
            x = _from_strings(x, np.dtype(np.float32))
        else:
            return _from_strings(x, target)
    if dtypes.is_lowprec(x.dtype) or dtypes.is_lowprec(target):
        if target == np.bool_:
            return lowprec.convert(x, np.dtype(np.float32)) != 0
        return lowprec.convert(x, target, bool(saturate), round_mode)
    with np.errstate(all="ignore"):
        return x.astype(target)


def _check_round_mode(round_mode):
    if round_mode not in ("up", "down", "nearest"):
        raise ValueError(
            f"round_mode must be 'up', 'down' or 'nearest', got {round_mode!r}"
        )


@register("Cast", since=1)
def cast(x, *, to, saturate=1, round_mode="up"):
    _check_round_mode(round_mode)
    return cast_to(x, _target_dtype(to), saturate, round_mode)


@register("CastLike", since=15)
def cast_like(x, target_type, *, saturate=1, round_mode="up"):
    _check_round_mode(round_mode)
    return cast_to(x, target_type.dtype, saturate, round_mode)


@register("Identity", since=1)
def identity(x):
    # Values are never mutated in place, so sharing the input is safe; this
    # also passes sequences and optionals through untouched (Identity-14+).
    return x


# --- shape rules -----------------------------------------------------------


shape_rule(("Identity",))(unary)


@shape_rule("Cast")
def _cast_shape(ctx: RuleContext):
    elem = type_of_code(ctx.attr("to"))
    v = ctx.value(0)
    if v is not None and elem.startswith(("int", "uint")):
        ctx.set_value(0, v)
    return T(elem, ctx.shape(0))


@shape_rule("CastLike")
def _cast_like_shape(ctx: RuleContext):
    return T(ctx.elem(1), ctx.shape(0))
