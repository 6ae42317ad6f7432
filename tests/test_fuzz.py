"""Corrupted models fail cleanly: only wasm_rt.WasmRtError, no hang, no crash.

Hypothesis mutates the bytes of two real models (flip bits, overwrite,
insert, delete, truncate) and the result is loaded and run.  Either may
succeed (many mutations land in names or doc strings), but anything raised
must be a :class:`wasm_rt.WasmRtError` subclass: a ``KeyError``,
``IndexError`` or numpy error escaping from the runtime is a bug, because
callers (and the browser bridge) catch ``WasmRtError`` only.

Each example runs under a SIGALRM watchdog so a hang fails the test instead of
stalling it, and with a small memory limit so a mutated shape cannot make the
runtime allocate gigabytes.  A hard crash (segfault) would take pytest down
with it, which CI reports as a failure too.
"""

from __future__ import annotations

import contextlib
import os
import signal
from datetime import timedelta
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import wasm_rt

LIGHT_MODEL = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_squeezenet.onnx"
# Per tensor.  squeezenet's largest activation is ~5 MiB; a mutated dimension
# asking for more fails with MemoryLimitError instead of eating the machine.
MEMORY_LIMIT = 64 * 2**20
HANG_SECONDS = 60
EXAMPLES = int(os.environ.get("WASM_RT_FUZZ_EXAMPLES", "60"))

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=30),
    database=None,
    derandomize=bool(os.environ.get("CI")),  # the same examples on every CI run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def small_model() -> bytes:
    """A few-KB model touching common ops, initializers, a Constant and an If subgraph."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    fc = numpy_helper.from_array(rng.standard_normal((16, 5)).astype(np.float32), "fc")
    shape = numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "shape")
    then_g = helper.make_graph(
        [helper.make_node("Softmax", ["logits"], ["then_out"], axis=-1)],
        "then",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, None)],
    )
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["logits"], ["else_out"])],
        "else",
        [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, None)],
    )
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "fc"], ["mm"]),
        helper.make_node("Constant", [], ["bias"], value=numpy_helper.from_array(np.ones(5, np.float32))),
        helper.make_node("Add", ["mm", "bias"], ["logits"]),
        helper.make_node("ReduceSum", ["logits"], ["total"], keepdims=0),
        helper.make_node("Constant", [], ["zero"], value_float=0.0),
        helper.make_node("Greater", ["total", "zero"], ["cond"]),
        helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g),
    ]
    graph = helper.make_graph(
        nodes,
        "fuzz_target",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 5])],
        [w, b, fc, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


TARGETS = {
    "small": (small_model, {"x": np.random.default_rng(1).standard_normal((2, 3, 4, 4)).astype(np.float32)}),
    "light_squeezenet": (
        LIGHT_MODEL.read_bytes,
        {"data_0": np.random.default_rng(2).random((1, 3, 224, 224), dtype=np.float32)},
    ),
}


# One mutation: (kind, relative position in [0, 1), payload).
mutation = st.tuples(
    st.sampled_from(["flip", "set", "insert", "delete", "truncate"]),
    st.floats(0.0, 1.0, exclude_max=True),
    st.one_of(
        st.integers(0, 255).map(lambda v: bytes([v])),
        st.sampled_from([b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff\x0f"]),
        st.binary(min_size=1, max_size=16),
    ),
)


def mutate(data: bytes, mutations) -> bytes:
    buf = bytearray(data)
    for kind, where, payload in mutations:
        pos = int(where * len(buf)) if buf else 0
        if kind == "flip" and buf:
            buf[pos] ^= 1 << (payload[0] % 8)
        elif kind == "set" and buf:
            buf[pos : pos + len(payload)] = payload
        elif kind == "insert":
            buf[pos:pos] = payload
        elif kind == "delete":
            del buf[pos : pos + len(payload)]
        elif kind == "truncate":
            del buf[pos:]
    return bytes(buf)


class Hang(Exception):
    pass


@contextlib.contextmanager
def watchdog(seconds: int):
    """Raise Hang in the main thread if the block runs longer than ``seconds``."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def load_and_run(model: bytes, feeds: dict) -> str:
    """'ok' or the WasmRtError class name; anything else propagates and fails the test."""
    options = wasm_rt.SessionOptions()
    options.memory_limit = MEMORY_LIMIT
    with watchdog(HANG_SECONDS):
        try:
            session = wasm_rt.InferenceSession(model, options)
            session.run(None, feeds)
        except wasm_rt.WasmRtError as e:
            return type(e).__name__
    return "ok"


