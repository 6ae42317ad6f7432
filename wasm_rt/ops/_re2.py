"""A linear-time regular-expression full matcher for RE2 syntax (RegexFullMatch).

ONNX specifies RE2 syntax, and RE2 matches in time linear in the text: no
backtracking, so a pattern such as ``(a+)+$`` cannot take exponential time on a
hostile string the way Python's ``re`` does.  This module parses the RE2 syntax,
compiles it to a Thompson NFA and simulates all threads at once (the Pike VM
without captures: full matching only needs a yes or no, so greediness and
groups do not change the answer).  Sets of NFA states reached are memoised per
(state set, character) into a bounded cache, a lazy DFA, so long texts cost one
dictionary lookup per character once warm.

As in RE2: ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII; ``.`` does not match
``\\n`` unless ``(?s)``; ``$`` matches only at the end of the text unless
``(?m)``; counted repetition is limited to 1,000.  Constructs RE2 refuses
(backreferences, lookaround, atomic groups, possessive quantifiers) raise
:class:`RegexError` naming the construct.
"""

from __future__ import annotations

import functools
import unicodedata

MAX_REPEAT = 1000  # RE2's limit on {n,m}
MAX_PROGRAM = 100_000  # instructions; RE2 caps its program size too


class RegexError(ValueError):
    """The pattern is not valid RE2 syntax."""


class RegexUnsupported(RegexError):
    """The pattern uses a construct RE2 does not support (backreferences, lookaround ...)."""


# --- character sets ---------------------------------------------------------------------

_WORD = [(48, 57), (65, 90), (95, 95), (97, 122)]
_PERL = {"d": [(48, 57)], "s": [(9, 10), (12, 13), (32, 32)], "w": _WORD}
_POSIX = {
    "alnum": [(48, 57), (65, 90), (97, 122)], "alpha": [(65, 90), (97, 122)],
    "ascii": [(0, 127)], "blank": [(9, 9), (32, 32)], "cntrl": [(0, 31), (127, 127)],
    "digit": [(48, 57)], "graph": [(33, 126)], "lower": [(97, 122)], "print": [(32, 126)],
    "punct": [(33, 47), (58, 64), (91, 96), (123, 126)], "space": [(9, 13), (32, 32)],
    "upper": [(65, 90)], "word": _WORD, "xdigit": [(48, 57), (65, 70), (97, 102)],
}


class CharSet:
    """Code-point ranges and Unicode general categories, optionally negated and
    case-folded ((?i): a character matches if any of its cases is in the set)."""

    __slots__ = ("categories", "fold", "negate", "ranges")

    def __init__(self, ranges=(), categories=(), negate=False, fold=False):
        self.ranges = list(ranges)
        self.categories = list(categories)  # (prefix such as "L" or "Nd", negated)
        self.negate, self.fold = negate, fold

    def _has(self, c: str) -> bool:
        o = ord(c)
        if any(lo <= o <= hi for lo, hi in self.ranges):
            return True
        if self.categories:
            cat = unicodedata.category(c)
            return any(cat.startswith(p) != neg for p, neg in self.categories)
        return False

    def __contains__(self, c: str) -> bool:
        hit = self._has(c)
        if not hit and self.fold:
            hit = any(len(v) == 1 and v != c and self._has(v) for v in (c.lower(), c.upper()))
        return hit != self.negate


def _is_word(c: str | None) -> bool:
    return c is not None and c.isascii() and (c.isalnum() or c == "_")


# --- parser: pattern -> syntax tree -------------------------------------------------------
# Nodes: ("set", CharSet), ("cat", [nodes]), ("alt", [nodes]), ("rep", node, min, max|None),
# ("assert", kind) with kind in bol, eol, bot, eot, word, nonword.

