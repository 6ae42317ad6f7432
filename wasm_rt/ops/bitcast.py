"""BitCast: reinterpret a tensor's bytes as another type of the same width."""

from __future__ import annotations

from ..dtypes import to_numpy
from ..registry import register
from ..shape_rules import T, type_of_code


def _bitcast_shape(ctx):
    """Same shape, element type ``to`` (the widths must match, the kernel checks)."""
    return T(type_of_code(ctx.attr("to")), ctx.shape(0))


@register("BitCast", since=26, shape=_bitcast_shape)
def bitcast(x, *, to):
    target = to_numpy(to)
    if x.dtype == object or target == object:
        raise ValueError("BitCast: string tensors have no fixed bit width to reinterpret")
    if x.dtype.itemsize != target.itemsize:
        raise ValueError(
            f"BitCast: {x.dtype} ({8 * x.dtype.itemsize} bits) and {target} "
            f"({8 * target.itemsize} bits) differ in width"
        )
    # view() needs contiguous memory; ascontiguousarray would turn a scalar into (1,).
    return (x if x.flags.c_contiguous else x.copy()).view(target)
