"""String kernels; string tensors are numpy object arrays of ``str``.

numpy has no vectorised regex or split over object arrays, so these kernels
go through ``np.char`` where it exists and ``np.frompyfunc`` otherwise.
"""

from __future__ import annotations

import numpy as np

from .. import errors
from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import INT64, T, broadcast_shapes
from ._re2 import RegexError, RegexUnsupported, compile_regex


def _to_object(a) -> np.ndarray:
    out = np.empty(np.shape(a), dtype=object)
    out[...] = a
    return out


def _check_strings(x, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != object and x.dtype.kind not in "US":
        raise ValueError(f"{what}: expected a string tensor, got {x.dtype}")
    return x


@register("StringNormalizer", since=10)
def string_normalizer(
    x, *, case_change_action="NONE", is_case_sensitive=0, locale="", stopwords=None
):
    x = _check_strings(x, "StringNormalizer")
    if x.ndim == 2 and x.shape[0] == 1:
        words, two_d = x.reshape(-1), True
    elif x.ndim == 1:
        words, two_d = x, False
    else:
        raise ValueError(
            f"StringNormalizer: input must be [C] or [1, C], got {x.shape}"
        )
    words = words.astype(str)
    if stopwords:
        if is_case_sensitive:
            keep = ~np.isin(words, np.array(stopwords, dtype=str))
        else:
            stops = np.char.lower(np.array(stopwords, dtype=str))
            keep = ~np.isin(np.char.lower(words), stops)
        words = words[keep]
    if case_change_action == "LOWER":
        words = np.char.lower(words)
    elif case_change_action == "UPPER":
        words = np.char.upper(words)
    elif case_change_action != "NONE":
        raise ValueError(
            f"StringNormalizer: case_change_action must be NONE, LOWER or UPPER, "
            f"got {case_change_action!r}"
        )
    # An all-stopword input still yields one (empty) string, as the spec requires.
    out = _to_object(words.tolist() if words.size else [""])
    return out.reshape(1, -1) if two_d else out


@register("RegexFullMatch", since=20)
def regex_full_match(x, *, pattern=""):
    x = _check_strings(x, "RegexFullMatch")
    # RE2 syntax matched in linear time (not Python's backtracking re: a hostile
    # pattern/text pair must not take exponential time).
    try:
        regex = compile_regex(pattern)
    except RegexUnsupported as e:
        raise errors.NotImplemented(f"RegexFullMatch: {e}") from None
    except RegexError as e:
        raise errors.InvalidArgument(f"RegexFullMatch: invalid RE2 pattern: {e}") from None
    match = np.frompyfunc(lambda s: regex.fullmatch(s), 1, 1)
    return match(x.astype(object)).astype(bool).reshape(x.shape)


@register("StringConcat", since=20)
def string_concat(x, y):
    x, y = _check_strings(x, "StringConcat"), _check_strings(y, "StringConcat")
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(
            f"StringConcat: shapes {x.shape} and {y.shape} do not broadcast"
        ) from None
    # Object-array "+" concatenates str elementwise and keeps trailing whitespace/NULs.
    return _to_object(np.broadcast_to(x, shape) + np.broadcast_to(y, shape)).reshape(
        shape
    )


@register("StringSplit", since=20)
def string_split(x, *, delimiter=None, maxsplit=None):
    x = _check_strings(x, "StringSplit")
    sep = delimiter or None  # an empty delimiter means "split on runs of whitespace"
    limit = -1 if maxsplit is None else int(maxsplit)
    # An empty string has no pieces (onnxruntime), not one empty piece (str.split).
    parts = np.frompyfunc(lambda s: s.split(sep, limit) if s else [], 1, 1)(
        x.astype(object)
    )
    parts = np.asarray(parts, dtype=object).reshape(x.shape)
    counts = np.frompyfunc(len, 1, 1)(parts).astype(np.int64).reshape(x.shape)
    width = int(counts.max(initial=0))
    # One long string pads every row to its piece count: check before allocating.
    check_alloc(x.shape + (width,), object, "StringSplit output")
    out = np.full(x.shape + (width,), "", dtype=object)
    if width:
        # Scatter every piece to (element, position) in one assignment.
        flat_parts = [p for row in parts.reshape(-1) for p in row]
        n = counts.reshape(-1).astype(np.intp)  # np.repeat wants intp (int32 in wasm32)
        rows = np.repeat(np.arange(x.size), n)
        cols = np.arange(rows.size) - np.repeat(np.cumsum(n) - n, n)
        out.reshape(-1, width)[rows, cols] = _to_object(flat_parts)
    return out, counts


# --- shape rules -----------------------------------------------------------


@shape_rule("StringConcat")
def _string_concat_shape(ctx: RuleContext):
    return T("string", broadcast_shapes(ctx.shape(0), ctx.shape(1)))


@shape_rule("RegexFullMatch")
def _regex_shape(ctx: RuleContext):
    return T("bool", ctx.shape(0))


@shape_rule("StringSplit")
def _string_split_shape(ctx: RuleContext):
    x = ctx.shape(0)
    if x is None:
        return [T("string", None), T(INT64, None)]
    return [T("string", tuple(x) + (ctx.fresh(),)), T(INT64, x)]


@shape_rule("StringNormalizer")
def _string_normalizer_shape(ctx: RuleContext):
    x = ctx.shape(0)
    if x is None:
        return T("string", None)
    return T("string", tuple(x[:-1]) + (ctx.fresh(),) if x else ())
