"""Classic ``ai.onnx.ml`` operators that sklearn-converted models use:
encoders, scalers, linear models and ZipMap.

Behaviour follows onnxruntime where the spec is vague (binary linear
classifiers, Normalizer's zero rows), since that is what converted models are
validated against.  Scores are float32 as the spec types them.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import InvalidArgument
from ..limits import check_alloc
from ..registry import ML_DOMAIN, register

# --------------------------------------------------------------------------
# Post transforms shared with the tree and SVM kernels
# --------------------------------------------------------------------------


def _erf_inv(x: np.ndarray) -> np.ndarray:
    """Winitzki's approximation of erf^-1 in float32, step by step as onnxruntime's
    ``ErfInv<float>`` (its cancellation in ``-v + sqrt(v * v - v2)`` costs digits
    near 0, which float64 would not reproduce). erf^-1(+-1) = +-inf: log(0) = -inf."""
    f = np.float32
    x = np.asarray(x, f)
    sgn = np.where(x < 0, f(-1), f(1))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log = np.log((f(1) - x) * (f(1) + x))
        v = f(2) / (f(np.pi) * f(0.147)) + f(0.5) * log
        v2 = (f(1) / f(0.147)) * log
        return sgn * np.sqrt(-v + np.sqrt(v * v - v2))


def _softmax_zero(s: np.ndarray) -> np.ndarray:
    """onnxruntime's SOFTMAX_ZERO row-wise: values within 1e-7 of zero are scaled by
    exp(-max) instead of exponentiated and are left out of the sum, so a row with
    nothing outside that band divides by 0 (NaN for zeros, +-inf for tiny values),
    as onnxruntime 1.31 gives.
    """
    v_max = s.max(axis=1, keepdims=True)
    band = np.abs(s) <= np.float32(1e-7)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.where(band, s * np.exp(-v_max), np.exp(s - v_max))
        total = np.where(band, 0, e).sum(axis=1, keepdims=True)
        return e / total


def post_transform_scores(scores: np.ndarray, post_transform: str) -> np.ndarray:
    """Apply an ML post transform row-wise to an (N, classes) float array."""
    s = scores.astype(np.float32, copy=False)
    with np.errstate(over="ignore"):
        if post_transform == "NONE":
            return s
        if post_transform == "LOGISTIC":
            return (1.0 / (1.0 + np.exp(-s))).astype(np.float32)
        if post_transform == "SOFTMAX":
            e = np.exp(s - s.max(axis=1, keepdims=True))
            return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        if post_transform == "SOFTMAX_ZERO":
            return _softmax_zero(s).astype(np.float32)
        if post_transform == "PROBIT":
            return np.float32(np.sqrt(2)) * _erf_inv(s * np.float32(2) - np.float32(1))
    raise ValueError(
        f"unknown post_transform {post_transform!r}: expected NONE, LOGISTIC, SOFTMAX, "
        "SOFTMAX_ZERO or PROBIT"
    )


def as_matrix(x: np.ndarray, what: str, dtype=np.float32) -> np.ndarray:
    """A 1-D input is one sample; 2-D is (samples, features)."""
    x = np.asarray(x)
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.ndim != 2:
        raise ValueError(f"{what}: expected a 1-D or 2-D input, got shape {x.shape}")
    return x.astype(dtype, copy=False)


def class_labels(ints, strings, what: str) -> np.ndarray:
    if ints and strings:
        raise ValueError(f"{what}: give classlabels as ints or as strings, not both")
    if strings:
        return np.asarray(strings, dtype=object)
    return np.asarray(ints or [], dtype=np.int64)


# --------------------------------------------------------------------------
# Lookups and encoders
# --------------------------------------------------------------------------


def _lookup(x: np.ndarray, keys: np.ndarray, values: np.ndarray, default) -> np.ndarray:
    """values[position of x in keys], or ``default`` where x is not a key."""
    flat = x.reshape(-1)
    out = np.empty(flat.shape, dtype=values.dtype)
    out[...] = default
    if len(keys):
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        pos = np.searchsorted(sorted_keys, flat).clip(0, len(keys) - 1)
        hit = sorted_keys[pos] == flat
        if keys.dtype.kind == "f":  # NaN keys match NaN inputs
            nan_keys = np.flatnonzero(np.isnan(keys))
            if len(nan_keys):
                is_nan = np.isnan(flat)
                out[is_nan] = values[nan_keys[0]]
        out[hit] = values[order[pos[hit]]]
    return out.reshape(x.shape)


def _keys_like(x: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if keys.dtype == object or x.dtype == object:
        return keys.astype(object), x.astype(object)
    return keys, x.astype(
        keys.dtype, copy=False
    ) if keys.dtype.kind == x.dtype.kind else x


@register("LabelEncoder", since=1, domain=ML_DOMAIN)
def label_encoder_1(
    x, *, classes_strings=None, default_int64=-1, default_string="_Unused"
):
    """Strings -> their index in ``classes_strings``, or int64 indices -> strings."""
    classes = np.asarray(classes_strings or [], dtype=object)
    if x.dtype == object or x.dtype.kind in "US":
        idx = np.arange(len(classes), dtype=np.int64)
        return _lookup(x.astype(object), classes, idx, default_int64)
    flat = np.asarray(x, dtype=np.int64)
    ok = (flat >= 0) & (flat < len(classes))
    out = np.full(flat.shape, default_string, dtype=object)
    out[ok] = classes[flat[ok]]
    return out


@register("LabelEncoder", since=2, domain=ML_DOMAIN)
def label_encoder(
    x,
    *,
    keys_floats=None,
    keys_int64s=None,
    keys_strings=None,
    keys_tensor=None,
    values_floats=None,
    values_int64s=None,
    values_strings=None,
    values_tensor=None,
    default_float=-0.0,
    default_int64=-1,
    default_string="_Unused",
    default_tensor=None,
):
    """Map each element through the keys -> values table (opset 2 lists, opset 4 tensors)."""
    keys = [
        k
        for k in (keys_floats, keys_int64s, keys_strings, keys_tensor)
        if k is not None
    ]
    vals = [
        v
        for v in (values_floats, values_int64s, values_strings, values_tensor)
        if v is not None
    ]
    if len(keys) != 1 or len(vals) != 1:
        raise ValueError(
            "LabelEncoder: exactly one keys_* and one values_* attribute are needed"
        )
    if keys_floats is not None:
        k = np.asarray(keys_floats, dtype=np.float32)
    elif keys_int64s is not None:
        k = np.asarray(keys_int64s, dtype=np.int64)
    elif keys_strings is not None:
        k = np.asarray(keys_strings, dtype=object)
    else:
        k = np.asarray(keys_tensor).reshape(-1)
    if values_floats is not None:
        v, default = np.asarray(values_floats, dtype=np.float32), default_float
    elif values_int64s is not None:
        v, default = np.asarray(values_int64s, dtype=np.int64), default_int64
    elif values_strings is not None:
        v, default = np.asarray(values_strings, dtype=object), default_string
    else:
        v = np.asarray(values_tensor).reshape(-1)
        if default_tensor is not None:
            default = np.asarray(default_tensor).reshape(-1)[0]
        else:
            default = (
                "_Unused"
                if v.dtype == object
                else (-1 if v.dtype.kind in "iu" else -0.0)
            )
    if len(k) != len(v):
        raise ValueError(f"LabelEncoder: {len(k)} keys but {len(v)} values")
    k, x = _keys_like(np.asarray(x), k)
    return _lookup(x, k, v, default)


@register("ArrayFeatureExtractor", since=1, domain=ML_DOMAIN)
def array_feature_extractor(x, y):
    """Select columns ``y`` of the last axis; a 1-D input gives a (1, k) result."""
    idx = np.asarray(y, dtype=np.int64).reshape(-1)
    dim = x.shape[-1]
    if idx.size and (idx.min() < 0 or idx.max() >= dim):
        raise ValueError(
            f"ArrayFeatureExtractor: index out of range for a last dimension of {dim}: "
            f"{idx.min()}..{idx.max()}"
        )
    out = np.take(x, idx.astype(np.intp), axis=-1)
    return out.reshape(1, -1) if x.ndim == 1 else out


@register("Binarizer", since=1, domain=ML_DOMAIN)
def binarizer(x, *, threshold=0.0):
    return (x > x.dtype.type(threshold)).astype(x.dtype)


@register("OneHotEncoder", since=1, domain=ML_DOMAIN)
def one_hot_encoder(x, *, cats_int64s=None, cats_strings=None, zeros=1):
    """Append a category axis with a one at each element's category index."""
    if cats_strings:
        cats = np.asarray(cats_strings, dtype=object)
        vals = np.asarray(x).astype(object)
    elif cats_int64s:
        cats = np.asarray(cats_int64s, dtype=np.int64)
        vals = np.asarray(x).astype(np.int64)
    else:
        raise ValueError("OneHotEncoder: cats_int64s or cats_strings is required")
    idx = _lookup(vals, cats, np.arange(len(cats), dtype=np.int64), -1)
    if not zeros and (idx < 0).any():
        raise ValueError(
            "OneHotEncoder: an input value is not among the categories (zeros=0)"
        )
    check_alloc(idx.shape + (len(cats),), np.float32, "OneHotEncoder output")
    return (idx[..., None] == np.arange(len(cats))).astype(np.float32)


