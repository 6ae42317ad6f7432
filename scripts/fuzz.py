"""Fuzz wasm_rt with hostile models; every case runs in a worker subprocess.

    python scripts/fuzz.py --cases 2000 [--seed 0] [--timeout 20] [--memory-limit 16777216]
                           [--out fuzz-reproducers] [--list-wrapped]

Cases come from generators (``GENERATORS``): byte and field mutations of two real
models (the ones tests/test_fuzz.py fuzzes), random single ops built from their
ONNX schemas with random attributes, shapes and types, and size blow-ups (large
broadcasts, Expand, Tile, ConstantOfShape, Range, Einsum, Concat, Loop and Scan
outputs, Pad, OneHot ...).  Each case is loaded and run in a worker process that
is reused across cases and restarted after a hang or a crash, and classified as:

- ``ok``: loaded and ran;
- ``wasm_rt_error``: a ``WasmRtError`` (the expected outcome for a hostile model);
- ``defect``: any other exception escaped the runtime;
- ``hang``: no answer within ``--timeout`` seconds (the worker is killed);
- ``alloc``: the run allocated past the memory limit.  ``memory_limit`` is per
  tensor, and a run legitimately holds a few such tensors at once (inputs and
  output of a node, a kernel's temporaries), so a case counts as a violation when
  its tracemalloc peak exceeds ``ALLOC_FACTOR`` (4) x limit + 16 MiB, or when
  numpy's allocator itself failed (a ``MemoryError`` that no size check caught);
- ``crash``: the worker died (segfault, abort, killed for memory).

A ``wasm_rt_error`` that is a kernel's Python exception wrapped as ``Fail`` is
counted in the "wrapped" line (``--list-wrapped`` prints each such case): such
input should have been refused by name before the kernel ran.
Every case that is not ok/wasm_rt_error is written to ``--out`` as
``<class>-<n>.onnx`` plus ``.npz`` feeds and ``.txt`` (generator, error), and its
one-line summary is printed.  The last line is the summary of counts.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import random
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ALLOC_FACTOR = 4
ALLOC_SLACK = 16 * 2**20
DEFAULT_LIMIT = 16 * 2**20
WRAPPED = (AttributeError, IndexError, KeyError, TypeError, UnboundLocalError, ZeroDivisionError)
CLASSES = ("ok", "wasm_rt_error", "defect", "hang", "alloc", "crash")
ROOT = Path(__file__).resolve().parent.parent


# --- worker --------------------------------------------------------------------------------


def _send(stream, obj) -> None:
    data = pickle.dumps(obj)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _recv(stream):
    head = stream.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    return pickle.loads(stream.read(n))


def run_case(model: bytes, feeds: dict, memory_limit: int) -> tuple[str, str, int]:
    """(class, detail, tracemalloc peak above the starting point) for one case, in-process."""
    import traceback
    import tracemalloc

    import wasm_rt

    if not tracemalloc.is_tracing():
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    status, detail = "ok", ""
    try:
        options = wasm_rt.SessionOptions()
        options.memory_limit = memory_limit
        sess = wasm_rt.InferenceSession(model, options)
        sess.run(None, feeds)
    except wasm_rt.WasmRtError as e:
        cause = e.__cause__
        if isinstance(cause, MemoryError) and not isinstance(cause, wasm_rt.WasmRtError):
            status, detail = "alloc", f"{type(e).__name__}: {_short(e)}"
        else:
            status, detail = "wasm_rt_error", f"{type(e).__name__}: {_short(e)}"
            if isinstance(e, wasm_rt.Fail) and type(cause) in WRAPPED:
                # Deliberate errors are WasmRtErrors; these are kernels tripping over
                # their input, caught and named by the executor (reported, not defects).
                detail = f"wrapped {type(cause).__name__}: {detail}"
    except BaseException as e:  # noqa: BLE001 - anything else is exactly what we look for
        if isinstance(e, MemoryError):
            status = "alloc"
        else:
            status = "defect"
        detail = "".join(traceback.format_exception(e)[-6:])
    peak = tracemalloc.get_traced_memory()[1] - base
    if status in ("ok", "wasm_rt_error") and peak > ALLOC_FACTOR * memory_limit + ALLOC_SLACK:
        status, detail = (
            "alloc",
            f"peak {peak:,} bytes with memory_limit {memory_limit:,} ({detail})",
        )
    return status, detail, peak


def _short(e: BaseException, n: int = 300) -> str:
    text = str(e).replace("\n", " ")
    return text if len(text) <= n else text[:n] + "..."


def worker_main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # kernels' prints must not corrupt the protocol
    inp = sys.stdin.buffer
    try:
        import resource

        # A missed size check must fail in malloc, not take the machine down.
        cap = int(os.environ.get("WASM_RT_FUZZ_AS", str(8 * 2**30)))
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ImportError, ValueError, OSError):
        pass
    import warnings

    warnings.simplefilter("ignore")
    while True:
        msg = _recv(inp)
        if msg is None:
            return
        model, feeds, limit = msg
        if model in SELFTEST:
            _send(out, run_selftest(model, limit))
        else:
            _send(out, run_case(model, feeds, limit))


# Fake cases that show the harness classifies each failure (tests/test_fuzz.py).
SELFTEST = {b"selftest:hang", b"selftest:crash", b"selftest:defect", b"selftest:alloc"}


def run_selftest(model: bytes, limit: int):
    kind = model.split(b":")[1].decode()
    if kind == "hang":
        time.sleep(3600)
    if kind == "crash":
        os.abort()
    if kind == "alloc":
        import tracemalloc

        if not tracemalloc.is_tracing():
            tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        block = np.ones(ALLOC_FACTOR * limit + ALLOC_SLACK + 2**20, np.uint8)
        peak = tracemalloc.get_traced_memory()[1] - base
        del block
        return "alloc" if peak > ALLOC_FACTOR * limit + ALLOC_SLACK else "ok", "selftest", peak
    return "defect", "KeyError: 'selftest'", 0


class Worker:
    """A reusable subprocess running cases; restarted when it hangs or dies."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(
            os.environ,
            OMP_NUM_THREADS="1",
            OPENBLAS_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            PYTHONPATH=str(ROOT),
        )
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, model: bytes, feeds: dict, limit: int, timeout: float) -> tuple[str, str, int]:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            _send(self.proc.stdin, (model, feeds, limit))
        except (BrokenPipeError, OSError):
            self.stop()
            return "crash", "worker died before the case was sent", 0
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.stop()
            return "hang", f"no answer after {timeout} s", 0
        try:
            result = _recv(self.proc.stdout)
        except (EOFError, pickle.UnpicklingError, OSError):
            result = None
        if result is None:
            code = self.proc.wait()
            self.proc = None
            return "crash", f"worker exited with code {code}", 0
        return result


