"""TreeEnsembleRegressor and TreeEnsembleClassifier of ai.onnx.ml (opsets 1 and 3)."""

from __future__ import annotations

import numpy as np

from ..registry import ML_DOMAIN, register
from ._forest import _AGGREGATES, _LEAF, _MODE_NAMES, _aggregate, _Forest, _pick
from .ml import as_matrix, class_labels, post_transform_scores


def _legacy_forest(
    what,
    nodes_treeids,
    nodes_nodeids,
    nodes_featureids,
    nodes_modes,
    nodes_values,
    nodes_truenodeids,
    nodes_falsenodeids,
    nodes_missing_value_tracks_true,
    thr_dtype,
):
    tids = np.asarray(nodes_treeids, dtype=np.int64)
    nids = np.asarray(nodes_nodeids, dtype=np.int64)
    n = len(tids)
    lists = (nodes_featureids, nodes_modes, nodes_truenodeids, nodes_falsenodeids)
    if not n or any(len(a) != n for a in lists) or len(nodes_values) != n:
        raise ValueError(
            f"{what}: the nodes_* attributes must all have one entry per node"
        )
    try:
        mode = np.array([_MODE_NAMES[m] for m in nodes_modes], dtype=np.int8)
    except KeyError as e:
        raise ValueError(f"{what}: unknown node mode {e.args[0]!r}") from None
    index = _NodeIndex(tids, nids, what)
    leaf = mode == _LEAF
    true_next = np.where(leaf, np.arange(n), index.find(tids, nodes_truenodeids, ~leaf))
    false_next = np.where(
        leaf, np.arange(n), index.find(tids, nodes_falsenodeids, ~leaf)
    )
    missing = np.zeros(n, dtype=bool)
    if nodes_missing_value_tracks_true:
        missing[:] = np.asarray(nodes_missing_value_tracks_true, dtype=np.int64) != 0
    _, first = np.unique(
        tids, return_index=True
    )  # the first node of a tree is its root
    forest = _Forest(
        np.asarray(nodes_featureids, dtype=np.int64),
        np.asarray(nodes_values).astype(thr_dtype),
        mode,
        true_next,
        false_next,
        missing,
        leaf,
        first.astype(np.int64),
    )
    return forest, index


class _NodeIndex:
    """(tree id, node id) -> position in the node arrays, vectorised."""

    def __init__(self, tids, nids, what):
        self.what = what
        self.keys = tids * (1 << 32) + nids
        self.order = np.argsort(self.keys, kind="stable")
        self.sorted = self.keys[self.order]

    def find(self, tids, nids, needed=None) -> np.ndarray:
        keys = np.asarray(tids, dtype=np.int64) * (1 << 32) + np.asarray(
            nids, dtype=np.int64
        )
        pos = np.searchsorted(self.sorted, keys).clip(0, len(self.sorted) - 1)
        ok = self.sorted[pos] == keys
        if needed is not None:
            ok |= ~needed
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise ValueError(
                f"{self.what}: node ({int(np.ravel(tids)[bad])}, {int(np.ravel(nids)[bad])}) "
                "is referenced but not defined"
            )
        return self.order[pos]


def _thr_dtype(x, *tensors) -> np.dtype:
    if x.dtype == np.float64 or any(
        t is not None and np.asarray(t).dtype == np.float64 for t in tensors
    ):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


