"""onnxruntime's com.microsoft QLinearGlobalAveragePool and QLinearWhere.

QLinearGlobalAveragePool sums the 8-bit codes exactly in int32 and
requantizes once as MLAS does: float32(sum - zp * L) * (x_scale / (y_scale *
L)), round half to even, add the zero point, saturate.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument
from ..registry import register
from ._qgemm import requantize
from .contrib_qlinear import _lookup, check_q8, scalar_param

_F32 = np.float32
MS = "com.microsoft"


@register("QLinearGlobalAveragePool", since=1, domain=MS)
def qlinear_global_average_pool(x, x_scale, x_zero_point, y_scale, y_zero_point, *, channels_last=0):
    op = "QLinearGlobalAveragePool"
    check_q8(x, "X", op)
    if x.ndim < 3:
        raise InvalidArgument(f"{op}: X must be [N, C, spatial...], got shape {x.shape}")
    sx = scalar_param(x_scale, "x_scale", op, np.float32)
    sy = scalar_param(y_scale, "y_scale", op, np.float32)
    zx = int(scalar_param(x_zero_point, "x_zero_point", op, x.dtype))
    zy = scalar_param(y_zero_point, "y_zero_point", op, x.dtype)
    axes = tuple(range(1, x.ndim - 1)) if channels_last else tuple(range(2, x.ndim))
    size = int(np.prod([x.shape[a] for a in axes]))
    acc = x.astype(np.int32).sum(axis=axes, keepdims=True, dtype=np.int64) - zx * size
    scale = sx / (sy * _F32(size))
    return requantize(acc.astype(np.int32), scale, zy, x.dtype)


@register("QLinearWhere", since=1, domain=MS)
def qlinear_where(condition, x, x_scale, x_zero_point, y, y_scale, y_zero_point, z_scale, z_zero_point):
    op = "QLinearWhere"
    if condition.dtype != np.bool_:
        raise InvalidArgument(f"{op}: condition must be bool, got {condition.dtype}")
    check_q8(x, "X", op)
    if y.dtype != x.dtype:
        raise InvalidArgument(f"{op}: X is {x.dtype} but Y is {y.dtype}")
    sz = scalar_param(z_scale, "z_scale", op, np.float32)
    zz = scalar_param(z_zero_point, "z_zero_point", op, x.dtype)
    parts = []
    for v, s, z, name in ((x, x_scale, x_zero_point, "x"), (y, y_scale, y_zero_point, "y")):
        s = scalar_param(s, f"{name}_scale", op, np.float32)
        z = scalar_param(z, f"{name}_zero_point", op, x.dtype)
        # Requantized to Z through onnxruntime's identity lookup table.
        same = s == sz and z == zz
        parts.append(v if same else _lookup(op, v, s, z, sz, zz, lambda t: t))
    return np.where(condition, parts[0], parts[1])
