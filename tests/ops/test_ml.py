"""ai.onnx.ml kernels against onnxruntime (the runtime sklearn-converted models target)."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import assert_same, run_ort, run_wasm_rt, single_node_model

import wasm_rt

ML = "ai.onnx.ml"
RNG = np.random.default_rng(0)
# float32 dot products / exp over a handful of terms: both runtimes round in
# float32 with different summation orders, a few ulps apart.
RTOL, ATOL = 1e-5, 1e-6


def check_ml(op_type, inputs, outputs=1, opset=3, rtol=RTOL, atol=ATOL, **attrs):
    model = single_node_model(op_type, inputs, outputs, opset, domain=ML, **attrs)
    ours, theirs = run_wasm_rt(model, inputs), run_ort(model, inputs)
    assert_same(ours, theirs, rtol, atol, f"{op_type}-{opset}")
    return ours


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize(
    "post", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]
)
def test_linear_classifier_multiclass(post):
    x = rand(6, 4) * (0.1 if post == "PROBIT" else 1)
    coef = rand(3 * 4).tolist()
    check_ml(
        "LinearClassifier",
        {"X": x},
        2,
        1,
        coefficients=coef,
        intercepts=[0.1, -0.2, 0.3],
        classlabels_ints=[4, 5, 6],
        post_transform=post,
    )


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC"])
@pytest.mark.parametrize(
    "labels", [{"classlabels_ints": [0, 1]}, {"classlabels_strings": ["no", "yes"]}]
)
def test_linear_classifier_binary(post, labels):
    check_ml(
        "LinearClassifier",
        {"X": rand(7, 3)},
        2,
        1,
        coefficients=rand(3).tolist(),
        intercepts=[0.05],
        post_transform=post,
        **labels,
    )


@pytest.mark.parametrize("targets", [1, 2])
def test_linear_regressor(targets):
    check_ml(
        "LinearRegressor",
        {"X": rand(5, 3)},
        1,
        1,
        coefficients=rand(3 * targets).tolist(),
        intercepts=rand(targets).tolist(),
        targets=targets,
    )


@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
def test_normalizer(norm):
    x = rand(4, 5)
    x[1] = 0
    check_ml("Normalizer", {"X": x}, 1, 1, norm=norm)


def test_scaler_binarizer_imputer():
    x = rand(4, 3)
    check_ml("Scaler", {"X": x}, 1, 1, offset=[0.5, -1.0, 2.0], scale=[2.0, 0.5, 3.0])
    check_ml("Scaler", {"X": x.astype(np.float64)}, 1, 1, offset=[0.5], scale=[2.0])
    check_ml("Binarizer", {"X": x}, 1, 1, threshold=0.2)
    x[0, 1] = x[2, 2] = np.nan
    check_ml(
        "Imputer",
        {"X": x},
        1,
        1,
        imputed_value_floats=[1.0, 2.0, 3.0],
        replaced_value_float=float("nan"),
    )
    xi = RNG.integers(0, 3, (4, 3)).astype(np.int64)
    check_ml(
        "Imputer", {"X": xi}, 1, 1, imputed_value_int64s=[7], replaced_value_int64=0
    )


def test_one_hot_encoder_and_feature_extractor():
    check_ml(
        "OneHotEncoder",
        {"X": np.array([[1, 3], [2, 9]], np.int64)},
        1,
        1,
        cats_int64s=[1, 2, 3],
        zeros=1,
    )
    check_ml(
        "OneHotEncoder",
        {"X": np.array(["a", "c", "b"], object)},
        1,
        1,
        cats_strings=["a", "b", "c"],
    )
    x = rand(3, 5)
    check_ml(
        "ArrayFeatureExtractor", {"X": x, "Y": np.array([4, 0, 0], np.int64)}, 1, 1
    )
    check_ml("ArrayFeatureExtractor", {"X": x[0], "Y": np.array([1], np.int64)}, 1, 1)


@pytest.mark.parametrize("opset", [2, 4])
def test_label_encoder(opset):
    x = np.array([["a", "zz"], ["c", "b"]], object)
    check_ml(
        "LabelEncoder",
        {"X": x},
        1,
        opset,
        keys_strings=["a", "b", "c"],
        values_floats=[0.5, 1.5, 2.5],
        default_float=-3.0,
    )
    xi = np.array([3, 1, 8, 2], np.int64)
    check_ml(
        "LabelEncoder",
        {"X": xi},
        1,
        opset,
        keys_int64s=[1, 2, 3],
        values_strings=["one", "two", "three"],
    )
    xf = np.array([0.5, np.nan, 1.0], np.float32)
    check_ml(
        "LabelEncoder",
        {"X": xf},
        1,
        opset,
        keys_floats=[0.5, 1.0],
        values_int64s=[10, 20],
        default_int64=-5,
    )


def test_label_encoder_1():
    check_ml(
        "LabelEncoder",
        {"X": np.array(["b", "q", "a"], object)},
        1,
        1,
        classes_strings=["a", "b"],
        default_int64=9,
    )
    check_ml(
        "LabelEncoder",
        {"X": np.array([1, 5, 0], np.int64)},
        1,
        1,
        classes_strings=["a", "b"],
        default_string="?",
    )


def test_zipmap():
    x = RNG.random((3, 2)).astype(np.float32)
    for labels in ({"classlabels_int64s": [3, 7]}, {"classlabels_strings": ["x", "y"]}):
        model = single_node_model("ZipMap", {"X": x}, 1, 1, domain=ML, **labels)
        ours, theirs = run_wasm_rt(model, {"X": x})[0], run_ort(model, {"X": x})[0]
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert a.keys() == b.keys()
            np.testing.assert_allclose(
                list(a.values()), list(b.values()), rtol=0, atol=0
            )


# --------------------------------------------------------------------------
# Trees: random forests built as sklearn's converter lays them out
# --------------------------------------------------------------------------


def random_forest(n_trees, depth, n_features, rng):
    """Complete binary trees; returns the nodes_* lists and the leaf (tree, node) ids."""
    nodes = {
        k: []
        for k in (
            "treeids",
            "nodeids",
            "featureids",
            "modes",
            "values",
            "truenodeids",
            "falsenodeids",
            "missing_value_tracks_true",
        )
    }
    leaves = []
    modes = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"]
    for t in range(n_trees):
        n_inner = 2**depth - 1
        for i in range(2 ** (depth + 1) - 1):
            inner = i < n_inner
            nodes["treeids"].append(t)
            nodes["nodeids"].append(i)
            nodes["featureids"].append(int(rng.integers(n_features)) if inner else 0)
            nodes["modes"].append(modes[int(rng.integers(4))] if inner else "LEAF")
            nodes["values"].append(float(rng.standard_normal()) if inner else 0.0)
            nodes["truenodeids"].append(2 * i + 1 if inner else 0)
            nodes["falsenodeids"].append(2 * i + 2 if inner else 0)
            nodes["missing_value_tracks_true"].append(
                int(rng.integers(2)) if inner else 0
            )
            if not inner:
                leaves.append((t, i))
    return {f"nodes_{k}": v for k, v in nodes.items()}, leaves


def tree_input(n, f):
    x = rand(n, f)
    x[0, 0] = np.nan
    return x


@pytest.mark.parametrize("aggregate", ["SUM", "AVERAGE", "MIN", "MAX"])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_tree_ensemble_regressor(aggregate, n_targets):
    rng = np.random.default_rng(1)
    nodes, leaves = random_forest(4, 3, 5, rng)
    tids = [t for t, _ in leaves for _ in range(n_targets)]
    nids = [n for _, n in leaves for _ in range(n_targets)]
    ids = [k for _ in leaves for k in range(n_targets)]
    check_ml(
        "TreeEnsembleRegressor",
        {"X": tree_input(20, 5)},
        1,
        3,
        rtol=1e-6,
        atol=1e-6,
        aggregate_function=aggregate,
        n_targets=n_targets,
        target_treeids=tids,
        target_nodeids=nids,
        target_ids=ids,
        target_weights=rand(len(ids)).tolist(),
        base_values=rand(n_targets).tolist(),
        **nodes,
    )


@pytest.mark.parametrize("post", ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO"])
def test_tree_ensemble_classifier_multiclass(post):
    rng = np.random.default_rng(2)
    nodes, leaves = random_forest(3, 3, 4, rng)
    k = 3
    weights = rng.random((len(leaves), k)).astype(np.float32)
    weights[weights < 0.3] = 0  # zeros exercise SOFTMAX_ZERO
    check_ml(
        "TreeEnsembleClassifier",
        {"X": tree_input(15, 4)},
        2,
        3,
        class_treeids=[t for t, _ in leaves for _ in range(k)],
        class_nodeids=[n for _, n in leaves for _ in range(k)],
        class_ids=list(range(k)) * len(leaves),
        class_weights=weights.ravel().tolist(),
        classlabels_strings=["a", "b", "c"],
        post_transform=post,
        **nodes,
    )


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC"])
@pytest.mark.parametrize(
    "layout", ["both_classes", "positive_only", "signed_positive_only"]
)
def test_tree_ensemble_classifier_binary(post, layout):
    rng = np.random.default_rng(3)
    nodes, leaves = random_forest(2, 2, 3, rng)
    if layout == "both_classes":  # sklearn RandomForest: a probability per class
        p = rng.random(len(leaves)).astype(np.float32)
        tids = [t for t, _ in leaves for _ in range(2)]
        nids = [n for _, n in leaves for _ in range(2)]
        ids, w = [0, 1] * len(leaves), np.stack([1 - p, p], 1).ravel()
    else:  # gradient boosting: one score for the positive class
        tids, nids = [t for t, _ in leaves], [n for _, n in leaves]
        ids = [1] * len(leaves)
        w = rng.random(len(leaves)).astype(np.float32) * 0.5
        if layout == "signed_positive_only":
            w = w - 0.25
    check_ml(
        "TreeEnsembleClassifier",
        {"X": tree_input(12, 3)},
        2,
        3,
        class_treeids=tids,
        class_nodeids=nids,
        class_ids=ids,
        class_weights=[float(v) for v in w],
        classlabels_int64s=[0, 1],
        post_transform=post,
        **nodes,
    )


def test_tree_ensemble_5_matches_legacy_regressor():
    """TreeEnsemble-5 (not in onnxruntime's CPU build for all types) against the
    same forest written as TreeEnsembleRegressor-3."""
    x = rand(10, 2)
    # Tree: node0 x0 <= 0.1 ? (node1: x1 < -0.2 ? leaf0 : leaf1) : leaf2
    new = {
        "nodes_splits": np.array([0.1, -0.2], np.float32),
        "nodes_featureids": [0, 1],
        "nodes_modes": np.array([0, 1], np.uint8),
        "nodes_truenodeids": [1, 0],
        "nodes_falsenodeids": [2, 1],
        "nodes_trueleafs": [0, 1],
        "nodes_falseleafs": [1, 1],
        "leaf_targetids": [0, 0, 0],
        "leaf_weights": np.array([1.0, 2.0, 3.0], np.float32),
        "tree_roots": [0],
        "n_targets": 1,
    }
    import onnx.helper as oh

    attrs = {
        k: (
            oh.make_tensor(k, 1 if v.dtype == np.float32 else 2, v.shape, v.tolist())
            if isinstance(v, np.ndarray)
            else v
        )
        for k, v in new.items()
    }
    model = single_node_model("TreeEnsemble", {"X": x}, 1, 5, domain=ML, **attrs)
    legacy = single_node_model(
        "TreeEnsembleRegressor",
        {"X": x},
        1,
        3,
        domain=ML,
        n_targets=1,
        nodes_treeids=[0] * 5,
        nodes_nodeids=[0, 1, 2, 3, 4],
        nodes_featureids=[0, 1, 0, 0, 0],
        nodes_modes=["BRANCH_LEQ", "BRANCH_LT", "LEAF", "LEAF", "LEAF"],
        nodes_values=[0.1, -0.2, 0, 0, 0],
        nodes_truenodeids=[1, 3, 0, 0, 0],
        nodes_falsenodeids=[2, 4, 0, 0, 0],
        target_treeids=[0, 0, 0],
        target_nodeids=[3, 4, 2],
        target_ids=[0, 0, 0],
        target_weights=[1.0, 2.0, 3.0],
    )
    assert_same(
        run_wasm_rt(model, {"X": x}), run_ort(legacy, {"X": x}), 0, 0, "TreeEnsemble"
    )


def test_category_mapper():
    cats = {"cats_strings": ["a", "b", "c"], "cats_int64s": [1, 2, 3]}
    s = np.array([["a", "zz"], ["b", "c"]], dtype=object)
    check_ml("CategoryMapper", {"X": s}, 1, 1, **cats)
    ids = np.array([1, 5, 3, -1], np.int64)
    check_ml("CategoryMapper", {"X": ids}, 1, 1, default_string="?", **cats)


@pytest.mark.parametrize("dims", [[3, 2], [5, 6]])  # cut and zero-padded
def test_feature_vectorizer(dims):
    a, b = rand(2, 3), rand(2, 4)
    check_ml("FeatureVectorizer", {"A": a, "B": b}, 1, 1, inputdimensions=dims)
    ints = np.arange(8, dtype=np.int64).reshape(2, 4)
    check_ml("FeatureVectorizer", {"A": ints}, 1, 1, inputdimensions=dims[:1])


SINGLE_LEAF = {
    "nodes_treeids": [0, 1],
    "nodes_nodeids": [0, 0],
    "nodes_featureids": [0, 0],
    "nodes_modes": ["LEAF", "LEAF"],
    "nodes_values": [0.0, 0.0],
    "nodes_truenodeids": [0, 0],
    "nodes_falsenodeids": [0, 0],
}
ALL_POSTS = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]


@pytest.mark.parametrize("post", ALL_POSTS)
@pytest.mark.parametrize("n_targets", [1, 2])
def test_tree_regressor_single_leaf_trees(post, n_targets):
    # Two trees that are one leaf each: every row gets the same sum.
    check_ml(
        "TreeEnsembleRegressor",
        {"X": tree_input(4, 2) * 0.1},
        1,
        3,
        n_targets=n_targets,
        target_treeids=[0, 1] * n_targets,
        target_nodeids=[0, 0] * n_targets,
        target_ids=[t for t in range(n_targets) for _ in range(2)],
        target_weights=[0.1, 0.2, 0.3, 0.05][: 2 * n_targets],
        base_values=[0.05] * n_targets,
        post_transform=post,
        **SINGLE_LEAF,
    )


@pytest.mark.parametrize("aggregate", ["SUM", "AVERAGE", "MIN", "MAX"])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_tree_regressor_unvoted_leaves_and_targets(aggregate, n_targets):
    # Tree 0 is a lone leaf with no vote. With one target onnxruntime counts it
    # as weight 0 (MIN/MAX see that 0); with several, a target no reached leaf
    # voted for is written 0 even with base_values.
    check_ml(
        "TreeEnsembleRegressor", {"X": BINARY_X}, 1, 3,
        nodes_treeids=[0, 1, 1, 1], nodes_nodeids=[0, 0, 1, 2], nodes_featureids=[0] * 4,
        nodes_modes=["LEAF", "BRANCH_LT", "LEAF", "LEAF"], nodes_values=[0.0, 0.5, 0, 0],
        nodes_truenodeids=[0, 1, 0, 0], nodes_falsenodeids=[0, 2, 0, 0],
        target_treeids=[1, 1], target_nodeids=[1, 2], target_ids=[0, n_targets - 1],
        target_weights=[0.5, -0.283], n_targets=n_targets, base_values=[0.3] * n_targets,
        aggregate_function=aggregate,
    )  # fmt: skip


# Where a binary classifier's row keeps one score, onnxruntime's kernel writes
# column 0 only under PROBIT (and for non-binary models with one base value): its
# column 1 is uninitialised memory, which is why a plain run showed NaN "sometimes".
# These tests let onnxruntime write into outputs pre-filled with a sentinel
# (IOBinding), compare what it wrote and check wasm_rt writes 0 where it did not.
_UNWRITTEN = np.float32(-12345.5)


def run_ort_marked(model, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    labels = np.zeros(len(x), np.int64)
    scores = np.full((len(x), 2), _UNWRITTEN, np.float32)
    io = sess.io_binding()
    io.bind_cpu_input("X", x)
    io.bind_output(names[0], "cpu", 0, np.int64, list(labels.shape), labels.ctypes.data)
    io.bind_output(names[1], "cpu", 0, np.float32, list(scores.shape), scores.ctypes.data)
    sess.run_with_iobinding(io)
    return labels, scores


def check_binary_tree(x, trees, votes, base, post):
    """trees: "leaf" (a lone LEAF) or "split" (x0 < 0.5 ? node 1 : node 2);
    votes: (tree, node, class, weight)."""
    nodes = {k: [] for k in ("treeids", "nodeids", "modes", "values", "truenodeids",
                             "falsenodeids")}  # fmt: skip
    for t, kind in enumerate(trees):
        lone = kind == "leaf"
        nodes["treeids"] += [t] * (1 if lone else 3)
        nodes["nodeids"] += [0] if lone else [0, 1, 2]
        nodes["modes"] += ["LEAF"] if lone else ["BRANCH_LT", "LEAF", "LEAF"]
        nodes["values"] += [0.0] if lone else [0.5, 0.0, 0.0]
        nodes["truenodeids"] += [0] if lone else [1, 0, 0]
        nodes["falsenodeids"] += [0] if lone else [2, 0, 0]
    attrs = {f"nodes_{k}": v for k, v in nodes.items()}
    attrs["nodes_featureids"] = [0] * len(nodes["modes"])
    if base is not None:
        attrs["base_values"] = base
    tree, node, cls, weight = (list(c) for c in zip(*votes))
    model = single_node_model(
        "TreeEnsembleClassifier", {"X": x}, 2, 3, domain=ML, class_treeids=tree,
        class_nodeids=node, class_ids=cls, class_weights=weight,
        classlabels_int64s=[0, 1], post_transform=post, **attrs,
    )  # fmt: skip
    labels, scores = run_ort_marked(model, x)
    ours_labels, ours = run_wasm_rt(model, {"X": x})
    np.testing.assert_array_equal(ours_labels, labels)
    written = scores != _UNWRITTEN
    assert written[:, 0].all()
    np.testing.assert_allclose(ours[written], scores[written], rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(ours[~written], 0)
    return ours, scores


BINARY_X = np.array([[0.1, 0.0], [0.9, 0.0], [-2.0, 1.0], [0.5, 0.0]], np.float32)
# (tree, node, class) triples to which the weights go, in order.
BINARY_VOTES = {
    "class0_lone_leaves": ("leaf", [(0, 0, 0), (1, 0, 0)]),
    "class1_lone_leaves": ("leaf", [(0, 0, 1), (1, 0, 1)]),
    "both_lone_leaves": ("leaf", [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 0, 1)]),
    "class0_split": ("split", [(0, 1, 0), (0, 2, 0)]),
    "class1_split": ("split", [(0, 1, 1), (0, 2, 1)]),
    "one_class_per_leaf": ("split", [(0, 1, 0), (0, 2, 1)]),
    "both_split": ("split", [(0, 1, 0), (0, 1, 1), (0, 2, 0), (0, 2, 1)]),
    # Rows reaching node 1 get no vote: onnxruntime writes them as score 0, with
    # no base value added.
    "one_leaf_unvoted": ("split", [(0, 2, 0)]),
}


@pytest.mark.parametrize("post", ALL_POSTS)
@pytest.mark.parametrize("base", [None, [-0.405], [0.1, -0.2]])
@pytest.mark.parametrize("signs", ["positive", "mixed"])
@pytest.mark.parametrize("votes", list(BINARY_VOTES))
def test_tree_classifier_binary_post_transforms(votes, signs, base, post):
    # onnxruntime 1.31 applies LOGISTIC to a one-score row whatever the weights'
    # signs, writes [-s, s] for mixed weights whichever class wins, and writes an
    # unscored class as 0 even where base_values were added to it.
    kind, targets = BINARY_VOTES[votes]
    weights = [0.2, 0.3, 0.7, 0.6] if signs == "positive" else [0.3, -0.3, -0.1, 0.5]
    trees = [kind] * (1 + max(t for t, _, _ in targets))
    check_binary_tree(BINARY_X, trees,
                      [(*t, w) for t, w in zip(targets, weights)], base, post)  # fmt: skip


def test_tree_classifier_logistic_lone_leaf():
    # onnxruntime's own test_tree_ensemble_logistic: a lone leaf of weight 0 and a
    # base value of logit(0.4): the positive-class probability is sigmoid(-0.405).
    x = np.array([[0.1, 0.0]], np.float32)
    for votes, base in (([(0, 0, 0, 0.0)], [-0.405]), ([(0, 0, 0, -0.405)], [0.0])):
        ours, _ = check_binary_tree(x, ["leaf"], votes, base, "LOGISTIC")
        np.testing.assert_allclose(ours[0], [0.6, 0.4], atol=2e-4)
    ours, _ = check_binary_tree(x, ["split"], [(0, 1, 0, 0.3), (0, 2, 0, -0.3)],
                                [-0.405], "LOGISTIC")  # fmt: skip
    np.testing.assert_allclose(ours[0, 1], 1 / (1 + np.exp(0.105)), rtol=1e-6)


def test_tree_classifier_probit_one_score_column1_unwritten():
    # Under PROBIT a one-score row gets probit(s) in column 0 and nothing in
    # column 1 from onnxruntime; wasm_rt writes 0 there.
    _, theirs = check_binary_tree(BINARY_X, ["split"], [(0, 1, 0, 0.2), (0, 2, 0, 0.3)],
                                  None, "PROBIT")  # fmt: skip
    assert (theirs[:, 1] == _UNWRITTEN).all()


def test_tree_classifier_probit_sums_in_vote_order():
    # s = -0.598 + 0.012 + 1.115 + 0.018 summed one vote at a time in float32 is
    # 0.54700005, pairing the leaf's two votes first gives 0.547; PROBIT's float32
    # approximation turns that ulp into a 3e-5 relative difference.
    x = np.array([[0.1, 0.0], [0.9, 0.0]], np.float32)
    votes = [(0, 0, 1, -0.598), (1, 0, 1, 0.012), (1, 0, 1, 1.115), (2, 1, 1, 0.018),
             (2, 2, 1, 0.288), (2, 2, 1, 0.532)]  # fmt: skip
    ours, theirs = check_binary_tree(x, ["leaf", "leaf", "split"], votes, None, "PROBIT")
    np.testing.assert_array_equal(ours[0], theirs[0])


def test_softmax_zero_all_zero_row_is_nan():
    # onnxruntime 1.31 divides by a zero sum: NaN for a row of zeros.
    x = np.zeros((2, 3), np.float32)
    y = check_ml("LinearClassifier", {"X": x}, 2, 1, coefficients=[0.0] * 9,
                 intercepts=[0.0] * 3, classlabels_ints=[0, 1, 2],
                 post_transform="SOFTMAX_ZERO")[1]  # fmt: skip
    assert np.isnan(y).all()


@pytest.mark.parametrize("post", ALL_POSTS)
@pytest.mark.parametrize(
    "labels,ids,weights",
    [
        ([0, 1], [1, 1], [0.2, -0.45]),  # binary, one weight column
        ([0, 1], [0, 0], [0.2, 0.3]),  # binary, weights only on class 0
        (["x", "y", "z"], [0, 2], [0.4, 0.1]),  # a class no leaf votes for
    ],
)
def test_tree_classifier_degenerate(post, labels, ids, weights):
    if ids == [0, 0] and post == "PROBIT":
        # Column 1 is uninitialised memory in onnxruntime's output (see
        # run_ort_marked): compared where onnxruntime writes.
        check_binary_tree(tree_input(3, 2), ["leaf", "leaf"],
                          [(0, 0, 0, weights[0]), (1, 0, 0, weights[1])], None, post)  # fmt: skip
        return
    attrs = (
        {"classlabels_strings": labels}
        if isinstance(labels[0], str)
        else {"classlabels_int64s": labels}
    )
    check_ml(
        "TreeEnsembleClassifier",
        {"X": tree_input(3, 2)},
        2,
        3,
        class_treeids=[0, 1],
        class_nodeids=[0, 0],
        class_ids=ids,
        class_weights=weights,
        post_transform=post,
        **attrs,
        **SINGLE_LEAF,
    )


def test_tree_classifier_one_class_refused():
    # onnxruntime answers label 1 and a 0.5 score for a one-label model.
    import wasm_rt

    model = single_node_model(
        "TreeEnsembleClassifier", {"X": tree_input(3, 2)}, 2, 3, domain=ML,
        class_treeids=[0, 1], class_nodeids=[0, 0], class_ids=[0, 0],
        class_weights=[0.2, 0.3], classlabels_int64s=[7], **SINGLE_LEAF,
    )  # fmt: skip
    with pytest.raises(wasm_rt.WasmRtError, match="single class"):
        run_wasm_rt(model, {"X": tree_input(3, 2)})


# ------------------------------------------------------ map inputs (dicts)
def map_model(op_type, key, value, out, **attrs):
    from onnx import helper

    map_type = helper.make_map_type_proto(
        key, helper.make_tensor_type_proto(value, None)
    )
    graph = helper.make_graph(
        [helper.make_node(op_type, ["X"], ["Y"], domain=ML, **attrs)], "g",
        [helper.make_value_info("X", map_type)],
        [helper.make_tensor_value_info("Y", out, None)],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid(ML, 1)])  # fmt: skip
    model.ir_version = 8
    return model.SerializeToString()


T_STR, T_INT64, T_FLOAT, T_DOUBLE = 8, 7, 1, 11  # TensorProto element types


def check_map(op_type, key, value, out, feed, **attrs):
    """onnxruntime's Python API binds a dict of Python floats to map(K, float)."""
    model = map_model(op_type, key, value, out, **attrs)
    ours, theirs = run_wasm_rt(model, {"X": feed}), run_ort(model, {"X": feed})
    assert_same(ours, theirs, what=op_type)
    return ours[0]


@pytest.mark.parametrize("vocab", [["a", "b", "c", "a"], ["z"]])
def test_dict_vectorizer_string_keys(vocab):
    # Duplicated vocabulary entries repeat the value; unknown keys are ignored.
    feed = {"a": 1.5, "c": -2.0, "q": 3.0}
    check_map("DictVectorizer", T_STR, T_FLOAT, T_FLOAT, feed, string_vocabulary=vocab)


def test_dict_vectorizer_int_keys():
    y = check_map("DictVectorizer", T_INT64, T_FLOAT, T_FLOAT, {1: 0.5, 7: 2.0, 9: 1.0},
                  int64_vocabulary=[3, 1, 2, 7])  # fmt: skip
    np.testing.assert_array_equal(y, [[0, 0.5, 0, 2.0]])


@pytest.mark.parametrize(
    ("key", "value", "vocab", "feed", "expected"),
    [
        # Value types onnxruntime's Python binding cannot feed (its C++ kernel,
        # dictvectorizer.h, fills missing entries with the value type's default).
        (T_STR, T_DOUBLE, {"string_vocabulary": ["b", "a"]},
         {"a": np.float64(0.1)}, np.array([[0.0, 0.1]])),
        (T_STR, T_INT64, {"string_vocabulary": ["a", "b"]}, {"b": 4},
         np.array([[0, 4]], np.int64)),
        (T_INT64, T_STR, {"int64_vocabulary": [3, 1]}, {1: "x", 2: "y"},
         np.array([["", "x"]], object)),
    ],
)  # fmt: skip
def test_dict_vectorizer_other_value_types(key, value, vocab, feed, expected):
    y = run_wasm_rt(
        map_model("DictVectorizer", key, value, value, **vocab), {"X": feed}
    )[0]
    assert y.dtype == expected.dtype
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize(
    ("key", "vocab", "feed"),
    [
        # onnxruntime's binding converts Python ints, bools and float64 scalars
        # fed to map(..., float) to float; numpy integer keys are int64 keys.
        (T_STR, {"string_vocabulary": ["a", "b", "c"]},
         {"a": 1, "b": True, "c": np.float64(0.1)}),
        (T_INT64, {"int64_vocabulary": [5, 1]}, {np.int64(1): 2, 5: np.float32(1.5)}),
        (T_STR, {"string_vocabulary": ["a"]}, {"a": 1e40}),  # float32 overflow: inf
    ],
)  # fmt: skip
def test_dict_vectorizer_feeds_converted_to_declared_types(key, vocab, feed):
    y = check_map("DictVectorizer", key, T_FLOAT, T_FLOAT, feed, **vocab)
    assert y.dtype == np.float32


@pytest.mark.parametrize(
    ("key", "value", "vocab", "expected"),
    [
        (T_STR, T_FLOAT, {"string_vocabulary": ["a", "b"]}, np.zeros((1, 2), np.float32)),
        (T_INT64, T_DOUBLE, {"int64_vocabulary": [4, 2, 9]}, np.zeros((1, 3))),
        (T_INT64, T_STR, {"int64_vocabulary": [4]}, np.array([[""]], object)),
    ],
)  # fmt: skip
def test_dict_vectorizer_empty_map(key, value, vocab, expected):
    # onnxruntime's Python binding refuses an empty dict ("Size of dictionary is
    # empty"); its kernel (dictvectorizer.h) writes [1, len(vocabulary)] of the
    # value type's default, which wasm_rt returns since the declared type is known.
    y = run_wasm_rt(map_model("DictVectorizer", key, value, value, **vocab), {"X": {}})[0]
    assert y.dtype == expected.dtype
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize(
    ("key", "feed", "match"),
    [
        (T_STR, {1: 2.0}, r"got key 1 \(int\) that does not fit string"),
        (T_STR, {"a": 2.0, "b": "x"}, r"value 'x' \(str\) for key 'b' .*fit float"),
        (T_INT64, {1.0: 2.0}, r"key 1.0 \(float\) that does not fit int64"),
        (T_INT64, {2**70: 2.0}, "does not fit int64"),
        (T_STR, [1.0], r"input 'X': expected map\(string,tensor\(float\)\) \(a dict\), got list"),
    ],
)  # fmt: skip
def test_map_feeds_that_do_not_fit(key, feed, match):
    # onnxruntime refuses each of these at binding ("cannot be linked to C type").
    vocab = {"string_vocabulary": ["a"]} if key == T_STR else {"int64_vocabulary": [1]}
    model = map_model("DictVectorizer", key, T_FLOAT, T_FLOAT, **vocab)
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own error types
        run_ort(model, {"X": feed})
    with pytest.raises(wasm_rt.InvalidArgument, match=match):
        run_wasm_rt(model, {"X": feed})


def test_cast_map_empty_and_converted():
    # map(int64, float) fed Python ints: converted to float32 as onnxruntime binds them.
    check_map("CastMap", T_INT64, T_FLOAT, T_FLOAT, {2: 3, 0: 1}, cast_to="TO_FLOAT")
    model = map_model("CastMap", T_INT64, T_FLOAT, T_FLOAT, cast_to="TO_FLOAT",
                      map_form="SPARSE", max_map=3)  # fmt: skip
    # cast_map.cc: SPARSE pads every column not in the map, also when it is empty.
    np.testing.assert_array_equal(run_wasm_rt(model, {"X": {}})[0], np.zeros((1, 3)))


@pytest.mark.parametrize("cast_to", ["TO_FLOAT", "TO_INT64", "TO_STRING"])
@pytest.mark.parametrize("form", [{"map_form": "DENSE"},
                                  {"map_form": "SPARSE", "max_map": 6}])  # fmt: skip
def test_cast_map_float_values(cast_to, form):
    out = {"TO_FLOAT": T_FLOAT, "TO_INT64": T_INT64, "TO_STRING": T_STR}[cast_to]
    # Keys come out sorted; 7 is beyond max_map; -2.7 truncates to -2; 1e20
    # prints with float32's digits (std::to_string).
    feed = {3: 1.5, 1: -2.7, 0: 1e20 if cast_to == "TO_STRING" else 3.9, 7: 0.25}
    check_map("CastMap", T_INT64, T_FLOAT, out, feed, cast_to=cast_to, **form)


def test_cast_map_string_values():
    # onnxruntime's Python binding cannot feed map(int64, string); expected values
    # follow its kernel: std::stof / std::stoll parse a prefix after blanks.
    def run(cast_to, out, feed, **form):
        model = map_model("CastMap", T_INT64, T_STR, out, cast_to=cast_to, **form)
        return run_wasm_rt(model, {"X": feed})[0]

    feed = {3: "1.5e1x", 1: " -2", 0: "0x1p3"}
    y = run("TO_FLOAT", T_FLOAT, feed, map_form="SPARSE", max_map=5)
    np.testing.assert_array_equal(
        y, np.array([[8.0, -2.0, 0.0, 15.0, 0.0]], np.float32)
    )
    y = run("TO_INT64", T_INT64, {3: "7", 1: "12abc"})
    np.testing.assert_array_equal(y, np.array([[12, 7]], np.int64))
    y = run("TO_STRING", T_STR, {2: "b"}, map_form="SPARSE", max_map=3)
    np.testing.assert_array_equal(y, np.array([["0.f", "0.f", "b"]], object))
    with pytest.raises(wasm_rt.InvalidArgument, match="std::stof"):
        run("TO_FLOAT", T_FLOAT, {1: "abc"})


def test_cast_map_refusals():
    def fails(feed, match, **attrs):
        model = map_model("CastMap", T_INT64, T_FLOAT, T_FLOAT, **attrs)
        with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own types
            run_ort(model, {"X": feed})
        with pytest.raises(wasm_rt.WasmRtError, match=match):
            run_wasm_rt(model, {"X": feed})

    fails({-1: 2.0}, "negative", map_form="SPARSE", max_map=3)
    fails({1: 2.0}, "max_map", map_form="SPARSE", max_map=0)
    fails({1: 2.0}, "cast_to", cast_to="TO_DOUBLE")