@register("TreeEnsembleRegressor", since=1, domain=ML_DOMAIN)
def tree_ensemble_regressor(
    x,
    *,
    aggregate_function="SUM",
    base_values=None,
    base_values_as_tensor=None,
    n_targets=None,
    post_transform="NONE",
    target_ids=None,
    target_nodeids=None,
    target_treeids=None,
    target_weights=None,
    target_weights_as_tensor=None,
    nodes_treeids=None,
    nodes_nodeids=None,
    nodes_featureids=None,
    nodes_modes=None,
    nodes_values=None,
    nodes_values_as_tensor=None,
    nodes_truenodeids=None,
    nodes_falsenodeids=None,
    nodes_missing_value_tracks_true=None,
    nodes_hitrates=None,
    nodes_hitrates_as_tensor=None,
):
    """Sum/average/min/max of leaf weights per target, plus base values."""
    what = "TreeEnsembleRegressor"
    if aggregate_function not in _AGGREGATES:
        raise ValueError(f"{what}: unknown aggregate_function {aggregate_function!r}")
    dt = _thr_dtype(x, nodes_values_as_tensor)
    xs = as_matrix(x, what, dt)
    forest, index = _legacy_forest(
        what,
        nodes_treeids,
        nodes_nodeids,
        nodes_featureids,
        nodes_modes,
        _pick(nodes_values, nodes_values_as_tensor),
        nodes_truenodeids,
        nodes_falsenodeids,
        nodes_missing_value_tracks_true,
        dt,
    )
    weights = _pick(target_weights, target_weights_as_tensor).astype(dt)
    leaf_node = index.find(target_treeids, target_nodeids)
    k = int(n_targets) if n_targets else int(np.max(target_ids, initial=-1)) + 1
    score, has = _aggregate(
        forest,
        forest.leaves(xs),
        leaf_node,
        np.asarray(target_ids, dtype=np.int64),
        weights,
        k,
        aggregate_function,
        dt,
        empty_leaf_zero=k == 1,
    )
    if aggregate_function == "AVERAGE":
        score = score / len(forest.roots)
    base = _pick(base_values, base_values_as_tensor)
    if base.size == k:
        score = score + base.astype(dt)
    if k > 1:
        # onnxruntime 1.31 writes a target no reached leaf voted for as 0, base or not.
        score = np.where(has, score, 0).astype(dt)
    return _regression_transform(score, post_transform)


def _regression_transform(score: np.ndarray, post_transform: str) -> np.ndarray:
    """onnxruntime applies only PROBIT to a single target; all transforms to several."""
    if score.shape[1] == 1 and post_transform != "PROBIT":
        return score.astype(np.float32)
    return post_transform_scores(score, post_transform)


@register("TreeEnsembleClassifier", since=1, domain=ML_DOMAIN)
def tree_ensemble_classifier(
    x,
    *,
    base_values=None,
    base_values_as_tensor=None,
    class_ids=None,
    class_nodeids=None,
    class_treeids=None,
    class_weights=None,
    class_weights_as_tensor=None,
    classlabels_int64s=None,
    classlabels_strings=None,
    post_transform="NONE",
    nodes_treeids=None,
    nodes_nodeids=None,
    nodes_featureids=None,
    nodes_modes=None,
    nodes_values=None,
    nodes_values_as_tensor=None,
    nodes_truenodeids=None,
    nodes_falsenodeids=None,
    nodes_missing_value_tracks_true=None,
    nodes_hitrates=None,
    nodes_hitrates_as_tensor=None,
):
    """Labels and class scores; two-class models follow onnxruntime's conventions."""
    what = "TreeEnsembleClassifier"
    labels = class_labels(classlabels_int64s, classlabels_strings, what)
    k = len(labels)
    if k == 0:
        raise ValueError(
            f"{what}: classlabels_int64s or classlabels_strings is required"
        )
    dt = _thr_dtype(x, nodes_values_as_tensor)
    xs = as_matrix(x, what, dt)
    forest, index = _legacy_forest(
        what,
        nodes_treeids,
        nodes_nodeids,
        nodes_featureids,
        nodes_modes,
        _pick(nodes_values, nodes_values_as_tensor),
        nodes_truenodeids,
        nodes_falsenodeids,
        nodes_missing_value_tracks_true,
        dt,
    )
    weights = _pick(class_weights, class_weights_as_tensor).astype(dt)
    ids = np.asarray(class_ids, dtype=np.int64)
    if k == 1:

        # onnxruntime returns label 1 and one 0.5 score column whatever the
        # model says; there is no defined result to reproduce.
        raise NotImplementedError(f"{what}: a classifier with a single class label")
    if ids.size and (ids.min() < 0 or ids.max() >= max(k, 2)):
        raise ValueError(
            f"{what}: class_ids must lie in [0, {k}), got {ids.min()}..{ids.max()}"
        )
    leaf_node = index.find(class_treeids, class_nodeids)
    score, has = _aggregate(
        forest, forest.leaves(xs), leaf_node, ids, weights, max(k, 2), "SUM", dt
    )
    base = _pick(base_values, base_values_as_tensor).astype(dt)
    if k > 2:
        if base.size:
            score, has = score + base[:k], np.ones_like(has)
        best = np.argmax(np.where(has, score, -np.inf), axis=1)
        return labels[best], post_transform_scores(score, post_transform)
    return _binary_classifier(score, has, base, labels, ids, weights, post_transform)