@register("Imputer", since=1, domain=ML_DOMAIN)
def imputer(
    x,
    *,
    imputed_value_floats=None,
    imputed_value_int64s=None,
    replaced_value_float=0.0,
    replaced_value_int64=0,
):
    """Replace ``replaced_value_*`` (NaN allowed) with a per-feature imputed value."""
    if x.dtype.kind == "f":
        values, missing = imputed_value_floats, replaced_value_float
    else:
        values, missing = imputed_value_int64s, replaced_value_int64
    if not values:
        raise ValueError(f"Imputer: no imputed values for a {x.dtype} input")
    fill = np.asarray(values).astype(x.dtype)
    if fill.size not in (1, x.shape[-1]):
        raise ValueError(
            f"Imputer: {fill.size} imputed values for {x.shape[-1]} features (need 1 or one each)"
        )
    hit = np.isnan(x) if x.dtype.kind == "f" and np.isnan(missing) else x == missing
    return np.where(hit, fill, x)


# --------------------------------------------------------------------------
# Scaling and linear models
# --------------------------------------------------------------------------


@register("Normalizer", since=1, domain=ML_DOMAIN)
def normalizer(x, *, norm="MAX"):
    """Row-normalize by the max, L1 or L2 norm; rows whose norm is 0 pass through."""
    x2 = as_matrix(x, "Normalizer")
    if norm == "MAX":
        d = x2.max(axis=1, keepdims=True)
    elif norm == "L1":
        d = np.abs(x2).sum(axis=1, keepdims=True)
    elif norm == "L2":
        d = np.sqrt(np.square(x2).sum(axis=1, keepdims=True))
    else:
        raise ValueError(f"Normalizer: norm must be MAX, L1 or L2, got {norm!r}")
    out = x2 / np.where(d == 0, np.float32(1), d)
    return out.reshape(np.shape(x))


