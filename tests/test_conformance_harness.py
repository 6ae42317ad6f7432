"""The conformance runner's own checks: comparison rules, timeouts, crashes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import conformance  # noqa: E402

F32 = np.array([1.0, 2.0], dtype=np.float32)


@pytest.mark.parametrize(
    "expected, actual, problem",
    [
        ([F32], [F32.copy()], None),
        ([F32], [F32 * (1 + 5e-4)], None),  # inside rtol 1e-3
        ([F32], [F32 * 1.01], "values differ"),
        ([F32], [F32.astype(np.float64)], "dtype float64, expected float32"),
        ([F32], [F32.reshape(2, 1)], "shape (2, 1), expected (2,)"),
        ([F32], [], "expected 1 outputs, got 0"),
        ([F32], [[F32]], "expected an ndarray"),
        ([[F32, F32]], [[F32, F32]], None),
        ([[F32, F32]], [[F32]], "expected 2 outputs, got 1"),
        ([None], [None], None),
        ([None], [F32], "expected None"),
        ([np.array(["a", "b"], dtype=object)], [np.array(["a", "b"], dtype=object)], None),
        ([np.array(["a", "b"], dtype=object)], [np.array(["a", "c"], dtype=object)], "strings differ"),
        ([np.float32(1.0) * F32[:0]], [F32[:0]], None),
    ],
)
def test_compare(expected, actual, problem):
    got = conformance.compare(expected, actual, 1e-3, 1e-7)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got, got


def test_compare_random_outputs_checks_structure_only():
    assert conformance.compare([F32], [F32 * 7], 1e-3, 1e-7, check_values=False) is None
    assert "dtype" in conformance.compare([F32], [F32.astype(np.int64)], 1e-3, 1e-7, check_values=False)


def test_short_reason():
    reason = (
        "load: NotImplemented: the model uses 2 unsupported operator(s)/feature(s):\n"
        "  Foo (domain 'ai.onnx', opset 23): nodes 'n0'\n  Bar (domain 'ai.onnx.ml', opset 4): nodes 'n1'"
    )
    assert conformance.short_reason(reason) == "no kernel: Foo-23, ai.onnx.ml::Bar-4"
    dtype = "test data: input_0.pb: NotImplemented: element type <unknown element type 26> (26) has no numpy equivalent"
    assert conformance.short_reason(dtype).startswith("int2 tensors")


def test_missing_case_and_hang_are_results_not_exceptions(tmp_path):
    """A case that cannot even be read fails with a reason; the pool keeps going."""
    (tmp_path / "test_broken").mkdir()
    (tmp_path / "test_broken" / "model.onnx").write_bytes(b"\x08\x07garbage")
    results = conformance.run_cases(["test_broken", "test_absent"], tmp_path, jobs=2, timeout=60)
    assert [r.status for r in results] == ["failed", "failed"]
    assert all(r.reason for r in results)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs os.mkfifo to make a read block")
def test_hanging_case_times_out_and_pool_recovers(tmp_path):
    """Reading a FIFO with no writer blocks forever: the case must time out, the next one run."""
    import os

    (tmp_path / "test_hang").mkdir()
    os.mkfifo(tmp_path / "test_hang" / "model.onnx")
    (tmp_path / "test_after").mkdir()
    (tmp_path / "test_after" / "model.onnx").write_bytes(b"")
    results = conformance.run_cases(["test_hang", "test_after"], tmp_path, jobs=1, timeout=3)
    assert results[0].reason.startswith("timeout"), results[0]
    assert results[1].status == "failed" and not results[1].reason.startswith("timeout"), results[1]