def _binary_classifier(score, has, base, labels, ids, weights, post_transform):
    """onnxruntime 1.31's two-class finalisation (TreeAggregatorClassifier), per sample.

    Scores are (value, has_score) pairs; a two-score row writes ``value if has_score
    else 0`` per class, then the post transform.  A row left with one score (class 1
    got no vote and base_values has fewer than 2 entries) writes
    [sigmoid(-s), sigmoid(s)] under LOGISTIC, else [1 - s, s] (binary model, all
    weights >= 0) or [-s, s] (binary, mixed weights, or no base_values), PROBIT
    writes probit(s) and other rows s alone: where onnxruntime leaves column 1
    unwritten (uninitialised memory) wasm_rt writes 0.
    """
    s0, s1 = score[:, 0].copy(), score[:, 1].copy()
    h0, h1 = has[:, 0], has[:, 1]
    if base.size == 2:
        # With a class-1 vote onnxruntime keeps base[1] + score0 (base[0] unused) and
        # sets score0 = -score1 without marking class 0 as scored.
        s1_new = np.where(h1, base[1] + s0, s1 + base[1])
        s0 = np.where(h1, -s1_new, s0 + base[0])
        s1 = s1_new
        one_column = np.zeros(len(s0), dtype=bool)
    else:
        if base.size == 1:
            s0 = s0 + base[0]
        one_column = ~h1
    pos_weight = np.where(h1, s1, np.where(h0, s0, 0))
    binary_case = len(np.unique(ids)) == 1
    all_positive = bool((weights >= 0).all())
    if binary_case:
        positive = pos_weight > (0.5 if all_positive else 0.0)
        add_mode = np.full(len(s0), 0 if all_positive else 2)
    else:
        positive = pos_weight > 0
        add_mode = np.full(len(s0), 2 if base.size == 0 else -1)
    y = np.where(positive, labels[1], labels[0]).astype(labels.dtype)

    written = np.stack([np.where(h0, s0, 0), np.where(h1, s1, 0)], axis=1)
    two = post_transform_scores(written, post_transform)
    one = written[:, 0].astype(np.float32)  # a row no leaf voted for is 0, base or not
    zero = np.zeros_like(one)
    if post_transform == "PROBIT":
        first, second = post_transform_scores(one[:, None], "PROBIT")[:, 0], zero
    elif post_transform == "LOGISTIC":
        sig = post_transform_scores(one[:, None], "LOGISTIC")[:, 0]
        sig_neg = post_transform_scores(-one[:, None], "LOGISTIC")[:, 0]
        first = np.where(add_mode >= 0, sig_neg, one)
        second = np.where(add_mode >= 0, sig, zero)
    else:
        first = np.select([add_mode == 0, add_mode == 2], [1 - one, -one], default=one)
        second = np.where(add_mode >= 0, one, zero)
    scores = np.where(one_column[:, None], np.stack([first, second], axis=1), two)
    return y, scores.astype(np.float32)