@register("Scaler", since=1, domain=ML_DOMAIN)
def scaler(x, *, offset=None, scale=None):
    """``(x - offset) * scale`` per feature (one value broadcasts)."""
    off = np.asarray(offset if offset else [0.0], dtype=np.float32)
    sc = np.asarray(scale if scale else [1.0], dtype=np.float32)
    xf = np.asarray(x).astype(np.float32)
    for name, p in (("offset", off), ("scale", sc)):
        if p.size not in (1, xf.shape[-1]):
            raise ValueError(
                f"Scaler: {p.size} {name} values for {xf.shape[-1]} features"
            )
    return (xf - off) * sc


def _linear_scores(x, coefficients, intercepts, n_out: int, what: str) -> np.ndarray:
    xf = as_matrix(x, what)
    coef = np.asarray(coefficients, dtype=np.float32)
    if n_out <= 0 or coef.size != n_out * xf.shape[1]:
        raise ValueError(
            f"{what}: {coef.size} coefficients do not make {n_out} rows of "
            f"{xf.shape[1]} features"
        )
    scores = xf @ coef.reshape(n_out, -1).T
    if intercepts:
        scores = scores + np.asarray(intercepts, dtype=np.float32)
    return scores


@register("LinearRegressor", since=1, domain=ML_DOMAIN)
def linear_regressor(
    x, *, coefficients=None, intercepts=None, targets=1, post_transform="NONE"
):
    scores = _linear_scores(x, coefficients, intercepts, targets, "LinearRegressor")
    return post_transform_scores(scores, post_transform)


