"""Node inputs checked against the op's schema, at plan time and before each kernel runs.

The table is :mod:`wasm_rt.ops._schemas` (generated from onnx/onnxruntime at
development time: Pyodide has neither).  At plan time (:func:`check_static`)
a node must give its op between ``min`` and ``max`` inputs, name every input
that is not optional, give every required attribute, each attribute of its
schema type, and its initializers and the model's declared input types must be
allowed by each input's type constraint (and agree where inputs share one).
Before each kernel runs, the per-step checker from :func:`compile_check`
(compiled at the step's first run, kept on the step, as
:mod:`wasm_rt.alloc_checks` does) compares the actual values: numpy dtype against the
constraint (wasm_rt's structured low-precision dtypes included), tensor
against sequence (Python list) against map (dict), an empty optional (None)
only where the schema allows it, and one type for the inputs of a shared
constraint (Add's A and B).  The common case, tensors of allowed dtypes, is a
few attribute reads and set lookups per node; anything else takes the slow,
exact path, which raises :class:`InvalidGraph` naming node, op, input, expected
and got, or accepts values it cannot judge (objects of other providers).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import dtypes
from .errors import InvalidGraph
from .registry import normalize_domain

Checker = Callable[[Sequence[Any]], None]
OPTIONAL, VARIADIC, HETEROGENEOUS = 1, 2, 3

_NAME_TO_CODE = {v: k for k, v in dtypes.ONNX_TYPE_NAMES.items()}
_SEQ, _MAP, _UNKNOWN = "seq", "map", object()
_TENSOR = re.compile(r"tensor\((\w+)\)$")


@functools.lru_cache(maxsize=4096)
def schema_for(domain: str, op_type: str, opset: int):
    """The schema entry ``(since, min, max, inputs, constraints, attributes)`` in force at
    ``opset``, or None for an op the table does not hold."""
    from .ops._schemas import SCHEMAS

    best = None
    for entry in SCHEMAS.get((normalize_domain(domain), op_type), ()):
        if entry[0] <= opset:
            best = entry
    return best


def _types_of(type_str: str, constraints: dict) -> tuple[str, ...]:
    if type_str in constraints:
        from .ops._schemas import TYPES

        return TYPES[constraints[type_str]]
    return (type_str,)


def _dtype_of_name(name: str):
    code = _NAME_TO_CODE.get(name)
    if code is None:
        return None
    try:
        return dtypes.to_numpy(code)
    except Exception:  # noqa: BLE001 - a type numpy cannot hold is simply never given
        return None


def _key_of_type(t: str):
    """The value key (see :func:`value_key`) a type string accepts; None when
    absence is what it accepts (``optional``), _UNKNOWN for types not judged."""
    m = _TENSOR.match(t)
    if m:
        dt = _dtype_of_name(m[1])
        return dt if dt is not None else _UNKNOWN
    if t.startswith("seq("):
        m = _TENSOR.match(t[4:-1])
        if m:
            dt = _dtype_of_name(m[1])
            return (_SEQ, dt) if dt is not None else _UNKNOWN
        return (_SEQ, _MAP) if t[4:].startswith("map(") else _UNKNOWN
    if t.startswith("map("):
        return _MAP
    return _UNKNOWN  # sparse_tensor(...) and anything newer


class _Accepts:
    """What one input accepts: value keys, absence, or anything (unjudged types)."""

    __slots__ = ("any", "dtypes", "keys", "none", "seq", "text")

    def __init__(self, types: tuple[str, ...], optional: bool):
        self.keys: set = set()
        self.none = optional
        self.any = False
        for t in types:
            if t.startswith("optional("):
                self.none = True
                t = t[len("optional(") : -1]
            key = _key_of_type(t)
            if key is _UNKNOWN:
                self.any = True
            else:
                self.keys.add(key)
        self.dtypes = frozenset(k for k in self.keys if isinstance(k, np.dtype))
        self.seq = any(isinstance(k, tuple) for k in self.keys)
        self.text = _show_types(types)

    def accepts(self, key) -> bool:
        if key is None:
            return self.none
        if self.any or key is _UNKNOWN or key in self.keys:
            return True
        # An empty list is a sequence of no known element type.
        return key == (_SEQ, None) and self.seq


@functools.cache
def _accepts(types: tuple[str, ...], optional: bool) -> _Accepts:
    """Shared per (types, optional): planning stays cheap per node."""
    return _Accepts(types, optional)


def _show_types(types: tuple[str, ...], n: int = 8) -> str:
    shown = ", ".join(types[:n])
    return shown + (f" and {len(types) - n} more" if len(types) > n else "")


def value_key(v):
    """A hashable description of a value's type: its dtype for a tensor, (seq,
    element dtype) for a sequence, 'map', None for an absent value, _UNKNOWN else."""
    if v is None:
        return None
    dt = getattr(v, "dtype", None)
    if isinstance(dt, np.dtype):
        return np.dtype(object) if dt.kind in "US" else dt
    if isinstance(v, list):
        if not v:
            return (_SEQ, None)
        first = value_key(v[0])
        if first == _MAP:
            return (_SEQ, _MAP)
        return (_SEQ, first) if isinstance(first, np.dtype) else _UNKNOWN
    if isinstance(v, dict):
        return _MAP
    return _UNKNOWN


def describe_key(key) -> str:
    if key is None:
        return "no value (an empty optional)"
    if isinstance(key, np.dtype):
        code = dtypes.from_numpy_or_none(key)
        return f"tensor({dtypes.type_name(code)})" if code is not None else f"numpy {key}"
    if key == _MAP:
        return "a map"
    if isinstance(key, tuple):
        inner = "map" if key[1] == _MAP else "empty" if key[1] is None else describe_key(key[1])
        return f"seq({inner})" if key[1] is not None else "an empty sequence"
    return "a value of unknown type"


class _Param:
    """One formal input of a schema version: name, constraint, option, what it accepts."""

    __slots__ = ("accepts", "constraint", "formal", "option")

    def __init__(self, formal, type_str, option, constraints):
        self.formal, self.option = formal, option
        self.constraint = type_str if type_str in constraints else None
        self.accepts = _accepts(_types_of(type_str, constraints), option == OPTIONAL)


class _Formal:
    """One input position of a node: its index, value name and schema facts."""

    __slots__ = ("accepts", "constraint", "formal", "index", "name", "option")

    def __init__(self, index: int, name: str, param: _Param):
        self.index, self.name = index, name
        self.formal, self.option = param.formal, param.option
        self.constraint, self.accepts = param.constraint, param.accepts

    def label(self) -> str:
        return f"input {self.index} ('{self.name}', {self.formal})"


# (id of a schema entry, input count) -> its params; the entries live as long as the module.
_PARAMS: dict[tuple[int, int], tuple[_Param, ...]] = {}


def _params(schema, n: int) -> tuple[_Param, ...]:
    found = _PARAMS.get((id(schema), n))
    if found is None:
        _, _, _, inputs, constraints, _ = schema
        out = []
        for i in range(n if inputs else 0):
            fname, type_str, option = inputs[min(i, len(inputs) - 1)]
            if i >= len(inputs) and option not in (VARIADIC, HETEROGENEOUS):
                break  # too many inputs: reported by check_static
            out.append(_Param(fname, type_str, option, constraints))
        found = _PARAMS[(id(schema), n)] = tuple(out)
    return found


def _formals(node, schema) -> list[_Formal]:
    names = node.inputs
    return [_Formal(i, names[i], p) for i, p in enumerate(_params(schema, len(names)))]


def _groups(formals: list[_Formal]) -> list[list[_Formal]]:
    """Inputs that must share one type: those of one constraint, not heterogeneous."""
    by: dict[str, list[_Formal]] = {}
    for f in formals:
        if f.constraint is not None and f.option != HETEROGENEOUS:
            by.setdefault(f.constraint, []).append(f)
    return [g for g in by.values() if len(g) > 1] if len(by) < len(formals) else []


def _same(a, b) -> bool:
    if a is None or b is None or a is _UNKNOWN or b is _UNKNOWN:
        return True  # an absent optional or an unjudged value constrains nothing
    if a == b:
        return True
    empty = (_SEQ, None)
    return (a == empty and isinstance(b, tuple)) or (b == empty and isinstance(a, tuple))


def _check_keys(node, formals: list[_Formal], groups, keys: dict[int, Any], when: str) -> None:
    for f in formals:
        if f.index in keys and not f.accepts.accepts(keys[f.index]):
            raise _error(
                node,
                f"{node.describe()} {f.label()}: expected {f.accepts.text}, got "
                f"{describe_key(keys[f.index])}{when}",
            )
    for g in groups:
        seen = [(f, keys[f.index]) for f in g if f.index in keys]
        for f, k in seen[1:]:
            f0, k0 = seen[0]
            if not _same(k0, k):
                raise _error(
                    node,
                    f"{node.describe()} {f0.label()} and {f.label()} share type constraint "
                    f"{f.constraint}: expected one type, got {describe_key(k0)} and "
                    f"{describe_key(k)}{when}",
                )


def _error(node, msg: str) -> InvalidGraph:
    err = InvalidGraph(msg)
    err.node = node.name or node.describe()  # already names its node: not wrapped again
    return err


# --- plan time ---------------------------------------------------------------------------


def static_types(graph, top_level: bool) -> dict[str, Any]:
    """Value keys known before running: initializers' dtypes, and for the main graph
    the declared tensor input types (``run`` refuses feeds of other types)."""
    known: dict[str, Any] = {}
    if top_level:
        for vi in graph.inputs:
            if vi.kind == "tensor" and vi.elem_type:
                key = _key_of_type(f"tensor({dtypes.type_name(vi.elem_type)})")
                if isinstance(key, np.dtype):
                    known[vi.name] = key
    for name, arr in graph.initializers.items():
        key = value_key(arr)
        if isinstance(key, np.dtype):
            known[name] = key
    return known


def check_static(node, opset: int, known: dict[str, Any] | None = None) -> None:
    """Raise InvalidGraph when ``node`` breaks its op's schema in a way visible
    before running: input count, a required input left empty, a known input type."""
    schema = schema_for(node.domain, node.op_type, opset)
    if schema is None:
        return
    _, lo, hi, inputs, _constraints, attrs = schema
    _check_attributes(node, opset, attrs)
    given = len(node.inputs)
    while given and not node.inputs[given - 1]:
        given -= 1  # trailing empty names: omitted optional inputs
    def where() -> str:  # built only for an error
        return f"{node.describe()} (opset {opset})"

    if hi is not None and given > hi:
        raise _error(node, f"{where()}: expected at most {hi} input(s), got {given}")
    if given < lo:
        missing = ", ".join(f"{i} ('{inputs[min(i, len(inputs) - 1)][0]}')"
                            for i in range(given, lo))
        raise _error(
            node, f"{where()}: expected at least {lo} input(s), got {given} (missing input {missing})"
        )
    for i, name in enumerate(node.inputs):
        if name or not inputs:
            continue
        fname, _t, option = inputs[min(i, len(inputs) - 1)]
        if option != OPTIONAL:
            raise _error(
                node,
                f"{where()}: input {i} ('{fname}') is required, got an empty name (no value)",
            )
    if known:
        formals = _formals(node, schema)
        keys = {f.index: known[f.name] for f in formals if f.name in known}
        if keys:
            _check_keys(node, formals, _groups(formals), keys, " (an initializer or declared input)")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer))


def _is_float(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating))


def _is_list(v) -> bool:
    return isinstance(v, (list, tuple, np.ndarray))


# Attribute type code (see ops/_schemas.py) -> (test of the value, how to name the type).
_ATTR_TESTS = {
    "i": (_is_int, "an int"),
    "f": (_is_float, "a float"),
    "s": (lambda v: isinstance(v, (str, bytes)), "a string"),
    "t": (lambda v: isinstance(getattr(v, "dtype", None), np.dtype), "a tensor"),
    "I": (_is_list, "a list of ints"),
    "F": (_is_list, "a list of floats"),
    "S": (_is_list, "a list of strings"),
    "T": (_is_list, "a list of tensors"),
    "G": (_is_list, "a list of graphs"),
}


def _describe_attr(v) -> str:
    if isinstance(v, (list, tuple)):
        return f"a list ({len(v)} items)"
    if isinstance(getattr(v, "dtype", None), np.dtype):
        return "a tensor"
    return f"{type(v).__name__} {v!r}"[:80]


@functools.cache
def _attr_spec(spec: str) -> tuple[tuple[str, str, bool], ...]:
    return tuple(
        (name, code.rstrip("!"), code.endswith("!"))
        for name, code in (item.split(":") for item in spec.split())
    )


def _check_attributes(node, opset: int, spec: str) -> None:
    """Required attributes present and every attribute of the schema's type."""
    attrs = node.attrs
    for name, code, required in _attr_spec(spec):
        if name not in attrs:
            if required:
                raise _error(
                    node, f"{node.describe()} (opset {opset}): attribute '{name}' is "
                    "required, got none"
                )
            continue
        test = _ATTR_TESTS.get(code)
        if test is not None and not test[0](attrs[name]):
            where = f"{node.describe()} (opset {opset})"
            raise _error(
                node,
                f"{where}: attribute '{name}': expected {test[1]}, got "
                f"{_describe_attr(node.attrs[name])}",
            )