_ESCAPES = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class _Parser:
    def __init__(self, pattern: str):
        self.p, self.i = pattern, 0

    def error(self, what: str):
        unsupported = "not supported" in what or "no possessive" in what
        cls = RegexUnsupported if unsupported else RegexError
        return cls(f"{what} at position {self.i} of pattern {self.p!r}")

    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.p[j] if j < len(self.p) else None

    def take(self) -> str:
        c = self.peek()
        if c is None:
            raise self.error("unexpected end of pattern")
        self.i += 1
        return c

    def parse(self):
        tree = self.alternation({"i": False, "s": False, "m": False, "U": False})
        if self.peek() is not None:
            raise self.error("unmatched ')'")
        return tree

    def alternation(self, flags):
        branches = [self.concat(flags)]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.concat(flags))
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def concat(self, flags):
        items = []
        while self.peek() is not None and self.peek() not in "|)":
            atom = self.atom(flags)
            if atom is not None:
                items.append(self.repeats(atom, flags))
        return items[0] if len(items) == 1 else ("cat", items)

    def repeats(self, atom, flags):
        counted = self.counted()
        if counted is None and self.peek() not in ("*", "+", "?"):
            return atom
        if counted is None:
            op = self.take()
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[op]
        else:
            lo, hi = counted
        if self.peek() == "?":
            self.i += 1  # lazy: the same yes/no answer for a full match
        nxt = self.peek()
        if nxt in ("*", "+", "?") or self.counted(consume=False) is not None:
            raise self.error(f"bad repetition operator '{nxt}' (RE2 has no possessive or "
                             "repeated quantifiers)")
        if atom[0] == "assert":
            raise self.error("missing argument to repetition operator")
        return ("rep", atom, lo, hi)

    def counted(self, consume: bool = True):
        """{n}, {n,} or {n,m} at the cursor, or None (a '{' that starts none is a literal)."""
        if self.peek() != "{":
            return None
        close = self.p.find("}", self.i)
        body = self.p[self.i + 1:close] if close > 0 else ""
        parts = body.split(",")
        if close < 0 or len(parts) > 2 or not parts[0].isdigit() or not parts[0].isascii():
            return None
        if len(parts) == 2 and parts[1] and not (parts[1].isdigit() and parts[1].isascii()):
            return None
        lo = int(parts[0])
        hi = lo if len(parts) == 1 else (int(parts[1]) if parts[1] else None)
        if lo > MAX_REPEAT or (hi is not None and (hi > MAX_REPEAT or hi < lo)):
            raise self.error(f"bad repetition {{{body}}} (RE2 allows counts up to {MAX_REPEAT}, "
                             "min <= max)")
        if consume:
            self.i = close + 1
        return lo, hi

    def atom(self, flags):
        c = self.take()
        if c == "(":
            return self.group(flags)
        if c == "[":
            return ("set", self.char_class(flags))
        if c == ".":
            return ("set", CharSet(negate=True) if flags["s"] else CharSet([(10, 10)], negate=True))
        if c == "^":
            return ("assert", "bol" if flags["m"] else "bot")
        if c == "$":
            return ("assert", "eol" if flags["m"] else "eot")
        if c in "*+?":
            self.i -= 1
            raise self.error(f"missing argument to repetition operator '{c}'")
        if c == "{" and self.counted_at(self.i - 1):
            self.i -= 1
            raise self.error("missing argument to repetition operator '{'")
        if c == "\\":
            return self.escape(flags, in_class=False)
        return ("set", _literal(c, flags))

    def counted_at(self, j: int) -> bool:
        saved, self.i = self.i, j
        try:
            return self.counted(consume=False) is not None
        finally:
            self.i = saved

    def group(self, flags):
        inner = dict(flags)
        if self.peek() == "?":
            self.i += 1
            c = self.take()
            if c == ":":
                pass  # non-capturing
            elif c == "P" and self.peek() == "<" or c == "<" and self.peek() not in ("=", "!"):
                if c == "P":
                    self.i += 1
                end = self.p.find(">", self.i)
                name = self.p[self.i:end] if end > 0 else ""
                if not name or not all(ch.isalnum() or ch == "_" for ch in name):
                    raise self.error("bad named capture group")
                self.i = end + 1
            elif c == "P" and self.peek() == "=":
                raise self.error("backreference (?P=name) is not supported by RE2")
            elif c in "=!" or c == "<":
                kind = {"=": "lookahead", "!": "negative lookahead"}.get(c)
                if c == "<":
                    kind = "lookbehind" if self.take() == "=" else "negative lookbehind"
                raise self.error(f"{kind} is not supported by RE2")
            elif c == ">":
                raise self.error("atomic group (?>...) is not supported by RE2")
            elif c == "#":
                raise self.error("comment group (?#...) is not supported by RE2")
            else:
                self.i -= 1
                if self.flag_group(inner):  # (?flags) alone: applies to the rest of this group
                    flags.update(inner)
                    return None
        tree = self.alternation(inner)
        if self.peek() != ")":
            raise self.error("missing ')'")
        self.i += 1
        return tree

    def flag_group(self, flags) -> bool:
        """Parse 'flags)' or 'flags:'; True for the first (set for the enclosing group)."""
        value, seen = True, False
        while True:
            c = self.take()
            if c in "imsU":
                flags[c], seen = value, True
            elif c == "-" and value:
                value, seen = False, False
            elif c in "):" and seen:
                return c == ")"
            else:
                raise self.error(f"bad or unsupported flag group character {c!r}")

    def escape(self, flags, in_class: bool):
        c = self.take()
        if c in "dswDSW":
            return ("set", CharSet(_PERL[c.lower()], negate=c.isupper()))
        if c in "pP":
            return ("set", self.unicode_class(negate=c == "P"))
        if c in _ESCAPES:
            return ("set", _literal(_ESCAPES[c], flags))
        if c == "x":
            return ("set", _literal(self.hex_escape(), flags))
        if c == "0":
            digits = ""
            while len(digits) < 2 and (self.peek() or "") in "01234567" and self.peek():
                digits += self.take()
            return ("set", _literal(chr(int(digits or "0", 8)), flags))
        if c in "123456789":
            raise self.error(f"backreference \\{c} is not supported by RE2")
        if not in_class:
            kinds = {"A": "bot", "z": "eot", "b": "word", "B": "nonword"}
            if c in kinds:
                return ("assert", kinds[c])
        if c == "Q":
            end = self.p.find("\\E", self.i)
            text = self.p[self.i:] if end < 0 else self.p[self.i:end]
            self.i = len(self.p) if end < 0 else end + 2
            return ("cat", [("set", _literal(ch, flags)) for ch in text])
        if c.isascii() and not c.isalnum():
            return ("set", _literal(c, flags))  # escaped punctuation
        raise self.error(f"escape sequence \\{c} is not supported by RE2")

    def hex_escape(self) -> str:
        if self.peek() == "{":
            end = self.p.find("}", self.i)
            digits = self.p[self.i + 1:end] if end > 0 else ""
            self.i = end + 1 if end > 0 else len(self.p)
            ok = 1 <= len(digits) <= 8
        else:
            digits = self.p[self.i:self.i + 2]
            self.i += 2
            ok = len(digits) == 2
        ok = ok and digits.isascii() and all(ch in "0123456789abcdefABCDEF" for ch in digits)
        if not ok or int(digits, 16) > 0x10FFFF:
            raise self.error("bad \\x escape")
        return chr(int(digits, 16))

    def unicode_class(self, negate: bool) -> CharSet:
        if self.peek() == "{":
            end = self.p.find("}", self.i)
            name = self.p[self.i + 1:end] if end > 0 else ""
            self.i = end + 1
        else:
            name = self.take()
        if name.startswith("^"):
            name, negate = name[1:], not negate
        if name == "Any":
            return CharSet([(0, 0x10FFFF)], negate=negate)
        if not (len(name) in (1, 2) and name[0] in "CLMNPSZ"):
            raise self.error(f"Unicode class \\p{{{name}}} is not supported (general "
                             "categories such as L, Lu, Nd are)")
        return CharSet(categories=[(name, False)], negate=negate)

    def char_class(self, flags) -> CharSet:
        negate = self.peek() == "^"
        if negate:
            self.i += 1
        out = CharSet(negate=negate, fold=flags["i"])
        first = True
        while True:
            c = self.take()
            if c == "]" and not first:
                return out
            first = False
            if c == "[" and self.peek() == ":":
                end = self.p.find(":]", self.i)
                name = self.p[self.i + 1:end] if end > 0 else ""
                neg = name.startswith("^")
                name = name[1:] if neg else name
                if name not in _POSIX:
                    raise self.error(f"bad POSIX class [:{name}:]")
                self.i = end + 2
                self._add_ranges(out, _POSIX[name], neg)
                continue
            lo = self.class_char(c, flags, out)
            if lo is None:
                continue
            if self.peek() == "-" and self.peek(1) not in ("]", None):
                self.i += 1
                hi = self.class_char(self.take(), flags, out)
                if hi is None or ord(hi) < ord(lo):
                    raise self.error("bad character class range")
                out.ranges.append((ord(lo), ord(hi)))
            else:
                out.ranges.append((ord(lo), ord(lo)))

    def class_char(self, c: str, flags, out: CharSet) -> str | None:
        """A single character of a class, or None when ``c`` began a class escape (added)."""
        if c != "\\":
            return c
        kind, value = self.escape(flags, in_class=True)
        if kind != "set":  # pragma: no cover - escape() only returns sets in a class
            raise self.error("bad escape in character class")
        if len(value.ranges) == 1 and value.ranges[0][0] == value.ranges[0][1] and not (
            value.negate or value.categories
        ):
            return chr(value.ranges[0][0])
        if value.categories:
            out.categories.extend((p, neg != value.negate) for p, neg in value.categories)
        else:
            self._add_ranges(out, value.ranges, value.negate)
        return None

    @staticmethod
    def _add_ranges(out: CharSet, ranges, negate: bool) -> None:
        if not negate:
            out.ranges.extend(ranges)
            return
        start = 0
        for lo, hi in sorted(ranges):
            if lo > start:
                out.ranges.append((start, lo - 1))
            start = max(start, hi + 1)
        if start <= 0x10FFFF:
            out.ranges.append((start, 0x10FFFF))


