"""RegexFullMatch: RE2 syntax, matched in linear time (wasm_rt/ops/_re2.py).

Checked against Python's ``re`` (ASCII mode) on patterns where the two agree by
definition, against onnxruntime (which uses RE2 itself) through a session, and
on the pathological cases where a backtracking matcher takes exponential time.
"""

from __future__ import annotations

import random
import re
import time

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto as TP
from onnx import helper

import wasm_rt
from wasm_rt.ops._re2 import RegexError, RegexUnsupported, compile_regex

# No pattern here has a Python/RE2 difference (POSIX classes, \z, $ before "\n").
PATTERNS = [
    r"a", r"abc", r"a*", r"a+b", r"(a|b)*c", r"(?:ab)+", r"a{2,3}", r"a{2}", r"a{2,}",
    r"[a-c]+", r"[^a-c]*", r"\d+", r"\w+@\w+\.com", r"\s*x\s*", r".*", r"a.c",
    r"(a|ab)(c|bcd)(d*)", r"^abc$", r"(?i)abc", r"(?i:a)b", r"\bfoo\b.*", r".*\bbar", r"x*?y",
    r"(a*)*", r"(a|)+b", r"\.\*\+", r"[\d\s]+", r"[-a]+", r"[a-]+", r"[]a]+", r"a|b|c", r"(?s).",
    r"\x41+", r"[\w.-]+", r"a{0,2}b{1,}c?", r"(?:(?:a|b)c){1,3}", r"\D\W\S", r"[^\n]*",
    r"(?m)^a$\n^b$", r"\Aab", r"colou?r", r"[A-Z][a-z]*( [A-Z][a-z]*)*", r"\B.\B",
    r"((a)|b)+", r"[\x00-\x7f]*", r"(?i)[k-m]+", r"\|", r"[\\\]]+", r"(?P<x>a)b",
]
ALPHABET = "abcdxyzABC019 .-@_\n\\]|Kk"


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    fixed = ["", "abc", "aa", "aaa", "ab", "foo", "x foo y", "a@b.com", "xxy", "colour", "color",
             "Hello World", "a\nb", "ABC", "kLm", "\\]", "|"]
    return fixed + ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 8)))
                    for _ in range(n)]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_same_answers_as_python_re(pattern):
    ours, py = compile_regex(pattern), re.compile(pattern, re.ASCII)
    for text in _texts(600):
        assert ours.fullmatch(text) == (py.fullmatch(text) is not None), (pattern, text)


def _model(pattern: str, const: np.ndarray | None = None) -> bytes:
    node = helper.make_node("RegexFullMatch", ["x"], ["y"], pattern=pattern, name="rx")
    inputs = [] if const is not None else [helper.make_tensor_value_info("x", TP.STRING, None)]
    inits = [] if const is None else [helper.make_tensor("x", TP.STRING, const.shape,
                                                         [s.encode() for s in const.ravel()])]
    g = helper.make_graph([node], "g", inputs,
                          [helper.make_tensor_value_info("y", TP.BOOL, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    m.ir_version = 9
    return m.SerializeToString()


@pytest.mark.parametrize("pattern", PATTERNS + [r"[[:alpha:]]+", r"[[:^digit:]]x", r"a$",
                                                r"\pL+", r"\p{Lu}\w*", r"(?U)a+b"])
def test_same_answers_as_onnxruntime(pattern):
    texts = np.array(_texts(200, seed=1) + ["a\n", "Ünïcode", "ÀB"], dtype=object)
    ref = ort.InferenceSession(_model(pattern), providers=["CPUExecutionProvider"])
    (want,) = ref.run(None, {"x": texts})
    (got,) = wasm_rt.InferenceSession(_model(pattern)).run(None, {"x": texts})
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("pattern,text", [
    (r"(a+)+$", "a" * 30 + "!"),
    (r"(a|aa)*b", "a" * 3000),
    (r"(x+x+)+y", "x" * 3000),
    (r"(.*a){12}", "a" * 3000),
])
def test_pathological_patterns_take_linear_time(pattern, text):
    t0 = time.perf_counter()
    (y,) = wasm_rt.InferenceSession(_model(pattern)).run(None, {"x": np.array([text], object)})
    assert not y[0] or pattern == r"(.*a){12}"
    assert time.perf_counter() - t0 < 3


def test_linear_in_text_length():
    regex = compile_regex(r"(a|b|ab)*c")
    timings = []
    for n in (20_000, 40_000):
        text = "ab" * (n // 2)
        t0 = time.perf_counter()
        assert not regex.fullmatch(text)
        timings.append(time.perf_counter() - t0)
    assert timings[1] < 4 * timings[0] + 0.05, timings


def test_constant_folding_uses_the_same_matcher():
    # Folded at load: a backtracking matcher would hang session creation here.
    const = np.array(["a" * 40 + "!", "aaa"], dtype=object)
    t0 = time.perf_counter()
    sess = wasm_rt.InferenceSession(_model(r"(a+)+$", const))
    assert "constant_folding" in sess.applied_optimizations
    np.testing.assert_array_equal(sess.run(None, {})[0], [False, True])
    assert time.perf_counter() - t0 < 3


@pytest.mark.parametrize("pattern,construct", [
    (r"(a)\1", r"backreference \\1"), (r"a(?=b)", "lookahead"), (r"a(?!b)", "negative lookahead"),
    (r"(?<=a)b", "lookbehind"), (r"(?<!a)b", "negative lookbehind"), (r"(?>a)", "atomic group"),
    (r"(?P<n>a)(?P=n)", r"backreference \(\?P=name\)"), (r"a*+", "possessive"),
])
def test_unsupported_constructs_name_the_node_and_construct(pattern, construct):
    with pytest.raises(RegexUnsupported, match=construct):
        compile_regex(pattern)
    sess = wasm_rt.InferenceSession(_model(pattern))
    with pytest.raises(wasm_rt.NotImplemented, match=f"node 'rx'.*{construct}"):
        sess.run(None, {"x": np.array(["ab"], object)})


@pytest.mark.parametrize("pattern", [r"(a", r"a)", r"[a", r"*a", r"a{1001}", r"[z-a]", r"\Z",
                                     r"\x{110000}", r"\p{Greek}"])
def test_invalid_patterns(pattern):
    with pytest.raises(RegexError):
        compile_regex(pattern)
    sess = wasm_rt.InferenceSession(_model(pattern))
    with pytest.raises(wasm_rt.WasmRtError, match="node 'rx'"):
        sess.run(None, {"x": np.array(["a"], object)})