# --- case generators -----------------------------------------------------------------------


def _onnx():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    return onnx, TensorProto, helper, numpy_helper


def make_model(nodes, inputs, outputs, inits=(), opset: int = 17) -> bytes:
    _, _, helper, _ = _onnx()
    g = helper.make_graph(nodes, "fuzz", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def _vi(name, elem=None, shape=None):
    _, TP, helper, _ = _onnx()
    return helper.make_tensor_value_info(name, TP.FLOAT if elem is None else elem, shape)


def _init(name, arr):
    return _onnx()[3].from_array(np.asarray(arr), name)


_TARGETS: dict[str, tuple[bytes, dict]] = {}


def targets() -> dict[str, tuple[bytes, dict]]:
    """The two models tests/test_fuzz.py fuzzes, built once."""
    if not _TARGETS:
        sys.path.insert(0, str(ROOT / "tests"))
        import test_fuzz

        for name, (make, feeds) in test_fuzz.TARGETS.items():
            _TARGETS[name] = (make(), feeds)
    return _TARGETS


def gen_bytes(rng: random.Random):
    name = "small" if rng.random() < 0.85 else "light_squeezenet"
    model, feeds = targets()[name]
    buf = bytearray(model)
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["flip", "set", "insert", "delete", "truncate"])
        pos = rng.randrange(len(buf)) if buf else 0
        payload = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        if kind == "flip" and buf:
            buf[pos] ^= 1 << rng.randrange(8)
        elif kind == "set":
            buf[pos : pos + len(payload)] = payload
        elif kind == "insert":
            buf[pos:pos] = payload
        elif kind == "delete":
            del buf[pos : pos + len(payload)]
        elif kind == "truncate":
            del buf[pos:]
    return f"bytes:{name}", bytes(buf), feeds