def _literal(c: str, flags) -> CharSet:
    return CharSet([(ord(c), ord(c))], fold=flags["i"])


# --- compiler: syntax tree -> NFA program ----------------------------------------------------

_CHAR, _SPLIT, _JMP, _ASSERT, _MATCH = range(5)


class _Compiler:
    def __init__(self):
        self.ops: list[int] = []
        self.args: list = []

    def emit(self, op: int, arg=None) -> int:
        if len(self.ops) >= MAX_PROGRAM:
            raise RegexError(f"pattern too large: more than {MAX_PROGRAM:,} NFA states")
        self.ops.append(op)
        self.args.append(arg)
        return len(self.ops) - 1

    def node(self, tree) -> None:
        kind = tree[0]
        if kind == "set":
            self.emit(_CHAR, tree[1])
        elif kind == "assert":
            self.emit(_ASSERT, tree[1])
        elif kind == "cat":
            for t in tree[1]:
                self.node(t)
        elif kind == "alt":
            jumps = []
            for t in tree[1][:-1]:
                split = self.emit(_SPLIT)
                self.node(t)
                jumps.append(self.emit(_JMP))
                self.args[split] = (split + 1, len(self.ops))
            self.node(tree[1][-1])
            for j in jumps:
                self.args[j] = len(self.ops)
        else:  # rep
            _, body, lo, hi = tree
            for _ in range(lo):
                self.node(body)
            if hi is None:
                split = self.emit(_SPLIT)
                self.node(body)
                self.args[self.emit(_JMP)] = split
                self.args[split] = (split + 1, len(self.ops))
            else:
                splits = []
                for _ in range(hi - lo):
                    splits.append(self.emit(_SPLIT))
                    self.node(body)
                for s in splits:
                    self.args[s] = (s + 1, len(self.ops))