@register("LinearClassifier", since=1, domain=ML_DOMAIN)
def linear_classifier(
    x,
    *,
    coefficients,
    classlabels_ints=None,
    classlabels_strings=None,
    intercepts=None,
    multi_class=0,
    post_transform="NONE",
):
    """Labels and per-class scores of a linear model.

    One coefficient row with two labels is a binary model: the label is the
    second one where the raw score s is positive, and the scores are
    ``[1 - s, s]`` (``[1 - p, p]`` with p = sigmoid(s) under LOGISTIC), as
    onnxruntime writes them; other transforms do not apply to that case.
    """
    del multi_class  # onnxruntime ignores it too
    labels = class_labels(classlabels_ints, classlabels_strings, "LinearClassifier")
    n_rows = (
        len(intercepts)
        if intercepts
        else len(coefficients) // as_matrix(x, "").shape[1]
    )
    scores = _linear_scores(x, coefficients, intercepts, n_rows, "LinearClassifier")
    if n_rows == 1:
        if len(labels) != 2:
            raise ValueError(
                f"LinearClassifier: one coefficient row is a binary model and needs exactly "
                f"2 class labels, got {len(labels)}"
            )
        raw = scores[:, 0]
        y = np.where(raw > 0, labels[1], labels[0]).astype(labels.dtype)
        if post_transform == "LOGISTIC":
            raw = post_transform_scores(raw[:, None], "LOGISTIC")[:, 0]
        elif post_transform != "NONE":
            # onnxruntime leaves the other transforms out of the one-score case.
            post_transform = "NONE"
        return y, np.stack([1 - raw, raw], axis=1).astype(np.float32)
    y = labels[np.argmax(scores, axis=1)] if len(labels) else np.argmax(scores, axis=1)
    return y, post_transform_scores(scores, post_transform)


@register("ZipMap", since=1, domain=ML_DOMAIN)
def zipmap(x, *, classlabels_int64s=None, classlabels_strings=None):
    """A sequence of {label: score} maps, one per row."""
    labels = class_labels(classlabels_int64s, classlabels_strings, "ZipMap")
    x2 = as_matrix(x, "ZipMap")
    if x2.shape[1] != len(labels):
        raise ValueError(
            f"ZipMap: {x2.shape[1]} scores per row for {len(labels)} labels"
        )
    keys = labels.tolist()
    return [dict(zip(keys, row)) for row in x2.tolist()]


@register("CategoryMapper", since=1, domain=ML_DOMAIN)
def category_mapper(
    x,
    *,
    cats_int64s=None,
    cats_strings=None,
    default_int64=-1,
    default_string="_Unused",
):
    """Strings -> int64 ids or int64 ids -> strings through two parallel lists."""
    ints = np.asarray(cats_int64s or [], np.int64)
    strings = np.asarray(cats_strings or [], object)
    if len(ints) != len(strings):
        raise ValueError(
            f"CategoryMapper: {len(ints)} cats_int64s for {len(strings)} cats_strings"
        )
    if x.dtype == object:
        return _lookup(x, strings, ints, default_int64)
    return _lookup(x.astype(np.int64, copy=False), ints, strings, default_string)