HOSTILE_INTS = [-(2**62), -(2**31), -3, -1, 0, 1, 2, 3, 5, 17, 2**40, 2**62]


def gen_fields(rng: random.Random):
    sys.path.insert(0, str(ROOT / "tests"))
    import test_fuzz

    name = "small" if rng.random() < 0.85 else "light_squeezenet"
    model, feeds = targets()[name]
    big = 10**6
    kinds = [
        lambda: ("attr_int", rng.randrange(big), rng.choice(HOSTILE_INTS)),
        lambda: (
            "attr_ints",
            rng.randrange(big),
            [rng.choice(HOSTILE_INTS) for _ in range(rng.randint(0, 6))],
        ),
        lambda: ("attr_drop", rng.randrange(big), None),
        lambda: (
            "init_dims",
            rng.randrange(big),
            [rng.choice(HOSTILE_INTS[2:10]) for _ in range(rng.randint(0, 5))],
        ),
        lambda: ("init_type", rng.randrange(big), rng.randint(0, 30)),
        lambda: ("input_type", rng.randrange(big), rng.randint(0, 30)),
        lambda: ("op_type", rng.randrange(big), rng.choice(test_fuzz.OP_TYPES)),
        lambda: ("rewire", rng.randrange(big), rng.randrange(big)),
        lambda: ("drop_node", rng.randrange(big), None),
        lambda: ("dup_node", rng.randrange(big), None),
        lambda: ("opset", rng.randrange(big), rng.randint(-1, 40)),
        lambda: ("drop_output", rng.randrange(big), None),
    ]
    muts = [rng.choice(kinds)() for _ in range(rng.randint(1, 3))]
    feeds = dict(feeds)
    if rng.random() < 0.3:
        key = next(iter(feeds))
        shape = [rng.randint(0, 6) for _ in range(rng.randint(1, 5))]
        feeds[key] = np.ones(shape, dtype=feeds[key].dtype)
    try:
        mutated = test_fuzz.mutate_fields(model, muts)
    except (ValueError, TypeError, IndexError):  # a mutation onnx itself refuses
        mutated = model
    return f"fields:{name}", mutated, feeds


_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(string)": object,
    "tensor(float16)": np.float16,
    "tensor(int8)": np.int8,
}
_OPS: list = []


def _schemas():
    if not _OPS:
        import onnx.defs

        for s in onnx.defs.get_all_schemas_with_history():
            if s.domain == "" and s.since_version <= 17 and not s.deprecated:
                _OPS.append(s)
        latest: dict = {}
        for s in _OPS:
            if s.name not in latest or latest[s.name].since_version < s.since_version:
                latest[s.name] = s
        _OPS[:] = sorted(latest.values(), key=lambda s: s.name)
    return _OPS


def _rand_value(rng: random.Random, dtype, shape):
    if dtype is object:
        words = ["", "a", "b c", "ü", "xyz"]
        return np.array(
            [rng.choice(words) for _ in range(int(np.prod(shape)))], dtype=object
        ).reshape(shape)
    if dtype is np.bool_:
        return np.array([rng.random() < 0.5 for _ in range(int(np.prod(shape)))]).reshape(shape)
    vals = [rng.choice([0, 1, 2, -1, 3, 0.5, -2.5, 7]) for _ in range(int(np.prod(shape)))]
    with np.errstate(all="ignore"):
        return np.array(vals, dtype=np.float64).astype(dtype).reshape(shape)