# --- simulation -----------------------------------------------------------------------------


class Regex:
    """A compiled pattern; :meth:`fullmatch` answers in time linear in the text."""

    CACHE_LIMIT = 10_000

    def __init__(self, pattern: str):
        self.pattern = pattern
        comp = _Compiler()
        comp.node(_Parser(pattern).parse())
        self.match_pc = comp.emit(_MATCH)
        self.ops, self.args = comp.ops, comp.args
        # Without assertions a closure does not depend on the neighbouring characters.
        self.contextual = _ASSERT in self.ops
        self.cache: dict = {}

    def _holds(self, kind: str, prev: str | None, nxt: str | None) -> bool:
        if kind == "bot":
            return prev is None
        if kind == "eot":
            return nxt is None
        if kind == "bol":
            return prev is None or prev == "\n"
        if kind == "eol":
            return nxt is None or nxt == "\n"
        return (_is_word(prev) != _is_word(nxt)) == (kind == "word")

    def _closure(self, pcs, prev: str | None, nxt: str | None) -> frozenset:
        """The consuming states (and MATCH) reachable from ``pcs`` without reading."""
        ops, args = self.ops, self.args
        seen: set[int] = set()
        out = []
        stack = list(pcs)
        while stack:
            pc = stack.pop()
            if pc in seen:
                continue
            seen.add(pc)
            op = ops[pc]
            if op == _JMP:
                stack.append(args[pc])
            elif op == _SPLIT:
                stack.extend(args[pc])
            elif op == _ASSERT:
                if self._holds(args[pc], prev, nxt):
                    stack.append(pc + 1)
            else:
                out.append(pc)
        return frozenset(out)

    def _context(self, c: str | None):
        if not self.contextual:
            return None
        return c is None, c == "\n", _is_word(c)

    def fullmatch(self, text: str) -> bool:
        n = len(text)
        state = self._closure([0], None, text[0] if n else None)
        ops, args, cache = self.ops, self.args, self.cache
        for i, c in enumerate(text):
            if not state:
                return False
            nxt = text[i + 1] if i + 1 < n else None
            key = (state, c, self._context(nxt))
            step = cache.get(key)
            if step is None:
                moved = [pc + 1 for pc in state if ops[pc] == _CHAR and c in args[pc]]
                step = self._closure(moved, c, nxt)
                if len(cache) >= self.CACHE_LIMIT:
                    cache.clear()
                cache[key] = step
            state = step
        return self.match_pc in state


@functools.lru_cache(maxsize=64)
def compile_regex(pattern: str) -> Regex:
    """The compiled pattern (cached); RegexError if it is not valid RE2."""
    return Regex(pattern)