@register("FeatureVectorizer", since=1, domain=ML_DOMAIN)
def feature_vectorizer(*inputs, inputdimensions=None):
    """Concatenate the inputs' rows as float32, each cut or zero-padded to its
    ``inputdimensions`` entry (a 1-D input is one row)."""
    dims = list(inputdimensions or [])
    if len(dims) != len(inputs):
        raise ValueError(
            f"FeatureVectorizer: {len(inputs)} inputs for {len(dims)} inputdimensions"
        )
    rows = [np.asarray(v).reshape(1, -1) if np.ndim(v) < 2 else v for v in inputs]
    n = rows[0].shape[0] if rows else 0
    check_alloc((n, sum(dims)), np.float32, "FeatureVectorizer output")
    parts = []
    for v, d in zip(rows, dims):
        if v.shape[0] != n:
            raise ValueError(
                f"FeatureVectorizer: inputs have {v.shape[0]} and {n} rows"
            )
        v = v.reshape(n, -1)[:, :d].astype(np.float32)
        parts.append(np.pad(v, ((0, 0), (0, d - v.shape[1]))))
    return np.concatenate(parts, axis=1) if parts else np.zeros((0, 0), np.float32)


# --------------------------------------------------------------------------
# Map inputs: DictVectorizer, CastMap
# --------------------------------------------------------------------------
# A map arrives as a Python dict (what onnxruntime's Python API takes too). Fed as
# a graph input it is a maps.MapValue, converted to the declared types and carrying
# its value dtype (also when empty). Otherwise the value type is read from the
# values: numpy scalars keep their dtype, Python str/int/float are
# string/int64/float32.


def _map_input(m, op: str) -> dict:
    if not isinstance(m, dict):
        raise InvalidArgument(
            f"{op}: the input must be a map (dict), got {type(m).__name__}"
        )
    return m


def _map_value_dtype(m: dict, op: str) -> np.dtype:
    dt = getattr(m, "value_dtype", None)
    if dt is None:
        dt = _inferred_value_dtype(list(m.values()), op)
    if dt not in (np.dtype(object), np.dtype(np.int64), np.dtype(np.float32),
                  np.dtype(np.float64)):  # fmt: skip
        raise InvalidArgument(f"{op}: map values of type {dt} are not supported")
    return dt


def _inferred_value_dtype(values: list, op: str) -> np.dtype:
    kinds = set()
    for v in values:
        if isinstance(v, str):
            kinds.add(np.dtype(object))
        elif isinstance(v, np.generic):
            kinds.add(v.dtype)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InvalidArgument(
                f"{op}: map values must be strings or numbers, got {type(v).__name__}"
            )
        else:
            kinds.add(np.dtype(np.int64 if isinstance(v, int) else np.float32))
    if len(kinds) != 1:
        raise InvalidArgument(
            f"{op}: map values must all have one type, got {sorted(map(str, kinds))}"
            if kinds
            else f"{op}: an empty map has no value type to vectorize to"
        )
    return kinds.pop()


def _check_keys(keys, want_str: bool, op: str) -> None:
    bad = [k for k in keys if isinstance(k, str) != want_str or isinstance(k, bool)]
    if bad or not all(isinstance(k, (str, int, np.integer)) for k in keys):
        raise InvalidArgument(
            f"{op}: map keys must be {'strings' if want_str else 'int64'}, got "
            f"{type((bad or list(keys))[0]).__name__}"
        )


@register("DictVectorizer", since=1, domain=ML_DOMAIN)
def dict_vectorizer(x, *, int64_vocabulary=None, string_vocabulary=None):
    """[1, len(vocabulary)]: the map's value for each vocabulary entry, 0 (or "")
    where the map lacks it; keys outside the vocabulary are ignored."""
    op = "DictVectorizer"
    if bool(int64_vocabulary) == bool(string_vocabulary):
        raise InvalidArgument(
            f"{op}: exactly one of string_vocabulary and int64_vocabulary is required"
        )
    m = _map_input(x, op)
    vocab = list(string_vocabulary or int64_vocabulary)
    _check_keys(m.keys(), bool(string_vocabulary), op)
    dt = _map_value_dtype(m, op)
    if string_vocabulary and dt == np.dtype(object):
        raise InvalidArgument(
            f"{op}: map(string, string) is not a DictVectorizer input"
        )
    check_alloc((1, len(vocab)), dt, f"{op} output")
    table = {int(k) if not isinstance(k, str) else k: v for k, v in m.items()}
    missing = "" if dt == np.dtype(object) else 0
    return np.array([[table.get(k, missing) for k in vocab]], dtype=dt)


