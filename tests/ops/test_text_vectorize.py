"""TfIdfVectorizer against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import check_op

POOL = {
    "ngram_counts": [0, 4],
    "pool_int64s": [2, 3, 5, 4, 5, 6, 7, 8, 6, 7],  # unigrams 2 3 5 4; bigrams 56 78 67
    "ngram_indexes": [0, 1, 2, 3, 4, 5, 6],
}


@pytest.mark.parametrize("mode", ["TF", "IDF", "TFIDF"])
@pytest.mark.parametrize("skip", [0, 1, 3])
@pytest.mark.parametrize("grams", [(1, 1), (1, 2), (2, 2)])
def test_tfidf_int(mode, skip, grams):
    x = np.array(
        [[1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8], [4, 5, 6, 7, 8, 7, 6, 5, 4, 3, 2, 2]],
        np.int64,
    )
    weights = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5] if mode != "TF" else None
    extra = {"weights": weights} if weights else {}
    # Integer counts times float32 weights: exact.
    check_op(
        "TfIdfVectorizer",
        {"X": x},
        1,
        9,
        mode=mode,
        min_gram_length=grams[0],
        max_gram_length=grams[1],
        max_skip_count=skip,
        **POOL,
        **extra,
    )


def test_tfidf_strings_1d_and_shuffled_indexes():
    x = np.array(["a", "b", "a", "c", "b", "a", "z"], object)
    check_op(
        "TfIdfVectorizer",
        {"X": x},
        1,
        9,
        mode="TF",
        min_gram_length=1,
        max_gram_length=2,
        max_skip_count=1,
        ngram_counts=[0, 3],
        ngram_indexes=[4, 2, 0, 1, 3],
        pool_strings=["a", "b", "c", "a", "b", "b", "a"],
    )
