"""Tree ensembles of ``ai.onnx.ml``: TreeEnsembleRegressor, TreeEnsembleClassifier
(opsets 1 and 3) and the unified TreeEnsemble (opset 5).

Every format is first flattened into node arrays (feature, threshold, mode,
true/false child, leaf flag) and a leaf-weight table.  Traversal is
vectorised over samples and trees at once: each pass moves every
(sample, tree) cursor that is not on a leaf one level down, so the Python
loop runs once per tree level, never per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..limits import check_alloc
from ..registry import ML_DOMAIN, register
from .ml import as_matrix, class_labels, post_transform_scores

# Modes, numbered as TreeEnsemble-5 numbers them; LEAF only in the older format.
_LEQ, _LT, _GTE, _GT, _EQ, _NEQ, _MEMBER, _LEAF = range(8)
_MODE_NAMES = {
    "BRANCH_LEQ": _LEQ,
    "BRANCH_LT": _LT,
    "BRANCH_GTE": _GTE,
    "BRANCH_GT": _GT,
    "BRANCH_EQ": _EQ,
    "BRANCH_NEQ": _NEQ,
    "LEAF": _LEAF,
}
_AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")
_POST = ("NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT")


@dataclass
class _Forest:
    feature: np.ndarray  # (nodes,) int64
    threshold: np.ndarray  # (nodes,) float
    mode: np.ndarray  # (nodes,) int8
    true_next: np.ndarray  # (nodes,) int64, a node index
    false_next: np.ndarray
    missing_true: np.ndarray  # (nodes,) bool
    leaf: np.ndarray  # (nodes,) bool
    roots: np.ndarray  # (trees,) int64
    members: np.ndarray | None = None  # (pairs, 2): (node, value) of MEMBER nodes

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """The leaf each (sample, tree) lands on: (samples, trees) node indices."""
        n_nodes = len(self.leaf)
        if x.shape[1] <= (self.feature[~self.leaf].max(initial=-1)):
            raise ValueError(
                f"tree ensemble: a node reads feature {int(self.feature[~self.leaf].max())} "
                f"but the input has {x.shape[1]} features"
            )
        check_alloc((x.shape[0], len(self.roots)), np.int64, "tree ensemble cursors")
        cur = np.broadcast_to(self.roots, (x.shape[0], len(self.roots))).copy()
        for _ in range(n_nodes + 1):
            rows, trees = np.nonzero(~self.leaf[cur])
            if not len(rows):
                return cur
            node = cur[rows, trees]
            go_true = self._decide(node, x[rows, self.feature[node]])
            cur[rows, trees] = np.where(
                go_true, self.true_next[node], self.false_next[node]
            )
        raise ValueError(
            "tree ensemble: a tree has a cycle (a path never reaches a leaf)"
        )

    def _decide(self, node: np.ndarray, v: np.ndarray) -> np.ndarray:
        th, mode = self.threshold[node], self.mode[node]
        with np.errstate(invalid="ignore"):
            out = np.select(
                [
                    mode == _LEQ,
                    mode == _LT,
                    mode == _GTE,
                    mode == _GT,
                    mode == _EQ,
                    mode == _NEQ,
                ],
                [v <= th, v < th, v >= th, v > th, v == th, v != th],
                default=False,
            )
        is_member = mode == _MEMBER
        if is_member.any() and self.members is not None and len(self.members):
            which = np.flatnonzero(is_member)
            cand = np.stack(
                [node[which].astype(np.float64), v[which].astype(np.float64)], axis=1
            )
            _, inv = np.unique(
                np.concatenate([self.members, cand]), axis=0, return_inverse=True
            )
            inv = inv.reshape(-1)
            out[which] = np.isin(inv[len(self.members) :], inv[: len(self.members)])
        return out | (self.missing_true[node] & np.isnan(v))


def _aggregate(
    forest: _Forest, leaves, leaf_node, target, weight, n_targets, how, dtype
):
    """Per-sample (score, has_score) over targets from the reached leaves."""
    n_nodes = len(forest.leaf)
    check_alloc((n_nodes, n_targets), dtype, "tree ensemble leaf table")
    check_alloc((leaves.shape[0], n_targets), dtype, "tree ensemble scores")
    has_table = np.zeros((n_nodes, n_targets), dtype=bool)
    has_table[leaf_node, target] = True
    if how in ("SUM", "AVERAGE"):
        table = np.zeros((n_nodes, n_targets), dtype=dtype)
        np.add.at(table, (leaf_node, target), weight)
        score = np.zeros((leaves.shape[0], n_targets), dtype=dtype)
        for t in range(leaves.shape[1]):
            score += table[leaves[:, t]]
    else:
        pick = np.minimum if how == "MIN" else np.maximum
        table = np.full(
            (n_nodes, n_targets), np.inf if how == "MIN" else -np.inf, dtype=dtype
        )
        pick.at(table, (leaf_node, target), weight)
        score = np.full(
            (leaves.shape[0], n_targets),
            np.inf if how == "MIN" else -np.inf,
            dtype=dtype,
        )
        for t in range(leaves.shape[1]):
            score = pick(score, table[leaves[:, t]])
    has = np.zeros(score.shape, dtype=bool)
    for t in range(leaves.shape[1]):
        has |= has_table[leaves[:, t]]
    return np.where(has, score, 0).astype(dtype), has


# --------------------------------------------------------------------------
# Opset 1/3 format: nodes keyed by (tree id, node id), LEAF nodes carry weights
# --------------------------------------------------------------------------


def _pick(values, as_tensor):
    return (
        np.asarray(as_tensor).reshape(-1)
        if as_tensor is not None
        else np.asarray(values or [])
    )


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
    score, _ = _aggregate(
        forest,
        forest.leaves(xs),
        leaf_node,
        np.asarray(target_ids, dtype=np.int64),
        weights,
        k,
        aggregate_function,
        dt,
    )
    if aggregate_function == "AVERAGE":
        score = score / len(forest.roots)
    base = _pick(base_values, base_values_as_tensor)
    if base.size == k:
        score = score + base.astype(dt)
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
    """onnxruntime's two-class finalisation (TreeAggregatorClassifier), per sample."""
    s0, s1 = score[:, 0].copy(), score[:, 1].copy()
    h0, h1 = has[:, 0], has[:, 1]
    one_column = np.zeros(len(s0), dtype=bool)  # only one score was produced
    if base.size == 2:
        s1_new = np.where(h1, base[1] + s0, s1 + base[1])
        s0 = np.where(h1, -s1_new, s0 + base[0])
        s1 = s1_new
    elif base.size == 1:
        s0 = s0 + base[0]
        one_column = ~h1
    else:
        one_column = ~h1
    pos_weight = np.where(h1, s1, np.where(h0, s0, 0))
    binary_case = len(np.unique(ids)) == 1
    all_positive = bool((weights >= 0).all())
    if binary_case:
        positive = pos_weight > (0.5 if all_positive else 0.0)
        add_mode = (
            np.where(positive, 0, 1) if all_positive else np.where(positive, 2, 3)
        )
    else:
        positive = pos_weight > 0
        add_mode = np.full(len(s0), 3 if base.size == 0 else -1)
    y = np.where(positive, labels[1], labels[0]).astype(labels.dtype)

    two = post_transform_scores(np.stack([s0, s1], axis=1), post_transform)
    one = s0.astype(np.float32)
    if post_transform == "PROBIT":
        first, second = (
            post_transform_scores(one[:, None], "PROBIT")[:, 0],
            np.zeros_like(one),
        )
    else:
        logistic = post_transform == "LOGISTIC"
        sig = post_transform_scores(one[:, None], "LOGISTIC")[:, 0]
        sig_neg = post_transform_scores(-one[:, None], "LOGISTIC")[:, 0]
        first = np.select(
            [add_mode <= 1, logistic, add_mode == 2],
            [1 - one, sig_neg, -one],
            default=one,
        )
        second = np.select(
            [add_mode <= 1, logistic, add_mode == 2], [one, sig, one], default=-one
        )
    scores = np.where(one_column[:, None], np.stack([first, second], axis=1), two)
    return y, scores.astype(np.float32)


