"""wasm_rt/ops/_schemas.py is generated from onnx/onnxruntime; it must not drift."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

pytest.importorskip("onnx")


def test_checked_in_table_equals_the_generated_one():
    import gen_schemas

    assert gen_schemas.TARGET.read_text() == gen_schemas.render(), (
        "wasm_rt/ops/_schemas.py is stale: run python scripts/gen_schemas.py"
    )


def test_every_registered_op_with_a_schema_is_in_the_table():
    from wasm_rt.input_checks import schema_for
    from wasm_rt.ops._schemas import SCHEMAS
    from wasm_rt.registry import registered_ops

    ops = registered_ops()
    assert set(SCHEMAS) <= set(ops)
    # onnx and onnxruntime between them define every op wasm_rt registers.
    assert set(SCHEMAS) == set(ops)
    # Add-14 allows bfloat16 and every integer type; Add-7 does not.
    add14 = schema_for("", "Add", 17)
    add7 = schema_for("ai.onnx", "Add", 13 - 1)
    from wasm_rt.ops._schemas import TYPES

    assert "tensor(bfloat16)" in TYPES[add14[4]["T"]]
    assert "tensor(int8)" not in TYPES[add7[4]["T"]]
    assert schema_for("com.microsoft", "FusedMatMul", 1)[1:3] == (2, 2)