class Target:
    """A model to fuzz; its repr stays short in Hypothesis' falsifying-example report."""

    def __init__(self, name: str):
        make, self.feeds = TARGETS[name]
        self.name, self.model = name, make()

    def __repr__(self) -> str:
        return f"Target({self.name!r}, {len(self.model)} bytes)"


@pytest.fixture(scope="module", params=sorted(TARGETS))
def target(request):
    return Target(request.param)


def test_unmutated_models_run(target):
    assert load_and_run(target.model, target.feeds) == "ok", f"{target.name} must run before it can be fuzzed"


@FUZZ_SETTINGS
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_model_fails_cleanly(target, mutations):
    load_and_run(mutate(target.model, mutations), target.feeds)


@FUZZ_SETTINGS
@given(data=st.binary(max_size=512))
def test_random_bytes_fail_cleanly(data):
    load_and_run(data, {})


def _rename(m, field: str, token: str) -> None:
    """Set one kind of string field of small_model to ``token`` (consistently)."""
    g = m.graph
    if field == "node_name":
        g.node[0].name = token
    elif field == "attribute_name":
        g.node[0].attribute[0].name = token
    elif field == "op_type":
        g.node[1].op_type = token
    elif field == "domain":
        g.node[1].domain = token
        m.opset_import.append(helper.make_opsetid(token, 1))
    elif field in ("tensor_name", "input_name"):
        old = "fc" if field == "tensor_name" else "x"
        for t in list(g.initializer) + list(g.input):
            if t.name == old:
                t.name = token
        for n in g.node:
            n.input[:] = [token if v == old else v for v in n.input]


@pytest.mark.parametrize(
    "field", ["node_name", "attribute_name", "op_type", "domain", "tensor_name", "input_name"]
)
def test_invalid_utf8_strings_fail_cleanly(field):
    """proto2 hands back ``bytes`` for string fields that are not UTF-8 (found by fuzzing)."""
    m = onnx.load_from_string(small_model())
    _rename(m, field, "QQ7QQ")
    model = m.SerializeToString().replace(b"QQ7QQ", b"QQ\xffQQ")
    load_and_run(model, TARGETS["small"][1])


# --------------------------------------------------------------------------
# Structured fuzzing: valid protobuf, hostile contents
# --------------------------------------------------------------------------
# Byte mutations mostly break the wire format, so the loader's first check
# catches them.  These mutate fields of a parsed model instead (attribute
# values, dims, types, names, opsets, node order), which reaches the graph
# builder, the planner and the kernels.  Integer values avoid the range where
# an allocation is possible but ruinous (a few GB): they are small, or so
# large that malloc refuses at once.

HOSTILE_INTS = [-(2**62), -(2**31), -3, -1, 0, 1, 2, 3, 5, 17, 2**40, 2**62]
OP_TYPES = ["Conv", "Relu", "MaxPool", "Reshape", "MatMul", "Add", "Softmax", "Gather", "Concat",
            "Transpose", "Slice", "Identity", "If", "Loop", "Split", "Expand", "Tile", "Pad", "NoSuchOp"]

