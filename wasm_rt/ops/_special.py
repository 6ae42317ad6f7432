"""Special functions numpy lacks (numpy has no erf; scipy is too heavy for Pyodide)."""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial import Chebyshev, Polynomial

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)

# --- float64: series and continued fraction ---------------------------------
# Below the switch the all-positive series has no cancellation; above it the
# continued fraction for erfc converges fast.  Both term counts were checked
# against math.erf over [-7, 7]: at most 10 float64 ulp.
_SWITCH = 2.0
_SERIES_TERMS = 60
_CF_TERMS = 60


def _erf_float64(v: np.ndarray) -> np.ndarray:
    a = np.abs(v)
    small = a < _SWITCH
    result = np.empty_like(v)

    # erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (1*3*...*(2n+1))
    s = v[small]
    s2 = 2.0 * s * s
    term = s.copy()
    total = s.copy()
    for n in range(1, _SERIES_TERMS):
        term = term * s2 / (2 * n + 1)
        total = total + term
    result[small] = _TWO_OVER_SQRT_PI * np.exp(-s * s) * total

    # erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
    big = ~small
    b = np.minimum(a[big], 30.0)  # erfc underflows to 0 long before 30
    frac = b.copy()
    for k in range(_CF_TERMS, 0, -1):
        frac = b + (k / 2.0) / frac
    erfc = _INV_SQRT_PI * np.exp(-b * b) / frac
    result[big] = np.copysign(1.0 - erfc, v[big])
    result[np.isnan(v)] = np.nan
    return result


# --- float32 and narrower: two fitted polynomials ----------------------------
# erf(x) = x * g(x^2) for |x| < 2 and 1 - exp(-x^2) * r(x) for 2 <= |x| < 4;
# beyond 4 erf rounds to +-1 in float32.  g and r are smooth, so degree-13
# Chebyshev interpolants (fitted once at import from math.erf/erfc), evaluated
# in float64, round to the correctly rounded float32 erf on a 400k-point grid
# over [0, 7], at ~3x the speed of the float64 path.
_DEGREE = 13
_MID, _TOP = 2.0, 4.0


def _fit(f, lo: float, hi: float):
    """(offset, scale, power coefficients) of f's interpolant on [lo, hi]."""
    nodes_f = np.vectorize(f, otypes=[float])
    poly = Chebyshev.interpolate(nodes_f, _DEGREE, domain=[lo, hi])
    poly = poly.convert(kind=Polynomial, domain=[lo, hi])
    offset, scale = poly.mapparms()
    return float(offset), float(scale), poly.coef[::-1].copy()


def _erf_over_x_of_square(t: float) -> float:
    x = math.sqrt(t)
    return math.erf(x) / x if x > 0 else _TWO_OVER_SQRT_PI


def _scaled_erfc(x: float) -> float:
    return math.erfc(x) * math.exp(x * x)


_G = _fit(_erf_over_x_of_square, 0.0, _MID * _MID)
_R = _fit(_scaled_erfc, _MID, _TOP)


def _horner(fit, t: np.ndarray) -> np.ndarray:
    offset, scale, coef = fit
    u = offset + scale * t
    acc = np.full_like(u, coef[0])
    for c in coef[1:]:
        acc *= u
        acc += c
    return acc


def _erf_narrow(v: np.ndarray) -> np.ndarray:
    a = np.minimum(np.abs(v), _TOP)
    out = _horner(_G, a * a)
    out *= a
    big = np.flatnonzero(a >= _MID)
    b = a[big]
    out[big] = 1.0 - np.exp(-b * b) * _horner(_R, b)
    return np.copysign(out, v)  # NaN stays NaN through every step


def erf(x: np.ndarray) -> np.ndarray:
    """Error function in x's dtype (float64 for integer input)."""
    x = np.asarray(x)
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    v = x.astype(np.float64).reshape(-1)  # the helpers index a flat array
    with np.errstate(all="ignore"):
        result = _erf_float64(v) if out_dtype == np.float64 else _erf_narrow(v)
    return result.astype(out_dtype, copy=False).reshape(x.shape)
