"""SVMClassifier and SVMRegressor against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from _contrib import check_ms, ms_model
from oracle import run_ort, run_wasm_rt

ML = "ai.onnx.ml"
POSTS = ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"]
KERNELS = ["LINEAR", "POLY", "RBF", "SIGMOID"]
PARAMS = [0.3, 0.5, 3.0]  # gamma, coef0, degree
# Labels exactly. Scores: float32 kernels and dot products over a few features;
# onnxruntime's GEMM and exp/tanh differ from numpy's by a few ulps, which the
# pair sums, Platt's logistic and the coupling iteration carry along.
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _rng(seed):
    return np.random.default_rng(seed)


def _x(n=7, f=4, seed=0):
    return _rng(seed).standard_normal((n, f)).astype(np.float32)


def _svc_attrs(n_classes, per_class, f=4, seed=1, proba=False, strings=False):
    rng = _rng(seed)
    n_vec = sum(per_class)
    n_pairs = n_classes * (n_classes - 1) // 2
    attrs = {
        "vectors_per_class": per_class,
        "support_vectors": rng.standard_normal(n_vec * f).round(3).tolist(),
        "coefficients": rng.standard_normal((n_classes - 1) * n_vec).round(3).tolist(),
        "rho": rng.standard_normal(n_pairs).round(3).tolist(),
    }
    if strings:
        attrs["classlabels_strings"] = [f"c{i}" for i in range(n_classes)]
    else:
        attrs["classlabels_ints"] = [10 * i + 3 for i in range(n_classes)]
    if proba:
        attrs["prob_a"] = (-rng.uniform(0.5, 2, n_pairs)).round(3).tolist()
        attrs["prob_b"] = rng.uniform(-0.5, 0.5, n_pairs).round(3).tolist()
    return attrs


def _check(op, x, outputs=2, **attrs):
    return check_ms(op, {"x": x}, outputs, domain=ML, opset=1, **attrs, **TOL)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("post", POSTS)
@pytest.mark.parametrize("n_classes,per_class", [(3, [2, 1, 3]), (4, [1, 2, 2, 1])])
def test_svc_multiclass(kernel, post, n_classes, per_class):
    attrs = _svc_attrs(n_classes, per_class)
    _check("SVMClassifier", _x(), kernel_type=kernel, kernel_params=PARAMS,
           post_transform=post, **attrs)  # fmt: skip


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("post", ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO"])
def test_svc_binary(kernel, post):
    attrs = _svc_attrs(2, [2, 3], strings=True)
    _check("SVMClassifier", _x(), kernel_type=kernel, kernel_params=PARAMS,
           post_transform=post, **attrs)  # fmt: skip


def test_svc_binary_probit():
    # onnxruntime never writes the second score column here (uninitialized
    # memory: it changes from run to run), so only labels and column 0 compare.
    attrs = _svc_attrs(2, [2, 3])
    model = ms_model("SVMClassifier", {"x": _x()}, 2, domain=ML, kernel_type="RBF",
                     kernel_params=PARAMS, post_transform="PROBIT", **attrs)  # fmt: skip
    (y, z), (ey, ez) = run_wasm_rt(model, {"x": _x()}), run_ort(model, {"x": _x()})
    np.testing.assert_array_equal(y, ey)
    np.testing.assert_allclose(z[:, 0], ez[:, 0], **TOL)
    assert (z[:, 1] == 0).all()


@pytest.mark.parametrize("kernel", ["LINEAR", "RBF"])
@pytest.mark.parametrize("post", POSTS)
@pytest.mark.parametrize("n_classes,per_class", [(2, [3, 2]), (3, [2, 1, 3])])
def test_svc_platt_probabilities(kernel, post, n_classes, per_class):
    attrs = _svc_attrs(n_classes, per_class, proba=True)
    _check("SVMClassifier", _x(), kernel_type=kernel, kernel_params=PARAMS,
           post_transform=post, **attrs)  # fmt: skip


@pytest.mark.parametrize("post", POSTS)
@pytest.mark.parametrize("n_classes", [1, 2, 3])
@pytest.mark.parametrize("positive", [True, False])
def test_linear_svc(post, n_classes, positive):
    # No support vectors: liblinear's one row of coefficients per class.
    rng = _rng(3)
    coef = rng.standard_normal(n_classes * 4).round(3)
    if positive:
        coef = np.abs(coef)
    attrs = {
        "coefficients": coef.tolist(),
        "rho": [0.25],
        "kernel_params": PARAMS,
        "classlabels_ints": list(range(5, 5 + n_classes)),
    }
    _check("SVMClassifier", _x(seed=4), post_transform=post, **attrs)


def test_svc_int_input_and_single_row():
    attrs = _svc_attrs(3, [1, 1, 1])
    x = _rng(5).integers(-3, 3, (5, 4)).astype(np.int64)
    _check("SVMClassifier", x, kernel_type="RBF", kernel_params=PARAMS, **attrs)
    _check("SVMClassifier", _x(1), kernel_type="POLY", kernel_params=PARAMS, **attrs)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("one_class", [0, 1])
@pytest.mark.parametrize("post", ["NONE", "PROBIT", "LOGISTIC"])
def test_svm_regressor(kernel, one_class, post):
    # onnxruntime leaves post_transform unapplied in SVMRegressor; so does wasm_rt.
    rng = _rng(6)
    attrs = {
        "n_supports": 3,
        "support_vectors": rng.standard_normal(12).round(3).tolist(),
        "coefficients": rng.standard_normal(3).round(3).tolist(),
        "rho": [0.1],
        "kernel_type": kernel,
        "kernel_params": PARAMS,
        "one_class": one_class,
        "post_transform": post,
    }
    _check("SVMRegressor", _x(), 1, **attrs)


def test_linear_svm_regressor():
    attrs = {
        "coefficients": [0.5, -1.0, 0.25, 2.0],
        "rho": [-0.3],
        "kernel_params": PARAMS,
    }
    _check("SVMRegressor", _x(), 1, **attrs)
