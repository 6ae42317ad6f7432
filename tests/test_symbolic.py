"""wasm_rt.symbolic: canonical forms, printing as onnxruntime (sympy) does, evaluation."""

from __future__ import annotations

from wasm_rt.symbolic import (
    Dim,
    ceildiv,
    dmax,
    dmin,
    floordiv,
    parse_param,
    sym,
    to_onnx_dim,
)

seq, past, batch = sym("seq"), sym("past"), sym("batch")


def test_sums_cancel_to_ints_and_print_sorted():
    assert seq + past - past == seq
    assert (seq + 1) - seq == 1 and isinstance((seq + 1) - seq, int)
    assert str(seq + past) == "past + seq"
    assert str(past + seq + 1) == "past + seq + 1"
    assert str(seq - 1) == "seq - 1"
    assert str(2 * (seq + 1) - 2) == "2*seq"


def test_equal_expressions_hash_equal():
    assert hash(seq + past) == hash(past + seq)
    assert {seq + past: 1}[past + seq] == 1
    assert seq * past == past * seq and str(seq * seq) == "seq**2"


def test_exact_division_simplifies():
    assert floordiv(4 * seq, 2) == 2 * seq
    assert floordiv(32 * batch * (past + seq), past + seq) == 32 * batch
    assert floordiv(seq, seq) == 1
    assert str(floordiv(seq, 2)) == "floor(seq/2)"
    assert str(ceildiv(seq, 2)) == "ceiling(seq/2)"
    assert ceildiv(6 * seq, 3) == 2 * seq


def test_min_max_flatten_and_fold_constants():
    assert str(dmin(seq, 3, dmin(past, 2))) == "Min(2, past, seq)"
    assert dmax(seq, seq) == seq
    assert dmax(4, 7) == 7


def test_evaluate():
    assert (seq + past).evaluate({"seq": 3, "past": 4}) == 7
    assert (seq + past).evaluate({"seq": 3}) is None
    assert floordiv(seq + 1, 2).evaluate({"seq": 5}) == 3
    assert ceildiv(seq, 4).evaluate({"seq": 5}) == 2
    assert dmax(seq, past).evaluate({"seq": 5, "past": 9}) == 9


def test_onnx_spelling():
    assert to_onnx_dim(seq + past) == "past + seq"
    assert to_onnx_dim(3) == 3 and to_onnx_dim(None) is None
    assert (
        isinstance(sym("x"), Dim)
        and sym("x").is_symbol()
        and not (sym("x") + 1).is_symbol()
    )


def test_dim_params_that_are_expressions_parse():
    total = sym("past_sequence_length") + sym("sequence_length")
    assert parse_param("past_sequence_length + sequence_length") == total
    assert parse_param("2*seq") == 2 * seq
    assert parse_param("seq // 2") == floordiv(seq, 2)
    assert parse_param("batch") == batch
    # Not expressions of names and ints: one symbol named by the whole string.
    assert parse_param("weird name").is_symbol() and parse_param("3").is_symbol()
    assert parse_param("f(x)").is_symbol() and parse_param("1.5*x").is_symbol()