def _rand_attr(rng: random.Random, a):
    onnx, _, _, numpy_helper = _onnx()
    T = onnx.AttributeProto
    ints = [-2, -1, 0, 1, 2, 3, 4, 2**31, 2**40]
    if a.type == T.INT:
        return rng.choice(ints)
    if a.type == T.INTS:
        return [rng.choice(ints[:7]) for _ in range(rng.randint(0, 4))]
    if a.type == T.FLOAT:
        return rng.choice([0.0, 1.0, -1.0, 0.5, 1e-5, float("inf"), float("nan"), 1e30])
    if a.type == T.FLOATS:
        return [rng.choice([0.0, 1.0, 0.5, -1.0, 2.0]) for _ in range(rng.randint(0, 4))]
    if a.type == T.STRING:
        return rng.choice(
            [
                "",
                "NOTSET",
                "SAME_UPPER",
                "VALID",
                "constant",
                "linear",
                "nearest",
                "i,j->ij",
                "ij,jk->ik",
                "LOWER",
                "sum",
                "mean",
                "abc",
                "(a+)+",
            ]
        )
    if a.type == T.STRINGS:
        return [rng.choice(["a", "b", "Relu", "Tanh", "Sigmoid"]) for _ in range(rng.randint(0, 3))]
    if a.type == T.TENSOR:
        return numpy_helper.from_array(
            _rand_value(rng, rng.choice([np.float32, np.int64]), [rng.randint(0, 3)])
        )
    return None


def gen_random_op(rng: random.Random):
    """One node of a random ONNX op, random attributes and input shapes/types from its schema."""
    _, TP, helper, _ = _onnx()
    schema = rng.choice(_schemas())
    if schema.name in ("Loop", "If", "Scan", "SequenceMap"):
        return gen_blowup(rng)
    attrs = {}
    for a in schema.attributes.values():
        if a.required or rng.random() < 0.4:
            v = _rand_attr(rng, a)
            if v is not None:
                attrs[a.name] = v
    n_in = rng.randint(
        schema.min_input, max(schema.min_input, min(schema.max_input, schema.min_input + 2, 6))
    )
    inputs, feeds, inits, names = [], {}, [], []
    types = {c.type_param_str: list(c.allowed_type_strs) for c in schema.type_constraints}
    for i in range(n_in):
        formal = schema.inputs[min(i, len(schema.inputs) - 1)]
        allowed = [t for t in types.get(formal.type_str, [formal.type_str]) if t in _DTYPES]
        if not allowed:
            allowed = ["tensor(float)"]
        dtype = _DTYPES[rng.choice(allowed)]
        rank = rng.randint(0, 4)
        shape = [rng.choice([0, 1, 1, 2, 3, 4]) for _ in range(rank)]
        value = _rand_value(rng, dtype, shape)
        name = f"in{i}"
        names.append(name if rng.random() > 0.1 else "")
        if rng.random() < 0.5:
            inits.append(_init(name, value))
        else:
            elem = (
                helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
                if dtype is not object
                else TP.STRING
            )
            inputs.append(_vi(name, elem, None))
            feeds[name] = value
    n_out = max(1, min(len(schema.outputs), 3))
    outs = [f"out{i}" for i in range(n_out)]
    for key in list(attrs):
        try:
            helper.make_attribute(key, attrs[key])
        except (ValueError, TypeError):
            del attrs[key]  # e.g. an empty list, whose type onnx cannot tell
    node = helper.make_node(schema.name, names, outs, **attrs)
    # Outputs without a declared type: whatever the op makes is acceptable.
    model = make_model(
        [node], inputs, [helper.make_empty_tensor_value_info(o) for o in outs], inits
    )
    return f"op:{schema.name}", model, feeds