field_mutation = st.one_of(
    st.tuples(st.just("attr_int"), st.integers(0, 10**6), st.sampled_from(HOSTILE_INTS)),
    st.tuples(st.just("attr_ints"), st.integers(0, 10**6), st.lists(st.sampled_from(HOSTILE_INTS), max_size=6)),
    st.tuples(st.just("attr_drop"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("init_dims"), st.integers(0, 10**6), st.lists(st.sampled_from(HOSTILE_INTS[2:10]), max_size=5)),
    st.tuples(st.just("init_type"), st.integers(0, 10**6), st.integers(0, 30)),
    st.tuples(st.just("input_type"), st.integers(0, 10**6), st.integers(0, 30)),
    st.tuples(st.just("op_type"), st.integers(0, 10**6), st.sampled_from(OP_TYPES)),
    st.tuples(st.just("rewire"), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.tuples(st.just("drop_node"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("dup_node"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("opset"), st.integers(0, 10**6), st.integers(-1, 40)),
    st.tuples(st.just("drop_output"), st.integers(0, 10**6), st.none()),
)


def mutate_fields(model_bytes: bytes, mutations) -> bytes:
    m = onnx.load_from_string(model_bytes)
    g = m.graph
    for kind, i, value in mutations:
        nodes = list(g.node)
        attrs = [a for n in nodes for a in n.attribute if a.type != onnx.AttributeProto.GRAPH]
        values = [v for n in nodes for v in n.input if v] + [t.name for t in g.initializer]
        if kind == "attr_int" and attrs:
            a = attrs[i % len(attrs)]
            a.ClearField("ints")
            a.type, a.i = onnx.AttributeProto.INT, value
        elif kind == "attr_ints" and attrs:
            a = attrs[i % len(attrs)]
            del a.ints[:]
            a.type = onnx.AttributeProto.INTS
            a.ints.extend(value)
        elif kind == "attr_drop" and attrs:
            for n in nodes:
                if attrs[i % len(attrs)] in n.attribute:
                    n.attribute.remove(attrs[i % len(attrs)])
                    break
        elif kind == "init_dims" and len(g.initializer):
            t = g.initializer[i % len(g.initializer)]
            del t.dims[:]
            t.dims.extend(value)
        elif kind == "init_type" and len(g.initializer):
            g.initializer[i % len(g.initializer)].data_type = value
        elif kind == "input_type" and len(g.input):
            g.input[i % len(g.input)].type.tensor_type.elem_type = value
        elif kind == "op_type" and nodes:
            nodes[i % len(nodes)].op_type = value
        elif kind == "rewire" and nodes and values:
            n = nodes[i % len(nodes)]
            if len(n.input):
                n.input[value % len(n.input)] = values[value % len(values)]
        elif kind == "drop_node" and nodes:
            g.node.remove(nodes[i % len(nodes)])
        elif kind == "dup_node" and nodes:
            g.node.append(nodes[i % len(nodes)])
        elif kind == "opset":
            m.opset_import[0].version = value
        elif kind == "drop_output" and len(g.output) > 1:
            del g.output[i % len(g.output)]
    return m.SerializeToString()


feed_shape = st.lists(st.integers(0, 6), min_size=1, max_size=5)


@FUZZ_SETTINGS
@given(mutations=st.lists(field_mutation, min_size=1, max_size=3), x_shape=st.none() | feed_shape)
def test_mutated_fields_fail_cleanly(target, mutations, x_shape):
    feeds = dict(target.feeds)
    if x_shape is not None:  # also feed a wrongly shaped input now and then
        name = next(iter(feeds))
        feeds[name] = np.ones(x_shape, dtype=feeds[name].dtype)
    load_and_run(mutate_fields(target.model, mutations), feeds)


# --------------------------------------------------------------------------
# scripts/fuzz.py: generated cases, each in a worker subprocess
# --------------------------------------------------------------------------
# The same code `python scripts/fuzz.py --cases N` runs: mutated models, random
# ops from their schemas, size blow-ups and variants of defects found before.
# A hang or a crash is caught by the parent, not fatal to pytest.

FUZZ_CASES = int(os.environ.get("WASM_RT_FUZZ_CASES", "500"))


def _fuzz_module():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "scripts" / "fuzz.py"
    spec = importlib.util.spec_from_file_location("wasm_rt_fuzz_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_cases_fail_cleanly(tmp_path):
    fuzz = _fuzz_module()
    result = fuzz.fuzz(FUZZ_CASES, seed=12345, timeout=30, out=tmp_path, verbose=False)
    counts = result["counts"]
    assert sum(counts.values()) == FUZZ_CASES
    assert counts["ok"] > 0 and counts["wasm_rt_error"] > 0, counts  # both paths exercised
    bad = [f"{status}: {name}: {detail.strip()[-300:]}" for status, name, detail in result["bad"]]
    assert not bad, "\n".join(bad) + f"\nreproducers in {tmp_path}"


@pytest.mark.parametrize("kind", ["hang", "crash", "defect", "alloc"])
def test_fuzz_harness_classifies_failures(kind):
    """The worker protocol reports each kind of failure, and survives it."""
    fuzz = _fuzz_module()
    worker = fuzz.Worker()
    try:
        timeout = 2 if kind == "hang" else 10
        status, _, _ = worker.run(f"selftest:{kind}".encode(), {}, 2**20, timeout=timeout)
        assert status == kind
        ok_model = TARGETS["small"][0]()
        status, detail, _ = worker.run(ok_model, TARGETS["small"][1], 2**26, timeout=30)
        assert status == "ok", detail  # restarted after a hang or a crash
    finally:
        worker.stop()
