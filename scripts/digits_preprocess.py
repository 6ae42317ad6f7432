"""The demo page's drawing-to-8x8 preprocessing, ported from wasm_rt/web/app.js (``padToPixels``).

Both implementations use integer arithmetic only, so for the same ink mask they give
bit-identical results (tests/browser/test_demo_browser.py checks that on drawings made
in chromium). scripts/train_digits.py pushes its augmented training images through the
same function, so the model sees what the page will feed it.

The steps, as in scikit-learn's digits data set (32x32 bitmaps counted in 4x4 blocks):

1. ink = red channel < 128; crop to the ink's bounding box;
2. centre the box in a square of side max(width, height) and map that square onto a
   32x32 grid: cell t covers source rows/columns [t*S//32, max(t*S//32 + 1, (t+1)*S//32));
   a cell is ink when at least half of its source pixels are;
3. thicken: the data set's strokes fill ~30% of the 32x32 bitmap while a mouse stroke of
   the pad's 18 px width fills ~10%, so grow the ink by one pixel (4-neighbourhood) while
   fewer than ``TARGET_INK`` cells are set, at most ``MAX_GROW`` times;
4. count the ink in each 4x4 block: 0..16.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

INK_BELOW = 128  # a pad pixel is ink when its red channel is below this
GRID = 32
TARGET_INK = 240
MAX_GROW = 3


def ink_mask(rgba: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bool [height, width] from canvas ``getImageData`` bytes (RGBA, row major)."""
    rgba = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)
    return rgba[..., 0] < INK_BELOW


def _grow(on: np.ndarray) -> np.ndarray:
    out = on.copy()
    out[1:, :] |= on[:-1, :]
    out[:-1, :] |= on[1:, :]
    out[:, 1:] |= on[:, :-1]
    out[:, :-1] |= on[:, 1:]
    return out


def to_grid(ink: np.ndarray) -> np.ndarray | None:
    """Bool [32, 32] bitmap (steps 1-3) from a bool ink mask of any size; None if blank."""
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    bw, bh = int(x1 - x0 + 1), int(y1 - y0 + 1)
    side = max(bw, bh)
    ox, oy = (side - bw) // 2, (side - bh) // 2
    square = np.zeros((side, side), np.int64)
    square[oy : oy + bh, ox : ox + bw] = ink[y0 : y1 + 1, x0 : x1 + 1]
    sat = np.zeros((side + 1, side + 1), np.int64)  # summed-area table
    sat[1:, 1:] = square.cumsum(0).cumsum(1)
    edges = np.arange(GRID + 1) * side // GRID
    lo = edges[:-1]
    hi = np.maximum(lo + 1, edges[1:])
    count = (
        sat[hi[:, None], hi[None, :]]
        - sat[lo[:, None], hi[None, :]]
        - sat[hi[:, None], lo[None, :]]
        + sat[lo[:, None], lo[None, :]]
    )
    total = (hi - lo)[:, None] * (hi - lo)[None, :]
    on = 2 * count >= total
    for _ in range(MAX_GROW):
        if on.sum() >= TARGET_INK:
            break
        on = _grow(on)
    return on


def to_pixels(ink: np.ndarray) -> np.ndarray | None:
    """Float32 [8, 8], values 0..16, from a bool ink mask; None if nothing is drawn."""
    on = to_grid(ink)
    if on is None:
        return None
    return on.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.float32)


def draw_strokes(strokes, size: int = 256, width: float = 18.0) -> np.ndarray:
    """Approximate ink mask of the pad after drawing polylines with a round pen.

    A pixel is ink when its centre lies within width/2 of a stroke (the canvas
    antialiases the edge; the 50% coverage line is where the threshold falls).
    """
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    ink = np.zeros((size, size), bool)
    r2 = (width / 2) ** 2
    for stroke in strokes:
        pts = np.asarray(stroke, float)
        if len(pts) == 1:
            pts = np.vstack([pts, pts])
        for (ax, ay), (bx, by) in pairwise(pts):
            dx, dy = bx - ax, by - ay
            ll = dx * dx + dy * dy
            t = (
                0.0
                if ll == 0
                else np.clip(((xx - ax) * dx + (yy - ay) * dy) / ll, 0, 1)
            )
            d2 = (xx - ax - t * dx) ** 2 + (yy - ay - t * dy) ** 2
            ink |= d2 <= r2
    return ink