# --------------------------------------------------------------------------
# TreeEnsemble-5: separate node and leaf arrays, modes as integers
# --------------------------------------------------------------------------


@register("TreeEnsemble", since=5, domain=ML_DOMAIN)
def tree_ensemble(
    x,
    *,
    nodes_splits,
    nodes_featureids,
    nodes_modes,
    nodes_truenodeids,
    nodes_falsenodeids,
    nodes_trueleafs,
    nodes_falseleafs,
    leaf_targetids,
    leaf_weights,
    tree_roots,
    aggregate_function=1,
    post_transform=0,
    n_targets=None,
    nodes_hitrates=None,
    nodes_missing_value_tracks_true=None,
    membership_values=None,
):
    """Aggregate leaf weights per target; output in the input's float type."""
    what = "TreeEnsemble"
    dt = (
        np.dtype(x.dtype)
        if x.dtype in (np.float16, np.float32, np.float64)
        else np.dtype(np.float32)
    )
    xs = as_matrix(x, what, dt)
    splits = np.asarray(nodes_splits).reshape(-1).astype(dt)
    n = len(splits)
    modes = np.asarray(nodes_modes).reshape(-1).astype(np.int8)
    if modes.size != n or (modes.size and (modes.min() < 0 or modes.max() > _MEMBER)):
        raise ValueError(f"{what}: nodes_modes must hold one mode in 0..6 per node")
    n_leaves = len(leaf_weights_arr := np.asarray(leaf_weights).reshape(-1))
    # Node arrays first, then one pseudo-node per leaf.
    true_leaf = np.asarray(nodes_trueleafs, dtype=bool)
    false_leaf = np.asarray(nodes_falseleafs, dtype=bool)
    true_id = np.asarray(nodes_truenodeids, dtype=np.int64)
    false_id = np.asarray(nodes_falsenodeids, dtype=np.int64)
    for name, ids, is_leaf in (
        ("true", true_id, true_leaf),
        ("false", false_id, false_leaf),
    ):
        bound = np.where(is_leaf, n_leaves, n)
        if len(ids) != n or len(is_leaf) != n or ((ids < 0) | (ids >= bound)).any():
            raise ValueError(f"{what}: nodes_{name}nodeids has an index out of range")
    missing = np.zeros(n, dtype=bool)
    if nodes_missing_value_tracks_true:
        missing[:] = np.asarray(nodes_missing_value_tracks_true, dtype=np.int64) != 0
    members = None
    if (modes == _MEMBER).any():
        if membership_values is None:
            raise ValueError(f"{what}: set-membership nodes need membership_values")
        mv = np.asarray(membership_values, dtype=np.float64).reshape(-1)
        ends = np.isnan(mv)
        member_nodes = np.flatnonzero(modes == _MEMBER)
        if ends.sum() != len(member_nodes):
            raise ValueError(
                f"{what}: membership_values needs one NaN-terminated set per member node"
            )
        group = np.cumsum(ends) - ends  # which member node each value belongs to
        members = np.stack(
            [member_nodes[group[~ends]].astype(np.float64), mv[~ends]], axis=1
        )
    forest = _Forest(
        feature=np.concatenate(
            [np.asarray(nodes_featureids, dtype=np.int64), np.zeros(n_leaves, np.int64)]
        ),
        threshold=np.concatenate([splits, np.zeros(n_leaves, dt)]),
        mode=np.concatenate([modes, np.full(n_leaves, _LEAF, np.int8)]),
        true_next=np.where(true_leaf, n + true_id, true_id),
        false_next=np.where(false_leaf, n + false_id, false_id),
        missing_true=np.concatenate([missing, np.zeros(n_leaves, bool)]),
        leaf=np.concatenate([np.zeros(n, bool), np.ones(n_leaves, bool)]),
        roots=np.asarray(tree_roots, dtype=np.int64),
        members=members,
    )
    # A root whose both branches are the same leaf is a single-leaf tree.
    r = forest.roots
    degenerate = true_leaf[r] & false_leaf[r] & (true_id[r] == false_id[r])
    forest.roots = np.where(degenerate, n + true_id[r], r)
    targets = np.asarray(leaf_targetids, dtype=np.int64)
    k = int(n_targets) if n_targets else int(targets.max(initial=-1)) + 1
    if not 0 <= aggregate_function < len(_AGGREGATES):
        raise ValueError(
            f"{what}: aggregate_function must be 0..3, got {aggregate_function}"
        )
    how = _AGGREGATES[aggregate_function]
    acc = np.promote_types(dt, np.float32)
    score, _ = _aggregate(
        forest,
        forest.leaves(xs),
        n + np.arange(n_leaves),
        targets,
        leaf_weights_arr.astype(acc),
        k,
        how,
        acc,
    )
    if how == "AVERAGE":
        score = score / len(forest.roots)
    if not 0 <= post_transform < len(_POST):
        raise ValueError(f"{what}: post_transform must be 0..4, got {post_transform}")
    if post_transform:
        score = post_transform_scores(score, _POST[post_transform])
    return score.astype(dt)
