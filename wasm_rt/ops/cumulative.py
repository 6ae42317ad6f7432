"""CumProd (CumSum lives with the other reductions)."""

from __future__ import annotations

import numpy as np

from ..registry import register, shape_rule
from ..shape_rules import unary
from ._common import as_int_list, normalize_axis


@register("CumProd", since=26)
def cumprod(x, axis, *, exclusive=0, reverse=0):
    (ax,) = as_int_list(axis)
    ax = normalize_axis(ax, x.ndim)
    v = np.flip(x, ax) if reverse else x
    y = np.cumprod(v, axis=ax, dtype=x.dtype)
    if exclusive and x.shape[ax]:
        # Shift by one along the axis, starting from the multiplicative identity.
        head = np.ones_like(np.take(y, [0], axis=ax))
        y = np.concatenate([head, np.take(y, np.arange(x.shape[ax] - 1), axis=ax)], axis=ax)
    return np.flip(y, ax) if reverse else y


# --- shape rules -----------------------------------------------------------


shape_rule(("CumProd",))(unary)
