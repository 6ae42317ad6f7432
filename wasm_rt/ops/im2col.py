"""Patch-based ops: Col2Im and DeformConv.

DeformConv gathers a deformed im2col matrix (one bilinear sample per kernel
tap, output position and channel) and contracts it with the weights by one
grouped matmul.
"""

from __future__ import annotations

import math

import numpy as np

from ..limits import check_alloc
from ..registry import register
from ._common import as_int_list


@register("Col2Im", since=18)
def col2im(data, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    image = as_int_list(image_shape)
    block = as_int_list(block_shape)
    r = len(image)
    dilations = list(dilations or [1] * r)
    pads = list(pads or [0] * (2 * r))
    strides = list(strides or [1] * r)
    n, ck, length = data.shape
    k = math.prod(block)
    if len(block) != r or ck % k:
        raise ValueError(f"Col2Im: input {data.shape} does not hold blocks of shape {block} for image {image}")
    c = ck // k
    blocks = [
        (image[i] + pads[i] + pads[i + r] - dilations[i] * (block[i] - 1) - 1) // strides[i] + 1
        for i in range(r)
    ]
    if math.prod(blocks) != length:
        raise ValueError(f"Col2Im: {length} columns, but the image/block/stride settings give {blocks}")
    check_alloc((n, c) + tuple(image), data.dtype, "Col2Im output")
    # Image position of every (kernel offset, block position) pair, per axis.
    pos = []
    for i in range(r):
        kk = np.arange(block[i])[:, None] * dilations[i]
        ll = np.arange(blocks[i])[None, :] * strides[i] - pads[i]
        pos.append(kk + ll)  # (block_i, blocks_i)
    grids = np.meshgrid(*[p.reshape(-1) for p in pos], indexing="ij")
    # meshgrid over flattened (k_i, l_i) pairs; reorder to (k..., l...) to match data.
    shape = [d for i in range(r) for d in (block[i], blocks[i])]
    order = [2 * i for i in range(r)] + [2 * i + 1 for i in range(r)]
    coords = [g.reshape(shape).transpose(order).reshape(k, length) for g in grids]
    inside = np.all([(p >= 0) & (p < image[i]) for i, p in enumerate(coords)], axis=0)
    flat = np.ravel_multi_index([np.where(inside, p, 0) for p in coords], image)
    out = np.zeros((math.prod(image), n * c), dtype=data.dtype)
    vals = data.reshape(n * c, k * length).T
    np.add.at(out, flat.reshape(-1)[inside.reshape(-1)], vals[inside.reshape(-1)])
    return out.T.reshape((n, c) + tuple(image))


def _deform_conv(x, w, offset, b, mask, *, dilations, group, kernel_shape, offset_group, pads, strides):
    if x.ndim != 4:
        raise ValueError(f"DeformConv: only 2-D images (N, C, H, W) are supported, got {x.shape}")
    n, c, h, wd = x.shape
    oc = w.shape[0]
    kh, kw = kernel_shape or w.shape[2:]
    dh, dw = dilations or (1, 1)
    sh, sw = strides or (1, 1)
    pt, pl, pb, pr = pads or (0, 0, 0, 0)
    oh = (h + pt + pb - (dh * (kh - 1) + 1)) // sh + 1
    ow = (wd + pl + pr - (dw * (kw - 1) + 1)) // sw + 1
    og = offset_group
    if c != w.shape[1] * group or oc % group or c % og or offset.shape != (n, og * kh * kw * 2, oh, ow):
        raise ValueError(
            f"DeformConv: X {x.shape}, W {w.shape}, offset {offset.shape} are inconsistent with "
            f"group={group}, offset_group={og}, kernel ({kh}, {kw}) and output ({oh}, {ow})"
        )
    check_alloc((n, c, kh * kw, oh * ow), x.dtype, "DeformConv sampled columns")
    dt = np.dtype(np.float64) if x.dtype == np.float64 else np.dtype(np.float32)
    off = offset.astype(dt).reshape(n, og, kh, kw, 2, oh, ow)
    ky = (np.arange(kh) * dh)[:, None, None, None]
    kx = (np.arange(kw) * dw)[None, :, None, None]
    oy = (np.arange(oh) * sh - pt)[None, None, :, None]
    ox = (np.arange(ow) * sw - pl)[None, None, None, :]
    py = ky + oy + off[:, :, :, :, 0]  # (n, og, kh, kw, oh, ow)
    px = kx + ox + off[:, :, :, :, 1]
    y0, x0 = np.floor(py), np.floor(px)
    fy, fx = py - y0, px - x0
    y0, x0 = y0.astype(np.int64), x0.astype(np.int64)
    xg = x.astype(dt, copy=False).reshape(n, og, c // og, h, wd)
    ni = np.arange(n).reshape(n, 1, 1, 1, 1, 1)
    gi = np.arange(og).reshape(1, og, 1, 1, 1, 1)
    cols = np.zeros((n, og, kh, kw, oh, ow, c // og), dtype=dt)
    # Bilinear sampling where corners outside the image read as zero.
    for yy, xx, wgt in ((y0, x0, (1 - fy) * (1 - fx)), (y0, x0 + 1, (1 - fy) * fx),
                        (y0 + 1, x0, fy * (1 - fx)), (y0 + 1, x0 + 1, fy * fx)):
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < wd)
        v = xg[ni, gi, :, np.clip(yy, 0, h - 1), np.clip(xx, 0, wd - 1)]
        cols += (wgt * inside)[..., None] * v
    if mask is not None:
        cols *= mask.astype(dt).reshape(n, og, kh, kw, oh, ow)[..., None]
    # -> (n, c, kh*kw, oh*ow), channels in X order, then grouped matmul.
    cols = cols.transpose(0, 1, 6, 2, 3, 4, 5).reshape(n, group, (c // group) * kh * kw, oh * ow)
    wm = w.astype(dt, copy=False).reshape(group, oc // group, -1)
    y = np.matmul(wm[None], cols).reshape(n, oc, oh, ow)
    if b is not None:
        y = y + b.astype(dt).reshape(1, oc, 1, 1)
    return y.astype(x.dtype, copy=False)


@register("DeformConv", since=19)
def deform_conv(x, w, offset, b=None, mask=None, *, dilations=None, group=1, kernel_shape=None, offset_group=1, pads=None, strides=None):
    return _deform_conv(x, w, offset, b, mask, dilations=dilations, group=group, kernel_shape=kernel_shape, offset_group=offset_group, pads=pads, strides=strides)
