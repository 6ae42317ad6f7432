"""Shape rule of Einsum (its kernel's module, ops/linalg.py, is edited elsewhere)."""

from __future__ import annotations

import string

from .registry import shape_rule
from .shape_inference import RuleContext, RuleError
from .shape_rules import (
    T,
    broadcast_shapes,
)
from .symbolic import DimLike

# --- Einsum ------------------------------------------------------------------------


@shape_rule("Einsum")
def _einsum(ctx: RuleContext):
    eq = ctx.attr("equation", "").replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    shapes = [ctx.shape(i) for i in range(len(terms))]
    elem = ctx.elem(0)
    if any(s is None for s in shapes):
        return T(elem, None)
    sizes: dict[str, DimLike] = {}
    ell: tuple = ()
    for term, shape in zip(terms, shapes):
        letters = term.replace("...", ".")
        n_ell = len(shape) - (len(letters) - letters.count("."))
        k = 0
        for ch in letters:
            if ch == ".":
                ell = broadcast_shapes(ell, tuple(shape[k : k + n_ell]))
                k += n_ell
            else:
                d = shape[k]
                prev = sizes.get(ch)
                sizes[ch] = d if prev is None or prev == 1 else prev
                if (
                    isinstance(prev, int)
                    and isinstance(d, int)
                    and prev != d
                    and 1 not in (prev, d)
                ):
                    raise RuleError(f"Einsum label '{ch}' has sizes {prev} and {d}")
                k += 1
    if not arrow:
        counts = {ch: lhs.count(ch) for ch in set(lhs) if ch in string.ascii_letters}
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c, n in counts.items() if n == 1)
        )
    out: list = []
    for ch in rhs.replace("...", "."):
        out.extend(ell if ch == "." else (sizes[ch],))
    return T(elem, out)
