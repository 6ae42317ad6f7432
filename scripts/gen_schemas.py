"""Write wasm_rt/ops/_schemas.py: the input signatures of the ops wasm_rt registers.

    python scripts/gen_schemas.py [--check]

Pyodide has no onnx, so the facts the planner and the run-time input check need
(how many inputs an op takes, which are optional or variadic, and which types
each input's type constraint allows) are copied here, at development time, from
``onnx.defs`` (every version of every registered ONNX / ai.onnx.ml /
ai.onnx.preview op) and, for ops onnx does not define (``com.microsoft`` and
onnxruntime's internal ONNX-domain ops), from onnxruntime's
``get_all_operator_schema()``.  tests/test_schemas.py checks that the checked-in
table equals what this script makes from the installed packages.
"""

from __future__ import annotations

import argparse
import pprint
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "wasm_rt" / "ops" / "_schemas.py"

HEADER = '''"""Input signatures of the ops wasm_rt registers (generated; do not edit).

Regenerate with ``python scripts/gen_schemas.py`` after registering an op or
upgrading onnx/onnxruntime; tests/test_schemas.py fails when this is stale.
Source: {source}.

``TYPES[k]`` is a tuple of ONNX type strings ('tensor(float)', 'seq(tensor(int64))').
``SCHEMAS[(domain, op)]`` lists the op's versions that changed its inputs, oldest first, each
``(since, min_inputs, max_inputs, inputs, constraints, attributes)``: ``max_inputs`` is None
when unbounded; each input is ``(name, type, option)`` with ``type`` a constraint
name of ``constraints`` (which maps it to an index of ``TYPES``) or a type string,
and ``option`` 0 single, 1 optional, 2 variadic (one type for all), 3 variadic
(each its own type); ``attributes`` is a string of ``name:code`` (``!`` when
required), the code one letter of the attribute's type: f float, i int, s string,
t tensor, g graph, p sparse tensor, y type proto; capitals for lists of them.
"""

# ruff: noqa: ISC004 - long attribute strings are split by pprint
# fmt: off
'''

_UNBOUNDED = 2**31 - 1
# Attribute types as one letter (a list type in capitals), for a short table.
ATTR_CODES = {
    "FLOAT": "f", "INT": "i", "STRING": "s", "TENSOR": "t", "GRAPH": "g",
    "SPARSE_TENSOR": "p", "TYPE_PROTO": "y", "FLOATS": "F", "INTS": "I", "STRINGS": "S",
    "TENSORS": "T", "GRAPHS": "G", "SPARSE_TENSORS": "P", "TYPE_PROTOS": "Y",
}  # fmt: skip


def _option(formal) -> int:
    opt = int(formal.option)  # onnx: 0 Single, 1 Optional, 2 Variadic (same enum in ort)
    if opt == 2:
        homogeneous = getattr(formal, "is_homogeneous", None)
        if homogeneous is None:
            homogeneous = formal.isHomogeneous
        return 2 if homogeneous else 3
    return opt


def _type_str(formal) -> str:
    return formal.type_str if hasattr(formal, "type_str") else formal.typeStr


def _entry(schema, types: dict[tuple[str, ...], int]):
    constraints = {}
    for c in schema.type_constraints:
        allowed = tuple(sorted(c.allowed_type_strs))
        constraints[c.type_param_str] = types.setdefault(allowed, len(types))
    inputs = tuple((f.name, _type_str(f), _option(f)) for f in schema.inputs)
    max_in = None if schema.max_input >= _UNBOUNDED else schema.max_input
    attrs = " ".join(
        f"{name}:{ATTR_CODES[a.type.name]}" + ("!" if a.required else "")
        for name, a in sorted(schema.attributes.items())
    )
    return (schema.since_version, schema.min_input, max_in, inputs, constraints, attrs)


def build() -> tuple[dict, list, str]:
    """(schemas, types, source description) for every registered op."""
    import onnx
    import onnx.defs

    sys.path.insert(0, str(ROOT))
    from wasm_rt.registry import registered_ops

    registered = registered_ops()
    onnx_schemas: dict = {}
    for s in onnx.defs.get_all_schemas_with_history():
        onnx_schemas.setdefault((s.domain, s.name), []).append(s)
    ort_schemas: dict = {}
    source = f"onnx {onnx.__version__}"
    try:
        import onnxruntime
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

        for s in ort_state.get_all_operator_schema():
            ort_schemas.setdefault((s.domain, s.name), []).append(s)
        source += f", onnxruntime {onnxruntime.__version__} (ops onnx does not define)"
    except (ImportError, AttributeError):
        pass
    types: dict[tuple[str, ...], int] = {}
    table = {}
    for key in sorted(registered):
        found = onnx_schemas.get(key) or ort_schemas.get(key)
        if not found:
            continue  # no schema anywhere: the op is left unchecked
        entries: list = []
        for s in sorted(found, key=lambda s: s.since_version):
            e = _entry(s, types)
            # A version whose inputs and types did not change adds nothing to the check.
            if not entries or entries[-1][1:] != e[1:]:
                entries.append(e)
        table[key] = tuple(entries)
    ordered = [t for t, _ in sorted(types.items(), key=lambda kv: kv[1])]
    return table, ordered, source


def render() -> str:
    table, types, source = build()
    out = [HEADER.format(source=source), "TYPES = (\n"]
    for t in types:
        out.append(_indent(pprint.pformat(t, width=92, compact=True), 4) + ",\n")
    out.append(")\n\nSCHEMAS = {\n")
    for key, versions in table.items():
        out.append(f"    {key!r}: (\n")
        for v in versions:
            out.append(_indent(pprint.pformat(v, width=88, compact=True), 8) + ",\n")
        out.append("    ),\n")
    out.append("}\n# fmt: on\n")
    return "".join(out)


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        same = TARGET.exists() and TARGET.read_text() == text
        print("up to date" if same else f"{TARGET} is stale: run scripts/gen_schemas.py")
        return 0 if same else 1
    TARGET.write_text(text)
    print(f"wrote {TARGET} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
