"""Flattened tree forests shared by the ai.onnx.ml tree-ensemble kernels.

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
    forest: _Forest, leaves, leaf_node, target, weight, n_targets, how, dtype,
    empty_leaf_zero=False,
):  # fmt: skip
    """Per-sample (score, has_score) over targets from the reached leaves.

    ``empty_leaf_zero``: a leaf without a vote counts as weight 0 (onnxruntime's
    single-target path, where MIN/MAX then see that 0)."""
    n_nodes = len(forest.leaf)
    check_alloc((n_nodes, n_targets), dtype, "tree ensemble leaf table")
    check_alloc((leaves.shape[0], n_targets), dtype, "tree ensemble scores")
    has_table = np.zeros((n_nodes, n_targets), dtype=bool)
    has_table[leaf_node, target] = True
    if empty_leaf_zero:
        leaf_node = np.concatenate([leaf_node, np.flatnonzero(forest.leaf & ~has_table[:, 0])])
        target = np.concatenate([target, np.zeros(len(leaf_node) - len(target), np.int64)])
        weight = np.concatenate([weight, np.zeros(len(leaf_node) - len(weight), weight.dtype)])
        has_table[leaf_node, target] = True
    if how in ("SUM", "AVERAGE"):
        # onnxruntime adds the weights one by one, tree after tree and in vote order
        # within a leaf: slot k holds the k-th vote of a (leaf, target), so the float
        # sums round the same way (PROBIT near 0.5 magnifies any difference).
        pair = np.asarray(leaf_node, np.int64) * n_targets + np.asarray(target, np.int64)
        order = np.argsort(pair, kind="stable")
        first = np.r_[True, pair[order][1:] != pair[order][:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(len(pair)), 0))
        slot = np.empty(len(pair), np.int64)
        slot[order] = np.arange(len(pair)) - start
        n_slots = int(slot.max()) + 1 if len(pair) else 1
        check_alloc((n_slots, n_nodes, n_targets), dtype, "tree ensemble leaf table")
        table = np.zeros((n_slots, n_nodes, n_targets), dtype=dtype)
        table[slot, leaf_node, target] = weight
        score = np.zeros((leaves.shape[0], n_targets), dtype=dtype)
        for t in range(leaves.shape[1]):
            for k in range(n_slots):
                score += table[k, leaves[:, t]]
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
