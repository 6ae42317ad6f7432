"""ai.onnx.ml support vector machines: SVMClassifier, SVMRegressor.

The spec leaves the score layout of binary and probability models open; this
follows onnxruntime, which libsvm-converted models are validated against:

* SVC (support vectors given): one decision value per class pair (i < j) in
  libsvm's order, each ``coef[j-1, sv_i] . k_i + coef[i, sv_j] . k_j + rho``; a
  pair votes for i when its value is > 0 and the label is the most voted class.
  Without prob_a the scores are the pair values (two classes: ``[-s, s]`` under
  NONE, ``[sigmoid(-s), sigmoid(s)]`` under LOGISTIC, ``[probit(s), 0]`` under
  PROBIT and ``[1 - s, s]`` otherwise, as onnxruntime writes them); with prob_a/prob_b
  they are libsvm's pairwise-coupled Platt probabilities, one per class.
* Linear (no support vectors): ``X . coef[c] + rho[0]`` per class; a two-class
  model picks its label from the scores as onnxruntime's ChooseClass does.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument
from ..limits import check_alloc
from ..registry import ML_DOMAIN, register
from .ml import as_matrix, class_labels, post_transform_scores

_KERNELS = ("LINEAR", "POLY", "RBF", "SIGMOID")
f32 = np.float32


def _kernel(x, sv, kernel_type: str, kernel_params) -> np.ndarray:
    """(N, V) kernel values of the samples against the support vectors."""
    if kernel_type not in _KERNELS:
        raise InvalidArgument(
            f"SVM kernel_type must be one of {', '.join(_KERNELS)}, got {kernel_type!r}"
        )
    gamma, coef0, degree = (list(kernel_params or []) + [0.0, 0.0, 0.0])[:3]
    gamma, coef0 = f32(gamma), f32(coef0)
    check_alloc((x.shape[0], sv.shape[0]), f32, "SVM kernel matrix")
    if kernel_type == "RBF":
        d = x[:, None, :] - sv[None, :, :]
        return np.exp(-gamma * np.einsum("nvf,nvf->nv", d, d))
    dot = x @ sv.T
    if kernel_type == "LINEAR":
        return dot
    dot = gamma * dot + coef0
    if kernel_type == "POLY":
        return np.power(dot, f32(degree))
    return np.tanh(dot)


def _support_vectors(support_vectors, n_vectors: int, n_features: int, what: str):
    sv = np.asarray(support_vectors or [], f32)
    if sv.size != n_vectors * n_features:
        raise InvalidArgument(
            f"{what}: {sv.size} support_vectors values do not make {n_vectors} "
            f"vectors of {n_features} features"
        )
    return sv.reshape(n_vectors, n_features)


def _logistic(v):
    with np.errstate(over="ignore"):
        p = f32(1) / (f32(1) + np.exp(-np.abs(v)))
    return np.where(v < 0, f32(1) - p, p)


def _coupled_probabilities(r: np.ndarray) -> np.ndarray:
    """libsvm's multiclass_probability on (N, C, C) pairwise estimates, in float32.

    The fixed-point iteration runs for every row at once; a row that reached
    the stopping criterion keeps its p (per-row mask), as the scalar loop would.
    """
    n, c = r.shape[:2]
    q = np.zeros((n, c, c), f32)
    for i in range(c):
        for j in range(c):
            if j != i:
                q[:, i, i] += r[:, j, i] * r[:, j, i]
        for j in range(i):
            q[:, i, j] = q[:, j, i]
        for j in range(i + 1, c):
            q[:, i, j] = -r[:, j, i] * r[:, i, j]
    p = np.full((n, c), f32(1) / f32(c), f32)
    eps = f32(0.005) / f32(c)
    active = np.ones(n, bool)
    for _ in range(100):
        qp = np.zeros((n, c), f32)
        for j in range(c):
            qp += q[:, :, j] * p[:, j : j + 1]
        pqp = np.zeros(n, f32)
        for i in range(c):
            pqp += p[:, i] * qp[:, i]
        active &= np.abs(qp - pqp[:, None]).max(axis=1) >= eps
        if not active.any():
            break
        for i in range(c):
            qii = q[:, i, i]
            diff = (-qp[:, i] + pqp) / qii
            new_p = p[:, i] + diff
            p[:, i] = np.where(active, new_p, p[:, i])
            one = f32(1) + diff
            new_pqp = (pqp + diff * (diff * qii + f32(2) * qp[:, i])) / one / one
            pqp = np.where(active, new_pqp, pqp)
            qp = np.where(
                active[:, None], (qp + diff[:, None] * q[:, i, :]) / one[:, None], qp
            )
            p = np.where(active[:, None], p / one[:, None], p)
    return p


def _pair_values(kern, coef, rho, starts, counts, c: int) -> np.ndarray:
    """(N, C(C-1)/2) libsvm decision values; products in float32 summed in float64."""
    values = []
    k = 0
    for i in range(c - 1):
        si = slice(starts[i], starts[i] + counts[i])
        for j in range(i + 1, c):
            sj = slice(starts[j], starts[j] + counts[j])
            s = (coef[j - 1, si] * kern[:, si]).astype(np.float64).sum(axis=1)
            s += (coef[i, sj] * kern[:, sj]).astype(np.float64).sum(axis=1)
            values.append(s + np.float64(rho[k]))
            k += 1
    return np.stack(values, axis=1).astype(f32)


@register("SVMClassifier", since=1, domain=ML_DOMAIN)
def svm_classifier(
    x,
    *,
    classlabels_ints=None,
    classlabels_strings=None,
    coefficients=None,
    kernel_params=None,
    kernel_type="LINEAR",
    post_transform="NONE",
    prob_a=None,
    prob_b=None,
    rho=None,
    support_vectors=None,
    vectors_per_class=None,
):
    what = "SVMClassifier"
    labels = class_labels(classlabels_ints, classlabels_strings, what)
    c = len(labels)
    coef = np.asarray(coefficients or [], f32)
    rho = np.asarray(rho or [], f32)
    prob_a = np.asarray(prob_a or [], f32)
    prob_b = np.asarray(prob_b or [], f32)
    if c == 0 or coef.size == 0:
        raise InvalidArgument(f"{what}: needs class labels and coefficients")
    if prob_a.size != prob_b.size:
        raise InvalidArgument(f"{what}: prob_a and prob_b must have the same length")
    xf = as_matrix(x, what)
    counts = [int(v) for v in (vectors_per_class or [])]
    n_vectors = sum(counts)
    if n_vectors == 0:
        return _linear_svc(xf, labels, coef, rho, prob_a.size > 0, post_transform)

    if len(counts) != c or c < 2:
        raise InvalidArgument(
            f"{what}: vectors_per_class has {len(counts)} entries for {c} class labels "
            "(an SVC model needs one per class and at least 2 classes)"
        )
    n_pairs = c * (c - 1) // 2
    if coef.size < (c - 1) * n_vectors or rho.size < n_pairs:
        raise InvalidArgument(
            f"{what}: expected {(c - 1) * n_vectors} coefficients and {n_pairs} rho "
            f"values, got {coef.size} and {rho.size}"
        )
    if prob_a.size and prob_a.size < n_pairs:
        raise InvalidArgument(f"{what}: prob_a/prob_b need {n_pairs} values")
    sv = _support_vectors(support_vectors, n_vectors, xf.shape[1], what)
    kern = _kernel(xf, sv, kernel_type, kernel_params).astype(f32, copy=False)
    coef = coef[: (c - 1) * n_vectors].reshape(c - 1, n_vectors)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
    values = _pair_values(kern, coef, rho, starts, counts, c)

    votes = np.zeros((xf.shape[0], c), np.int64)
    pairs = [(i, j) for i in range(c - 1) for j in range(i + 1, c)]
    for k, (i, j) in enumerate(pairs):
        votes[:, i] += values[:, k] > 0
        votes[:, j] += values[:, k] <= 0
    y = labels[np.argmax(votes, axis=1)]

    if prob_a.size:
        pr = _logistic(values * prob_a[:n_pairs] + prob_b[:n_pairs])
        pr = np.clip(f32(1) - pr, f32(1e-7), f32(1) - f32(1e-7))
        r = np.zeros((xf.shape[0], c, c), f32)
        for k, (i, j) in enumerate(pairs):
            r[:, i, j] = pr[:, k]
            r[:, j, i] = f32(1) - pr[:, k]
        return y, post_transform_scores(_coupled_probabilities(r), post_transform)
    if c > 2:
        return y, post_transform_scores(values, post_transform)
    s = values[:, 0]
    if post_transform == "PROBIT":
        # onnxruntime transforms the one value and never writes the second
        # column (uninitialized memory there); wasm_rt writes 0.
        first = post_transform_scores(s[:, None], "PROBIT")[:, 0]
        return y, np.stack([first, np.zeros_like(first)], axis=1)
    if post_transform == "LOGISTIC":
        return y, np.stack([_logistic(-s), _logistic(s)], axis=1)
    first = -s if post_transform == "NONE" else f32(1) - s
    return y, np.stack([first, s], axis=1).astype(f32)


def _linear_svc(xf, labels, coef, rho, have_proba, post_transform):
    """liblinear mode: one coefficient row per class, rho[0] added to every score."""
    c = len(labels)
    if coef.size % c or coef.size // c != xf.shape[1]:
        raise InvalidArgument(
            f"SVMClassifier: {coef.size} coefficients do not make {c} rows of "
            f"{xf.shape[1]} features"
        )
    if rho.size < 1:
        raise InvalidArgument("SVMClassifier: rho needs at least one value")
    scores = (xf @ coef.reshape(c, -1).T + rho[0]).astype(f32)
    best = np.argmax(scores, axis=1)
    y = labels[best]
    if c == 2 and not have_proba:
        # onnxruntime's ChooseClass for two labels without probabilities.
        top = scores.max(axis=1)
        positive = bool((coef >= 0).all())
        second = top >= 0.5 if positive else top > 0
        y = np.where(second, labels[1], labels[best]).astype(labels.dtype)
    if c == 1 and post_transform != "PROBIT":
        return y, scores  # one score per row: onnxruntime applies only PROBIT
    return y, post_transform_scores(scores, post_transform)


@register("SVMRegressor", since=1, domain=ML_DOMAIN)
def svm_regressor(
    x,
    *,
    coefficients=None,
    kernel_params=None,
    kernel_type="LINEAR",
    n_supports=0,
    one_class=0,
    post_transform="NONE",
    rho=None,
    support_vectors=None,
):
    """(N, 1) regression values; one_class gives +1 / -1 by the sign of the value.

    onnxruntime ignores post_transform here (its one-target update applies only
    PROBIT and it never calls it); wasm_rt does the same so outputs agree.
    """
    what = "SVMRegressor"
    xf = as_matrix(x, what)
    coef = np.asarray(coefficients or [], f32)
    rho = np.asarray(rho or [], f32)
    if rho.size < 1:
        raise InvalidArgument(f"{what}: rho needs one value")
    if n_supports > 0:
        if coef.size != n_supports:
            raise InvalidArgument(
                f"{what}: {coef.size} coefficients for {n_supports} support vectors"
            )
        sv = _support_vectors(support_vectors, n_supports, xf.shape[1], what)
        kern = _kernel(xf, sv, kernel_type, kernel_params).astype(f32, copy=False)
        score = kern @ coef + rho[0]
    else:
        if coef.size != xf.shape[1]:
            raise InvalidArgument(
                f"{what}: {coef.size} coefficients for {xf.shape[1]} features"
            )
        score = xf @ coef + rho[0]
    score = score.astype(f32)[:, None]
    if one_class:
        score = np.where(score > 0, f32(1), f32(-1))
    return score
