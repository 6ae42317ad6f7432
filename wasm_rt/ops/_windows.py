"""Sliding-window geometry shared by Conv and the pooling ops.

Both families describe windows the same way (kernel shape, strides,
dilations, explicit pads or ``auto_pad``); keeping the output-size rules in one
place means a fix to, say, ``ceil_mode`` reaches every op that uses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..limits import check_alloc


def _decode(s) -> str:
    return s.decode() if isinstance(s, bytes) else str(s)


@dataclass(frozen=True)
class Windows:
    """Per spatial axis: kernel, stride, dilation, begin/end pad and output size."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads_begin: tuple[int, ...]
    pads_end: tuple[int, ...]
    out: tuple[int, ...]

    @property
    def extent(self) -> tuple[int, ...]:
        """Span of one dilated window along each axis."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilations))


def _per_axis(values, nd: int, default: int, name: str) -> tuple[int, ...]:
    if values is None or len(values) == 0:
        return (default,) * nd
    values = tuple(int(v) for v in values)
    if len(values) != nd:
        raise ValueError(
            f"{name} has {len(values)} values, expected {nd} (one per spatial axis)"
        )
    return values


def plan_windows(
    spatial,
    kernel,
    *,
    strides=None,
    dilations=None,
    pads=None,
    auto_pad="NOTSET",
    ceil_mode: int = 0,
) -> Windows:
    """Resolve pads and output sizes for windows sliding over ``spatial``."""
    spatial = tuple(int(s) for s in spatial)
    nd = len(spatial)
    kernel = _per_axis(kernel, nd, 1, "kernel_shape")
    strides = _per_axis(strides, nd, 1, "strides")
    dilations = _per_axis(dilations, nd, 1, "dilations")
    if min(strides + dilations + kernel, default=1) < 1:
        raise ValueError(
            f"kernel_shape {kernel}, strides {strides} and dilations {dilations} "
            "must all be positive"
        )
    extent = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilations))
    auto_pad = _decode(auto_pad)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = tuple(-(-n // s) for n, s in zip(spatial, strides))
        total = [
            max(0, (o - 1) * s + e - n)
            for o, s, e, n in zip(out, strides, extent, spatial)
        ]
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        # SAME_UPPER puts the odd pixel of padding at the end, SAME_LOWER at the start.
        begin, end = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
        return Windows(kernel, strides, dilations, tuple(begin), tuple(end), out)
    if auto_pad == "VALID":
        begin = end = (0,) * nd
    elif auto_pad == "NOTSET":
        p = (
            _per_axis(pads, 2 * nd, 0, "pads")
            if pads is not None and len(pads)
            else (0,) * (2 * nd)
        )
        begin, end = p[:nd], p[nd:]
    else:
        raise ValueError(
            f"auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got {auto_pad!r}"
        )
    out = []
    for n, b, e_, ext, s in zip(spatial, begin, end, extent, strides):
        span = n + b + e_ - ext
        if span < 0:
            raise ValueError(
                f"window of extent {ext} does not fit an axis of size {n} padded by ({b}, {e_})"
            )
        if ceil_mode:
            o = -(-span // s) + 1
            # The last window must start inside the input or the begin padding,
            # never entirely in the implicit end padding ceil_mode adds.
            if (o - 1) * s >= n + b:
                o -= 1
        else:
            o = span // s + 1
        out.append(o)
    return Windows(kernel, strides, dilations, tuple(begin), tuple(end), tuple(out))


def pad_for_windows(x: np.ndarray, w: Windows, value, what: str) -> np.ndarray:
    """``x`` padded so every window of ``w`` lies inside it (pads may be negative)."""
    spatial = x.shape[2:]
    # ceil_mode windows may run past the explicit end pad; pad those too.
    ends = [
        max(e, (o - 1) * s + ext - n - b)
        for n, b, e, o, s, ext in zip(
            spatial, w.pads_begin, w.pads_end, w.out, w.strides, w.extent
        )
    ]
    begins = list(w.pads_begin)
    if any(b < 0 for b in begins) or any(e < 0 for e in ends):
        # Negative pads crop; apply the crop first and pad the rest.
        crop = (slice(None), slice(None)) + tuple(
            slice(max(0, -b), n - max(0, -e)) for b, e, n in zip(begins, ends, spatial)
        )
        x = x[crop]
        begins = [max(0, b) for b in begins]
        ends = [max(0, e) for e in ends]
    if not any(begins) and not any(ends):
        return x
    shape = x.shape[:2] + tuple(n + b + e for n, b, e in zip(x.shape[2:], begins, ends))
    check_alloc(shape, x.dtype, what)
    xp = np.full(shape, value, dtype=x.dtype)
    inner = (slice(None), slice(None)) + tuple(
        slice(b, b + n) for b, n in zip(begins, x.shape[2:])
    )
    xp[inner] = x
    return xp


def window_view(xp: np.ndarray, w: Windows) -> np.ndarray:
    """A read-only (N, C, *out, *kernel) view of the windows over padded ``xp``."""
    lead = xp.shape[:2]
    sp_strides = xp.strides[2:]
    shape = lead + w.out + w.kernel
    strides = (
        xp.strides[:2]
        + tuple(st * s for st, s in zip(sp_strides, w.strides))
        + tuple(st * d for st, d in zip(sp_strides, w.dilations))
    )
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def window_size(w: Windows) -> int:
    return math.prod(w.kernel)
