"""TreeEnsemble-5 of ai.onnx.ml: separate node and leaf arrays, modes as integers."""

from __future__ import annotations

import numpy as np

from ..registry import ML_DOMAIN, register
from ._forest import _AGGREGATES, _LEAF, _MEMBER, _POST, _aggregate, _Forest
from .ml import as_matrix, post_transform_scores


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