# std::stof / std::stoll (onnxruntime's casts): leading blanks, then the
# longest prefix strtof / strtoll (base 10) accept; anything else is an error.
_STOF = re.compile(
    r"\s*([+-]?(?:inf(?:inity)?|nan(?:\([0-9a-z_]*\))?|0x(?:[0-9a-f]+\.?[0-9a-f]*|"
    r"\.[0-9a-f]+)(?:p[+-]?\d+)?|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?))",
    re.IGNORECASE,
)
_STOLL = re.compile(r"\s*([+-]?\d+)")


def _stof(s: str, op: str) -> np.float32:
    m = _STOF.match(s)
    if not m:
        raise InvalidArgument(f"{op}: cannot convert {s!r} to float (std::stof)")
    t = m.group(1)
    v = float.fromhex(t) if "x" in t.lower() else float(t.split("(")[0])
    with np.errstate(over="ignore"):
        f = np.float32(v)
    if np.isinf(f) and not np.isinf(v):
        raise InvalidArgument(f"{op}: {s!r} is out of float range (std::stof)")
    return f


def _stoll(s: str, op: str) -> int:
    m = _STOLL.match(s)
    v = int(m.group(1)) if m else None
    if v is None or not -(2**63) <= v < 2**63:
        raise InvalidArgument(f"{op}: cannot convert {s!r} to int64 (std::stoll)")
    return v


def _cast_value(v, to: str, op: str):
    if isinstance(v, str):
        if to == "TO_FLOAT":
            return _stof(v, op)
        return _stoll(v, op) if to == "TO_INT64" else v
    f = np.float32(v)
    if to == "TO_FLOAT":
        return f
    if to == "TO_INT64":
        # static_cast truncates toward zero (x86 gives INT64_MIN for NaN/overflow,
        # and so does numpy's conversion).
        with np.errstate(invalid="ignore"):
            return np.array([f]).astype(np.int64)[0]
    return f"{float(f):f}"  # std::to_string(float) is printf's %f


@register("CastMap", since=1, domain=ML_DOMAIN)
def cast_map(x, *, cast_to="TO_FLOAT", map_form="DENSE", max_map=1):
    """map(int64, string|float) -> [1, N]: DENSE lists the values in key order,
    SPARSE puts the value of key k at column k (< max_map) and pads the rest
    with 0 (TO_STRING: "0.f", as onnxruntime writes it)."""
    op = "CastMap"
    kinds = {"TO_FLOAT": np.float32, "TO_INT64": np.int64, "TO_STRING": object}
    if cast_to not in kinds:
        raise InvalidArgument(
            f"{op}: cast_to must be TO_FLOAT, TO_STRING or TO_INT64, got {cast_to!r}"
        )
    if map_form not in ("DENSE", "SPARSE"):
        raise InvalidArgument(
            f"{op}: map_form must be DENSE or SPARSE, got {map_form!r}"
        )
    if map_form == "SPARSE" and max_map <= 0:
        raise InvalidArgument(
            f"{op}: max_map must be > 0 with map_form SPARSE, got {max_map}"
        )
    m = _map_input(x, op)
    _check_keys(m.keys(), False, op)
    if m:
        dt = _map_value_dtype(m, op)
        if dt not in (np.dtype(object), np.dtype(np.float32)):
            raise InvalidArgument(f"{op}: map values must be string or float, got {dt}")
    items = sorted((int(k), v) for k, v in m.items())
    if map_form == "DENSE":
        out = [_cast_value(v, cast_to, op) for _, v in items]
    else:
        if items and items[0][0] < 0:
            raise InvalidArgument(f"{op}: negative map key {items[0][0]} with SPARSE")
        check_alloc((1, max_map), np.dtype(kinds[cast_to]), f"{op} output")
        pad = {"TO_FLOAT": np.float32(0), "TO_INT64": 0, "TO_STRING": "0.f"}[cast_to]
        out = [pad] * max_map
        for k, v in items:
            if k < max_map:
                out[k] = _cast_value(v, cast_to, op)
    return np.array([out], dtype=kinds[cast_to]).reshape(1, len(out))
