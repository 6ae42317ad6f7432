"""TfIdfVectorizer: counts of pooled (skip-)n-grams per row.

Tokens are first mapped to their position in the pool's vocabulary, so
n-grams become rows of small integers; every candidate n-gram of one size and
skip is gathered at once and matched against the pool with ``np.unique`` on
rows.  The only Python loops are over n-gram sizes and skip distances.
"""

from __future__ import annotations

import numpy as np

from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import T

_MODES = ("TF", "IDF", "TFIDF")


def _pool_by_size(
    pool: np.ndarray, ngram_counts: list[int]
) -> dict[int, tuple[np.ndarray, int]]:
    """Size n -> (pool n-grams as a (count, n) array, id of the first one)."""
    bounds = list(ngram_counts) + [len(pool)]
    by_size, first_id = {}, 0
    for n in range(1, len(ngram_counts) + 1):
        lo, hi = bounds[n - 1], bounds[n]
        if hi < lo or (hi - lo) % n:
            raise ValueError(
                f"TfIdfVectorizer: pool entries {lo}..{hi} of {n}-grams are not a whole "
                f"number of {n}-grams (check ngram_counts {ngram_counts})"
            )
        by_size[n] = (pool[lo:hi].reshape(-1, n), first_id)
        first_id += (hi - lo) // n
    return by_size


def _match_rows(pool_rows: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """For each candidate row, its index in ``pool_rows`` or -1."""
    if not len(pool_rows) or not len(cand):
        return np.full(len(cand), -1, dtype=np.int64)
    _, inverse = np.unique(
        np.concatenate([pool_rows, cand]), axis=0, return_inverse=True
    )
    inverse = inverse.reshape(-1)
    lookup = np.full(inverse.max() + 1, -1, dtype=np.int64)
    lookup[inverse[: len(pool_rows)][::-1]] = np.arange(len(pool_rows))[::-1]
    return lookup[inverse[len(pool_rows) :]]


@register("TfIdfVectorizer", since=9)
def tfidf_vectorizer(
    x,
    *,
    mode,
    min_gram_length,
    max_gram_length,
    max_skip_count,
    ngram_counts,
    ngram_indexes,
    pool_int64s=None,
    pool_strings=None,
    weights=None,
):
    """Y[row, ngram_indexes[i]] = count (TF), presence (IDF) or count * weight (TFIDF)."""
    if mode not in _MODES:
        raise ValueError(f"TfIdfVectorizer: mode must be one of {_MODES}, got {mode!r}")
    if (pool_int64s is None) == (pool_strings is None):
        raise ValueError(
            "TfIdfVectorizer: exactly one of pool_int64s and pool_strings is needed"
        )
    if not 1 <= min_gram_length <= max_gram_length:
        raise ValueError(
            f"TfIdfVectorizer: need 1 <= min_gram_length ({min_gram_length}) <= "
            f"max_gram_length ({max_gram_length})"
        )
    x = np.asarray(x)
    if x.ndim not in (1, 2):
        raise ValueError(
            f"TfIdfVectorizer: input must be 1-D or 2-D, got shape {x.shape}"
        )
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    n_rows, length = rows.shape
    out_size = max(ngram_indexes) + 1 if ngram_indexes else 0
    ngram_indexes = np.asarray(ngram_indexes, dtype=np.int64)

    if pool_strings is not None:
        pool = np.asarray(pool_strings, dtype=object)
        tokens = rows.astype(object)
    else:
        pool = np.asarray(pool_int64s, dtype=np.int64)
        tokens = rows.astype(np.int64)
    # Vocabulary ids: pool tokens get 0..V-1, anything else V (never matches).
    vocab = np.unique(pool)
    pool_ids = np.searchsorted(vocab, pool)
    pos = np.searchsorted(vocab, tokens.reshape(-1)).clip(0, max(len(vocab) - 1, 0))
    hit = (
        vocab[pos] == tokens.reshape(-1) if len(vocab) else np.zeros(tokens.size, bool)
    )
    token_ids = np.where(hit, pos, len(vocab)).reshape(n_rows, length)
    by_size = _pool_by_size(pool_ids, ngram_counts)

    check_alloc((n_rows, out_size), np.float32, "TfIdfVectorizer output")
    counts = np.zeros(n_rows * out_size, dtype=np.float64)
    for skip in range(max_skip_count + 1):
        step = skip + 1
        # Unigrams are the same for every skip; count them on the first pass only.
        for n in range(
            max(min_gram_length, 1 if skip == 0 else 2), max_gram_length + 1
        ):
            if n not in by_size or not len(by_size[n][0]):
                continue
            starts = length - (n - 1) * step
            if starts <= 0:
                continue
            gather = np.arange(starts)[:, None] + step * np.arange(n)  # (starts, n)
            cand = token_ids[:, gather].reshape(-1, n)
            found = _match_rows(by_size[n][0], cand)
            keep = found >= 0
            cols = ngram_indexes[by_size[n][1] + found[keep]]
            row_of = np.repeat(np.arange(n_rows), starts)[keep]
            # bincount wants np.intp, which is int32 in Pyodide (wasm32).
            flat = (row_of * out_size + cols).astype(np.intp)
            counts += np.bincount(flat, minlength=counts.size)
    counts = counts.reshape(n_rows, out_size)

    w = np.asarray(weights if weights else [], dtype=np.float32)
    if mode == "IDF":
        counts = np.minimum(counts, 1)
    if mode != "TF" and w.size:
        counts = counts * w[:out_size]
    y = counts.astype(np.float32)
    return y.reshape(out_size) if x.ndim == 1 else y


# --- shape rules -----------------------------------------------------------


@shape_rule("TfIdfVectorizer")
def _tfidf_shape(ctx: RuleContext):
    x = ctx.shape(0)
    idx = ctx.attr("ngram_indexes") or []
    width = max(idx) + 1 if idx else 0
    if x is None:
        return T("float", None)
    return T("float", (width,) if len(x) == 1 else (x[0], width))