def gen_blowup(rng: random.Random):
    """An op asked to produce a tensor above the memory limit (or absurdly large)."""
    _, TP, helper, _ = _onnx()
    big = rng.choice([2**13, 2**16, 2**20, 2**31, 2**40])
    kind = rng.choice(
        [
            "broadcast",
            "expand",
            "tile",
            "cos",
            "range",
            "einsum",
            "concat",
            "loop",
            "scan",
            "pad",
            "onehot",
            "matmul",
            "where",
            "resize",
            "split",
        ]
    )
    i64 = TP.INT64
    if kind == "broadcast":
        op = rng.choice(["Add", "Mul", "Sub", "Equal", "Max", "Pow"])
        n = min(big, 2**16)
        a, b = np.ones((n, 1), np.float32), np.ones((1, n), np.float32)
        nodes = [helper.make_node(op, ["a", "b"], ["y"])]
        return (
            "blowup:broadcast",
            make_model(nodes, [_vi("a"), _vi("b")], [_vi("y")]),
            {"a": a, "b": b},
        )
    if kind == "where":
        n = min(big, 2**14)
        feeds = {
            "c": np.ones((n, 1, 1), bool),
            "a": np.ones((1, n, 1), np.float32),
            "b": np.ones((1, 1, n), np.float32),
        }
        nodes = [helper.make_node("Where", ["c", "a", "b"], ["y"])]
        return (
            "blowup:where",
            make_model(nodes, [_vi("c", TP.BOOL), _vi("a"), _vi("b")], [_vi("y")]),
            feeds,
        )
    if kind in ("expand", "tile", "cos"):
        dims = np.array([big, big // 2**10 or 1], np.int64)
        if kind == "expand":
            nodes = [helper.make_node("Expand", ["x", "s"], ["y"])]
            inits = [_init("s", dims)]
        elif kind == "tile":
            nodes = [helper.make_node("Tile", ["x", "s"], ["y"])]
            inits = [_init("s", dims)]
        else:
            nodes = [helper.make_node("ConstantOfShape", ["s"], ["y"])]
            return (
                "blowup:constant_of_shape",
                make_model(nodes, [_vi("s", i64)], [_vi("y")]),
                {"s": dims},
            )
        feeds = {"x": np.ones((1, 1), np.float32)}
        if rng.random() < 0.5:  # the shape from a feed instead of an initializer
            return (
                f"blowup:{kind}",
                make_model(nodes, [_vi("x"), _vi("s", i64)], [_vi("y")]),
                {**feeds, "s": dims},
            )
        return f"blowup:{kind}", make_model(nodes, [_vi("x")], [_vi("y")], inits), feeds
    if kind == "range":
        feeds = {
            "a": np.array(0, np.int64),
            "b": np.array(big, np.int64),
            "d": np.array(1, np.int64),
        }
        if rng.random() < 0.5:
            feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
            feeds["d"] = np.array(rng.choice([1e-30, 1.0, 1e-3]), np.float32)
        elem = TP.INT64 if feeds["a"].dtype == np.int64 else TP.FLOAT
        nodes = [helper.make_node("Range", ["a", "b", "d"], ["y"])]
        return (
            "blowup:range",
            make_model(nodes, [_vi(k, elem, []) for k in "abd"], [_vi("y", elem)]),
            feeds,
        )
    if kind == "einsum":
        n = min(big, 2**16)
        eq = rng.choice(["i,j->ij", "i,j,k->ijk", "ij,kl->ijkl"])
        k = eq.split("->")[0].count(",") + 1
        shapes = {
            "i,j->ij": [(n,), (n,)],
            "i,j,k->ijk": [(2**10,)] * 3,
            "ij,kl->ijkl": [(64, 64)] * 2,
        }[eq]
        names = [f"x{i}" for i in range(k)]
        feeds = {nm: np.ones(s, np.float32) for nm, s in zip(names, shapes)}
        nodes = [helper.make_node("Einsum", names, ["y"], equation=eq)]
        return "blowup:einsum", make_model(nodes, [_vi(nm) for nm in names], [_vi("y")]), feeds
    if kind == "concat":
        names = [f"x{i}" for i in range(rng.choice([8, 64]))]
        x = np.ones((2**20 // 2,), np.float32) * 1  # 2 MiB each
        nodes = [helper.make_node("Concat", names, ["y"], axis=0)]
        return (
            "blowup:concat",
            make_model(nodes, [_vi(nm) for nm in names], [_vi("y")]),
            {nm: x for nm in names},
        )
    if kind == "matmul":
        n = min(big, 2**16)
        nodes = [helper.make_node("MatMul", ["a", "b"], ["y"])]
        feeds = {"a": np.ones((n, 1), np.float32), "b": np.ones((1, n), np.float32)}
        return "blowup:matmul", make_model(nodes, [_vi("a"), _vi("b")], [_vi("y")]), feeds
    if kind == "pad":
        nodes = [helper.make_node("Pad", ["x", "p"], ["y"])]
        p = np.array([0, 0, big, big], np.int64)
        return (
            "blowup:pad",
            make_model(nodes, [_vi("x")], [_vi("y")], [_init("p", p)]),
            {"x": np.ones((2, 2), np.float32)},
        )
    if kind == "onehot":
        nodes = [helper.make_node("OneHot", ["i", "d", "v"], ["y"])]
        inits = [_init("d", np.array(big, np.int64)), _init("v", np.array([0, 1], np.float32))]
        return (
            "blowup:onehot",
            make_model(nodes, [_vi("i", i64)], [_vi("y")], inits),
            {"i": np.arange(64, dtype=np.int64)},
        )
    if kind == "resize":
        nodes = [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")]
        s = np.array([1, 1, big, big], np.float32)
        return (
            "blowup:resize",
            make_model(nodes, [_vi("x")], [_vi("y")], [_init("s", s)]),
            {"x": np.ones((1, 1, 2, 2), np.float32)},
        )
    if kind == "split":
        nodes = [helper.make_node("Split", ["x"], ["a", "b"], axis=0, num_outputs=2)]
        return (
            "blowup:split",
            make_model(nodes, [_vi("x")], [_vi("a"), _vi("b")], opset=18),
            {"x": np.ones((big % 7 + 2, 3), np.float32)},
        )
    # Loop / Scan: each iteration's scan output is small, the stacked output is not.
    if kind == "loop":
        body = helper.make_graph(
            [
                helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                helper.make_node("Identity", ["v"], ["scan"]),
            ],
            "body",
            [
                _vi("i", i64, []),
                _vi("cond_in", TP.BOOL, []),
            ],
            [_vi("cond_out", TP.BOOL, []), _vi("scan")],
        )
        nodes = [helper.make_node("Loop", ["n", "c"], ["y"], body=body)]
        v = np.ones((2**14,), np.float32)  # 64 KiB per trip
        feeds = {
            "n": np.array(rng.choice([2**10, 2**20, 2**40]), np.int64),
            "c": np.array(True),
            "v": v,
        }
        return (
            "blowup:loop",
            make_model(nodes, [_vi("n", i64, []), _vi("c", TP.BOOL, []), _vi("v")], [_vi("y")]),
            feeds,
        )
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["s_in"], ["s_out"]),
            helper.make_node("Expand", ["x_t", "shape"], ["scan_out"]),
        ],
        "body",
        [_vi("s_in"), _vi("x_t")],
        [_vi("s_out"), _vi("scan_out")],
        [_init("shape", np.array([2**12, 2**10], np.int64))],
    )
    nodes = [helper.make_node("Scan", ["s", "x"], ["s_final", "y"], body=body, num_scan_inputs=1)]
    feeds = {"s": np.ones(1, np.float32), "x": np.ones((rng.choice([8, 64, 1024]), 1), np.float32)}
    return "blowup:scan", make_model(nodes, [_vi("s"), _vi("x")], [_vi("s_final"), _vi("y")]), feeds


def gen_targeted(rng: random.Random):
    """Variants of the defects fuzzing found before: exponential function inlining,
    backtracking regexes, deep nesting, bad sparse indices, complex pairs, odd names."""
    _, TP, helper, _ = _onnx()
    kind = rng.choice(["functions", "regex", "nesting", "sparse", "complex", "names"])
    if kind == "functions":
        # 2**levels nodes: small enough to load, or far above the cap (refused at once);
        # a graph of ~100k real nodes is legitimate and only slow, so not generated.
        levels = rng.choice([3, 6, 9, 12, 18, 30, 60])
        fns = [
            helper.make_function(
                "loc",
                "F0",
                ["a"],
                ["b"],
                [helper.make_node("Neg", ["a"], ["b"])],
                [helper.make_opsetid("", 17)],
            )
        ]
        for k in range(1, levels + 1):
            body = [
                helper.make_node(f"F{k - 1}", ["a"], ["t"], domain="loc"),
                helper.make_node(f"F{k - 1}", ["t"], ["b"], domain="loc"),
            ]
            fns.append(
                helper.make_function(
                    "loc",
                    f"F{k}",
                    ["a"],
                    ["b"],
                    body,
                    [helper.make_opsetid("", 17), helper.make_opsetid("loc", 1)],
                )
            )
        g = helper.make_graph(
            [helper.make_node(f"F{levels}", ["x"], ["y"], domain="loc")],
            "g",
            [_vi("x", None, [1])],
            [_vi("y", None, [1])],
        )
        m = helper.make_model(
            g,
            functions=fns,
            opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("loc", 1)],
        )
        m.ir_version = 8
        return "targeted:functions", m.SerializeToString(), {"x": np.ones(1, np.float32)}
    if kind == "regex":
        pattern = rng.choice(
            [
                r"(a+)+$",
                r"(a|aa)*b",
                r"(.*a){20}",
                r"(a*)*b",
                r"((a+)|(a+))+c",
                r"(a)\1",
                r"a(?=b)",
                r"(x+x+)+y",
                "[",
            ]
        )
        text = rng.choice(["a", "x"]) * rng.randint(1, 5000) + rng.choice(["", "!", "b"])
        node = helper.make_node("RegexFullMatch", ["x"], ["y"], pattern=pattern)
        g = helper.make_graph([node], "g", [_vi("x", TP.STRING, None)], [_vi("y", TP.BOOL, None)])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
        m.ir_version = 9
        return "targeted:regex", m.SerializeToString(), {"x": np.array([text], dtype=object)}
    if kind == "nesting":
        # onnx itself refuses to build past the parser's depth limit (~30 levels here).
        depth = rng.randint(1, 30)
        leaf = g = helper.make_graph(
            [helper.make_node("Identity", ["c"], ["o"])], "b", [], [_vi("o", TP.BOOL, None)]
        )
        for _ in range(depth):
            g = helper.make_graph(
                [helper.make_node("If", ["c"], ["o"], then_branch=g, else_branch=leaf)],
                "b",
                [],
                [_vi("o", TP.BOOL, None)],
            )
        main = helper.make_graph(
            list(g.node), "g", [_vi("c", TP.BOOL, [])], [_vi("o", TP.BOOL, None)]
        )
        m = helper.make_model(main, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return "targeted:nesting", m.SerializeToString(), {"c": np.array(True)}
    if kind == "sparse":
        dims = [rng.randint(0, 4) for _ in range(rng.randint(1, 3))]
        nnz = rng.randint(0, 4)
        cols = rng.choice([1, len(dims), len(dims) + 1])
        idx = np.array([[rng.randint(-1, 4) for _ in range(cols)] for _ in range(nnz)], np.int64)
        idx = idx.reshape(-1) if cols == 1 else idx
        sp = helper.make_sparse_tensor(_init("s", np.ones(nnz, np.float32)), _init("i", idx), dims)
        node = helper.make_node("Constant", [], ["y"], sparse_value=sp)
        return "targeted:sparse", make_model([node], [], [_vi("y")]), {}
    if kind == "complex":
        t = TP(
            name="c", data_type=rng.choice([TP.COMPLEX64, TP.COMPLEX128]), dims=[rng.randint(0, 3)]
        )
        field = t.float_data if t.data_type == TP.COMPLEX64 else t.double_data
        field.extend([1.0] * rng.randint(0, 7))
        node = helper.make_node("Identity", ["c"], ["y"])
        return (
            "targeted:complex",
            make_model([node], [], [helper.make_empty_tensor_value_info("y")], [t]),
            {},
        )
    token = bytes(rng.randrange(128, 256) for _ in range(3))  # same length: wire format intact
    nodes = [
        helper.make_node("Relu", ["x"], ["QQ1QQ"], name="QQ2QQ"),
        helper.make_node(
            rng.choice(["Neg", "QQ3QQ"]), ["QQ1QQ"], ["y"], domain=rng.choice(["", "QQ4QQ"])
        ),
    ]
    model = make_model(nodes, [_vi("x")], [_vi("y")])
    for i in range(1, 5):
        if rng.random() < 0.5:
            model = model.replace(f"QQ{i}QQ".encode(), b"Q" + token + b"Q")
    return "targeted:names", model, {"x": np.ones(2, np.float32)}


GENERATORS = [
    (gen_bytes, 3),
    (gen_fields, 3),
    (gen_random_op, 5),
    (gen_blowup, 2),
    (gen_targeted, 2),
]


def generate(rng: random.Random):
    fns, weights = zip(*GENERATORS)
    gen = rng.choices(fns, weights)[0]
    return gen(rng)


# --- driver ----------------------------------------------------------------------------------


def save_reproducer(
    out: Path, status: str, n: int, name: str, model: bytes, feeds: dict, detail: str
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{status}-{n:06d}"
    stem.with_suffix(".onnx").write_bytes(model)
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in feeds.items()}, allow_pickle=True)
    stem.with_suffix(".npz").write_bytes(buf.getvalue())
    stem.with_suffix(".txt").write_text(f"generator: {name}\n{detail}\n")
    return stem


def fuzz(
    cases: int,
    seed: int = 0,
    timeout: float = 20.0,
    memory_limit: int = DEFAULT_LIMIT,
    out: Path | None = None,
    verbose: bool = True,
) -> dict:
    """Run ``cases`` cases; returns counts per class and the list of bad cases."""
    counts = dict.fromkeys(CLASSES, 0)
    bad: list[tuple[str, str, str]] = []
    by_generator: dict[str, dict[str, int]] = {}
    wrapped: dict[str, int] = {}
    wrapped_cases: list[tuple[int, str, str]] = []
    worker = Worker()
    try:
        for n in range(cases):
            rng = random.Random(f"{seed}:{n}")
            try:
                name, model, feeds = generate(rng)
            except Exception as e:  # noqa: BLE001 - a generator bug must not stop the run
                print(f"case {n}: generator failed: {type(e).__name__}: {e}", file=sys.stderr)
                continue
            status, detail, _peak = worker.run(model, feeds, memory_limit, timeout)
            counts[status] += 1
            family = name.split(":")[0]
            by_generator.setdefault(family, dict.fromkeys(CLASSES, 0))[status] += 1
            if detail.startswith("wrapped "):
                op = name.split(":", 1)[-1] if family == "op" else family
                kind = detail.split(":")[0].split()[1]
                wrapped[f"{kind} ({op})"] = wrapped.get(f"{kind} ({op})", 0) + 1
                wrapped_cases.append((n, name, detail))
            if status not in ("ok", "wasm_rt_error"):
                where = save_reproducer(out, status, n, name, model, feeds, detail) if out else ""
                bad.append((status, name, detail))
                if verbose:
                    last = detail.strip().splitlines()[-1] if detail.strip() else ""
                    print(f"{status}: case {n} ({name}) {last[:200]} -> {where}", flush=True)
    finally:
        worker.stop()
    return {
        "counts": counts,
        "bad": bad,
        "by_generator": by_generator,
        "wrapped": wrapped,
        "wrapped_cases": wrapped_cases,
    }


def summary_line(cases: int, counts: dict, seconds: float) -> str:
    parts = ", ".join(f"{k} {counts[k]}" for k in CLASSES)
    return f"fuzz: {cases} cases in {seconds:.0f} s: {parts}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    ap.add_argument(
        "--memory-limit",
        type=int,
        default=DEFAULT_LIMIT,
        help="SessionOptions.memory_limit for every case (bytes, per tensor)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("fuzz-reproducers"),
        help="folder for the reproducers of bad cases",
    )
    ap.add_argument(
        "--list-wrapped",
        action="store_true",
        help="print every case whose kernel exception was wrapped as Fail, with its message",
    )
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker_main()
        return 0
    t0 = time.monotonic()
    result = fuzz(args.cases, args.seed, args.timeout, args.memory_limit, args.out)
    if args.list_wrapped:
        for n, name, detail in result["wrapped_cases"]:
            print(f"wrapped: case {n} ({name}) {detail}")
    top = sorted(result["wrapped"].items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{k} {v}" for k, v in top[:25])
    more = f" and {len(top) - 25} more kinds" if len(top) > 25 else ""
    print(
        f"  kernel exceptions wrapped as Fail: {sum(result['wrapped'].values())}"
        + (f" ({shown}{more})" if top else "")
    )
    for family, c in sorted(result["by_generator"].items()):
        print(f"  {family}: " + ", ".join(f"{k} {v}" for k, v in c.items() if v))
    print(summary_line(args.cases, result["counts"], time.monotonic() - t0))
    return 0 if len(result["bad"]) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