# --- run time ----------------------------------------------------------------------------


def compile_check(node, opset: int) -> Checker | None:
    """The per-run check of one node's input values, or None for ops without a schema."""
    schema = schema_for(node.domain, node.op_type, opset)
    if schema is None:
        return None
    formals = [f for f in _formals(node, schema) if f.name and not f.accepts.any]
    if not formals:
        return None
    groups = _groups(formals)

    def slow(args: Sequence[Any]) -> None:
        keys = {f.index: value_key(args[f.index]) for f in formals if f.index < len(args)}
        _check_keys(node, formals, groups, keys, "")

    fast = tuple((f.index, f.accepts.dtypes) for f in formals)
    pairs = tuple((g[0].index, f.index) for g in groups for f in g[1:])
    if len(fast) == 1:
        (i, ok), = fast

        def check_one(args: Sequence[Any]) -> None:
            if getattr(args[i], "dtype", None) not in ok:
                slow(args)

        return check_one
    if len(fast) == 2 and len(pairs) == 1:
        (i, ok), (j, _) = fast

        def check_two(args: Sequence[Any]) -> None:
            d = getattr(args[i], "dtype", None)
            e = getattr(args[j], "dtype", None)
            if d not in ok or (e is not d and e != d):
                slow(args)

        return check_two

    def check(args: Sequence[Any]) -> None:
        for i, ok in fast:
            if getattr(args[i], "dtype", None) not in ok:
                return slow(args)
        for i, j in pairs:
            d, e = args[i].dtype, args[j].dtype
            if e is not d and e != d:
                return slow(args)
        return None

    return check
