"""Symbolic tensor dimensions: ints, named symbols (``batch``) and expressions of them.

A :class:`Dim` is a polynomial with integer coefficients over *atoms*: symbol
names and the non-polynomial forms ``floor(a/b)``, ``a % b``, ``Min(..)`` and
``Max(..)``.  Keeping every expression in one canonical polynomial form is the
simplification: ``seq + past - past`` is ``seq``, ``2*(n + 1) - 2`` is ``2*n``,
and equal expressions compare and hash equal.  Whenever an expression has no
symbol left it is returned as a plain ``int``, so shapes hold ``int | Dim``.

``str()`` follows the spelling onnxruntime's symbolic shape inference prints
(sympy's): ``past + seq``, ``2*seq``, ``floor(seq/2)``, ``Min(a, b)``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from typing import Union

DimLike = Union[int, "Dim"]

# A monomial is a sorted tuple of atoms (repeats = powers); () is the constant.
# An atom is a symbol name (str) or a tuple (kind, operand Dims...).


def _atom_key(atom) -> str:
    return atom if isinstance(atom, str) else _atom_str(atom)


def _atom_str(atom) -> str:
    if isinstance(atom, str):
        return atom
    kind, *args = atom
    if kind == "floordiv":
        return f"floor({_paren(args[0])}/{_paren(args[1])})"
    if kind == "ceildiv":
        return f"ceiling({_paren(args[0])}/{_paren(args[1])})"
    if kind == "mod":
        return f"Mod({args[0]}, {args[1]})"
    return f"{kind}({', '.join(str(a) for a in args)})"


def _paren(d: DimLike) -> str:
    s = str(d)
    return f"({s})" if isinstance(d, Dim) and len(d.terms) > 1 else s


class Dim:
    """A symbolic dimension; build with :func:`sym` and ordinary arithmetic."""

    __slots__ = ("_hash", "terms")

    def __init__(self, terms: Mapping[tuple, int]):
        self.terms = {m: c for m, c in terms.items() if c}
        self._hash = hash(frozenset(self.terms.items()))

    # --- construction --------------------------------------------------------

    @staticmethod
    def make(terms: Mapping[tuple, int]) -> DimLike:
        """The canonical value of a polynomial: an int when no symbol is left."""
        terms = {m: c for m, c in terms.items() if c}
        if not terms:
            return 0
        if list(terms) == [()]:
            return terms[()]
        return Dim(terms)

    # --- queries -------------------------------------------------------------

    @property
    def symbols(self) -> set[str]:
        found: set[str] = set()
        for mono in self.terms:
            for atom in mono:
                if isinstance(atom, str):
                    found.add(atom)
                else:
                    for a in atom[1:]:
                        if isinstance(a, Dim):
                            found |= a.symbols
        return found

    def evaluate(self, bindings: Mapping[str, int]) -> int | None:
        """The value with the symbols bound, or None if one is unbound."""
        v = substitute(self, bindings)
        return v if isinstance(v, int) else None

    def is_symbol(self) -> bool:
        """True for a bare symbol such as ``batch``."""
        ((mono, coef),) = self.terms.items() if len(self.terms) == 1 else ((((), 0)),)
        return coef == 1 and len(mono) == 1 and isinstance(mono[0], str)

    # --- arithmetic ----------------------------------------------------------

    def __add__(self, other):
        return add(self, other)

    __radd__ = __add__

    def __sub__(self, other):
        return add(self, neg(other))

    def __rsub__(self, other):
        return add(other, neg(self))

    def __neg__(self):
        return neg(self)

    def __mul__(self, other):
        return mul(self, other)

    __rmul__ = __mul__

    def __floordiv__(self, other):
        return floordiv(self, other)

    def __rfloordiv__(self, other):
        return floordiv(other, self)

    def __mod__(self, other):
        return mod(self, other)

    def __eq__(self, other):
        return isinstance(other, Dim) and self.terms == other.terms

    def __hash__(self):
        return self._hash

    def __str__(self):
        def mono_str(mono, coef):
            names = []
            for atom in sorted(set(mono), key=_atom_key):
                p = mono.count(atom)
                names.append(_atom_str(atom) + (f"**{p}" if p > 1 else ""))
            body = "*".join(names)
            if not mono:
                return str(abs(coef))
            return body if abs(coef) == 1 else f"{abs(coef)}*{body}"

        # Terms sorted by their atoms' names, the constant last (as sympy prints).
        ordered = sorted(
            self.terms.items(),
            key=lambda mc: (not mc[0], [_atom_key(a) for a in mc[0]]),
        )
        out = ""
        for i, (mono, coef) in enumerate(ordered):
            s = mono_str(mono, coef)
            if i == 0:
                out = s if coef > 0 else f"-{s}"
            else:
                out += f" + {s}" if coef > 0 else f" - {s}"
        return out

    def __repr__(self):
        return f"Dim({str(self)!r})"


def _first(terms):
    return next(iter(terms))


def sym(name: str) -> Dim:
    """The dimension named ``name``."""
    return Dim({(name,): 1})


def _terms(d: DimLike) -> dict[tuple, int]:
    if isinstance(d, Dim):
        return d.terms
    return {(): int(d)}


def add(a: DimLike, b: DimLike) -> DimLike:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    out = dict(_terms(a))
    for m, c in _terms(b).items():
        out[m] = out.get(m, 0) + c
    return Dim.make(out)


def neg(a: DimLike) -> DimLike:
    if isinstance(a, int):
        return -a
    return Dim.make({m: -c for m, c in a.terms.items()})


def mul(a: DimLike, b: DimLike) -> DimLike:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    out: dict[tuple, int] = {}
    for m1, c1 in _terms(a).items():
        for m2, c2 in _terms(b).items():
            m = tuple(sorted(m1 + m2, key=_atom_key))
            out[m] = out.get(m, 0) + c1 * c2
    return Dim.make(out)


def _content(d: Dim) -> int:
    return math.gcd(*d.terms.values())


def floordiv(a: DimLike, b: DimLike) -> DimLike:
    """floor(a / b); exact when b divides every coefficient of a."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b if b else 0
    if isinstance(b, int):
        if b == 1:
            return a
        if b > 0 and all(c % b == 0 for c in a.terms.values()):
            return Dim.make({m: c // b for m, c in a.terms.items()})
    elif a == b:
        return 1
    elif isinstance(a, Dim):
        exact = _exact_quotient(a, b)
        if exact is not None:
            return exact
    return Dim({(("floordiv", a, b),): 1})


def _mono_key(mono: tuple) -> tuple:
    return (len(mono), [_atom_key(a) for a in mono])


def _exact_quotient(a: Dim, b: Dim) -> DimLike | None:
    """q with q*b == a by multivariate long division, or None if b does not divide a."""
    lead_b = max(b.terms, key=_mono_key)
    rest: DimLike = a
    q: DimLike = 0
    for _ in range(64):
        if isinstance(rest, int):
            return q if rest == 0 else None
        lead = max(rest.terms, key=_mono_key)
        factors = list(lead)
        for atom in lead_b:
            if atom not in factors:
                return None
            factors.remove(atom)
        coef, cb = rest.terms[lead], b.terms[lead_b]
        if coef % cb:
            return None
        term = Dim.make({tuple(factors): coef // cb})
        q = add(q, term)
        rest = add(rest, neg(mul(term, b)))
    return None


def ceildiv(a: DimLike, b: DimLike) -> DimLike:
    """ceil(a / b); exact when b divides every coefficient of a."""
    if isinstance(a, int) and isinstance(b, int):
        return -(-a // b) if b else 0
    if isinstance(b, int) and b == 1:
        return a
    exact = floordiv(a, b)
    if not (
        isinstance(exact, Dim)
        and exact.terms
        and isinstance(_first(exact.terms), tuple)
        and len(_first(exact.terms)) == 1
        and isinstance(_first(exact.terms)[0], tuple)
        and _first(exact.terms)[0][0] == "floordiv"
    ):
        return exact
    return Dim({(("ceildiv", a, b),): 1})


def mod(a: DimLike, b: DimLike) -> DimLike:
    if isinstance(a, int) and isinstance(b, int):
        return a % b if b else 0
    if isinstance(b, int) and b == 1:
        return 0
    return Dim({(("mod", a, b),): 1})


def _minmax(kind: str, args) -> DimLike:
    ints = [a for a in args if isinstance(a, int)]
    syms = []
    for a in args:
        if isinstance(a, Dim):
            # Nested Min/Max of the same kind flatten.
            if len(a.terms) == 1 and a.terms.get(_first(a.terms)) == 1:
                mono = _first(a.terms)
                if len(mono) == 1 and isinstance(mono[0], tuple) and mono[0][0] == kind:
                    for x in mono[0][1:]:
                        (ints if isinstance(x, int) else syms).append(x)
                    continue
            syms.append(a)
    uniq = []
    for s in syms:
        if s not in uniq:
            uniq.append(s)
    if not uniq:
        return (min if kind == "Min" else max)(ints)
    if ints:
        uniq.append((min if kind == "Min" else max)(ints))
    if len(uniq) == 1:
        return uniq[0]
    uniq.sort(key=str)
    return Dim({((kind, *uniq),): 1})


def dmin(*args: DimLike) -> DimLike:
    return _minmax("Min", args)


def dmax(*args: DimLike) -> DimLike:
    return _minmax("Max", args)


def substitute(d: DimLike, bindings: Mapping[str, int]) -> DimLike:
    """``d`` with the bound symbols replaced by their values (simplified)."""
    if isinstance(d, int):
        return d
    total: DimLike = 0
    for mono, coef in d.terms.items():
        term: DimLike = coef
        for atom in mono:
            term = mul(term, _subst_atom(atom, bindings))
        total = add(total, term)
    return total


def _subst_atom(atom, bindings) -> DimLike:
    if isinstance(atom, str):
        v = bindings.get(atom)
        return int(v) if v is not None else sym(atom)
    kind, *args = atom
    vals = [substitute(a, bindings) for a in args]
    if kind == "floordiv":
        return floordiv(*vals)
    if kind == "ceildiv":
        return ceildiv(*vals)
    if kind == "mod":
        return mod(*vals)
    return _minmax(kind, vals)


def evaluate(d: DimLike, bindings: Mapping[str, int]) -> int | None:
    v = substitute(d, bindings)
    return v if isinstance(v, int) else None


def parse_param(name: str) -> DimLike:
    """A dim_param string as a Dim: ``batch`` is a symbol, and an expression of
    names and ints (``past_sequence_length + sequence_length``, ``2*seq``,
    ``seq // 2``) is that expression, so it binds and compares like an inferred
    one.  Anything else stays one symbol named by the whole string."""
    if name.isidentifier() or len(name) > 200:
        return sym(name)
    try:
        value = _from_ast(ast.parse(name, mode="eval").body)
    except (SyntaxError, ValueError, RecursionError):
        return sym(name)
    # A bare number as a name ("3") names a dim; it does not fix its value.
    return sym(name) if isinstance(value, int) else value


def _from_ast(node) -> DimLike:
    if isinstance(node, ast.Name):
        return sym(node.id)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return neg(_from_ast(node.operand))
    if isinstance(node, ast.BinOp):
        a, b = _from_ast(node.left), _from_ast(node.right)
        ops = {
            ast.Add: add,
            ast.Sub: lambda x, y: add(x, neg(y)),
            ast.Mult: mul,
            ast.FloorDiv: floordiv,
        }
        fn = ops.get(type(node.op))
        if fn is not None:
            return fn(a, b)
    raise ValueError("not a dim expression")


def to_onnx_dim(d: DimLike | None) -> int | str | None:
    """A dim as onnxruntime's NodeArg.shape shows it: int, string or None."""
    if d is None or isinstance(d, int):
        return d
    return str(d)
