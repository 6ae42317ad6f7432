"""Output sizes are checked against SessionOptions.memory_limit before kernels run:
broadcasting, Einsum, Concat, Expand, Loop/Scan stacked outputs, Scan's
num_scan_inputs.  ``python tests/test_allocation_checks.py`` measures the
per-node cost of the checks on a 1,000-node graph of tiny ops.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import wasm_rt
from wasm_rt.errors import InvalidArgument, MemoryLimitError

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(
        g, opset_imports=[helper.make_opsetid("", opset)]
    ).SerializeToString()


def _session(model, limit=None):
    so = wasm_rt.SessionOptions()
    if limit is not None:
        so.memory_limit = limit
    return wasm_rt.InferenceSession(model, so)


def _vi(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


@pytest.mark.parametrize("op", ["Add", "Mul", "Equal"])
def test_broadcast_is_checked_before_the_kernel(op):
    model = _model(
        [helper.make_node(op, ["a", "b"], ["y"])],
        [_vi("a", [None, 1]), _vi("b", [1, None])],
        [_vi("y", None)],
    )
    sess = _session(model)
    a = np.ones((65536, 1), np.float32)
    start = time.perf_counter()
    with pytest.raises(MemoryLimitError, match=rf"\({op}\) output 'y'.*65536, 65536"):
        sess.run(None, {"a": a, "b": a.reshape(1, -1)})
    assert time.perf_counter() - start < 1.0  # refused, not attempted
    # Equal shapes and small broadcasts still run.
    out = sess.run(
        None, {"a": np.ones((3, 1), np.float32), "b": np.ones((1, 4), np.float32)}
    )
    assert out[0].shape == (3, 4)


def test_where_broadcast_is_checked():
    model = _model(
        [helper.make_node("Where", ["c", "a", "b"], ["y"])],
        [_vi("c", [None, 1], TensorProto.BOOL), _vi("a", [1, None]), _vi("b", [1])],
        [_vi("y", None)],
    )
    sess = _session(model)
    with pytest.raises(MemoryLimitError, match=r"Where\) output 'y'"):
        sess.run(
            None,
            {
                "c": np.ones((65536, 1), bool),
                "a": np.ones((1, 65536), np.float32),
                "b": np.ones(1, np.float32),
            },
        )


def test_einsum_outer_product_is_checked():
    model = _model(
        [helper.make_node("Einsum", ["a", "b"], ["y"], equation="i,j->ij")],
        [_vi("a", [None]), _vi("b", [None])],
        [_vi("y", None)],
    )
    sess = _session(model)
    v = np.ones(65536, np.float32)
    with pytest.raises(MemoryLimitError, match=r"Einsum\) output 'y'"):
        sess.run(None, {"a": v, "b": v})
    assert sess.run(None, {"a": v[:3], "b": v[:2]})[0].shape == (3, 2)


def test_concat_is_checked():
    model = _model(
        [helper.make_node("Concat", ["a", "a", "a"], ["y"], axis=0)],
        [_vi("a", [None])],
        [_vi("y", None)],
    )
    sess = _session(model, limit=1 << 20)
    with pytest.raises(MemoryLimitError, match=r"Concat\) output 'y'.*\[300000\]"):
        sess.run(None, {"a": np.ones(100000, np.float32)})
    assert sess.run(None, {"a": np.ones(1000, np.float32)})[0].shape == (3000,)


def test_expand_and_tile_from_shape_inputs_are_checked():
    shape = numpy_helper.from_array(np.array([1 << 16, 1 << 16], np.int64), "shape")
    reps = numpy_helper.from_array(np.array([1 << 20], np.int64), "reps")
    model = _model(
        [
            helper.make_node("Expand", ["x", "shape"], ["y"]),
            helper.make_node("Tile", ["x1", "reps"], ["z"]),
        ],
        [_vi("x", [1, 1]), _vi("x1", [None])],
        [_vi("y", None), _vi("z", None)],
        [shape, reps],
    )
    sess = _session(model)
    with pytest.raises(MemoryLimitError, match=r"Expand\) output 'y'"):
        sess.run(
            None, {"x": np.ones((1, 1), np.float32), "x1": np.ones(4096, np.float32)}
        )


def test_matmul_and_gather_are_checked():
    model = _model(
        [
            helper.make_node("MatMul", ["a", "b"], ["y"]),
            helper.make_node("Gather", ["b", "i"], ["z"], axis=0),
        ],
        [_vi("a", [None, 1]), _vi("b", [1, None]), _vi("i", [None], TensorProto.INT64)],
        [_vi("y", None), _vi("z", None)],
    )
    sess = _session(model)
    a = np.ones((65536, 1), np.float32)
    small = np.zeros(2, np.int64)
    with pytest.raises(MemoryLimitError, match=r"MatMul\) output 'y'"):
        sess.run(None, {"a": a, "b": a.reshape(1, -1), "i": small})
    with pytest.raises(MemoryLimitError, match=r"Gather\) output 'z'"):
        sess.run(
            None, {"a": a[:2], "b": a.reshape(1, -1), "i": np.zeros(65536, np.int64)}
        )
    y, z = sess.run(None, {"a": a[:2], "b": a[:3].reshape(1, -1), "i": small})
    assert y.shape == (2, 3) and z.shape == (2, 3)


def test_cast_to_a_wider_type_is_checked():
    model = _model(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.DOUBLE)],
        [_vi("x", [None], TensorProto.UINT8)],
        [_vi("y", None)],
    )
    sess = _session(model, limit=1 << 20)
    with pytest.raises(MemoryLimitError, match=r"Cast\) output 'y'"):
        sess.run(None, {"x": np.ones(200000, np.uint8)})  # 200 KB in, 1.6 MB out


def test_range_and_constant_of_shape_are_checked():
    model = _model(
        [
            helper.make_node("Range", ["s", "l", "d"], ["r"]),
            helper.make_node("ConstantOfShape", ["shape"], ["c"]),
        ],
        [
            _vi("s", [], TensorProto.INT64),
            _vi("l", [], TensorProto.INT64),
            _vi("d", [], TensorProto.INT64),
            _vi("shape", [2], TensorProto.INT64),
        ],
        [_vi("r", None), _vi("c", None)],
    )
    sess = _session(model, limit=1 << 20)
    i64 = lambda v: np.array(v, np.int64)
    with pytest.raises(MemoryLimitError, match=r"Range\) output 'r'"):
        sess.run(
            None, {"s": i64(0), "l": i64(10**7), "d": i64(1), "shape": i64([1, 1])}
        )
    with pytest.raises(MemoryLimitError, match=r"ConstantOfShape\) output 'c'"):
        sess.run(
            None, {"s": i64(0), "l": i64(3), "d": i64(1), "shape": i64([1000, 1000])}
        )
    r, c = sess.run(None, {"s": i64(0), "l": i64(3), "d": i64(1), "shape": i64([2, 2])})
    assert r.tolist() == [0, 1, 2] and c.shape == (2, 2)


def _loop_model(trips: int, width: int):
    one = numpy_helper.from_array(np.ones(width, np.float32), "row")
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Identity", ["row"], ["scan_out"]),
        ],
        "body",
        [_vi("i", [], TensorProto.INT64), _vi("cond_in", [], TensorProto.BOOL)],
        [_vi("cond_out", [], TensorProto.BOOL), _vi("scan_out", [width])],
    )
    m = numpy_helper.from_array(np.array(trips, np.int64), "M")
    c = numpy_helper.from_array(np.array(True), "cond")
    return _model(
        [helper.make_node("Loop", ["M", "cond"], ["stacked"], body=body)],
        [],
        [_vi("stacked", None)],
        [m, c, one],
    )


def test_loop_scan_output_is_checked_as_it_grows():
    sess = _session(_loop_model(10**7, 1000), limit=1 << 20)
    start = time.perf_counter()
    with pytest.raises(MemoryLimitError, match="Loop scan output 0"):
        sess.run(None, {})
    # Stopped after ~260 trips (1 MiB of 4,000-byte rows), not after 10 million.
    assert time.perf_counter() - start < 5.0
    assert _session(_loop_model(5, 1000), limit=1 << 20).run(None, {})[0].shape == (
        5,
        1000,
    )


def _scan_model(num_scan_inputs: int = 1, width: int = 1000):
    shape = numpy_helper.from_array(np.array([width], np.int64), "w")
    body = helper.make_graph(
        [helper.make_node("Expand", ["x_t", "w"], ["y_t"])],
        "body",
        [_vi("x_t", [])],
        [_vi("y_t", [width])],
        [shape],
    )
    return _model(
        [
            helper.make_node(
                "Scan", ["x"], ["ys"], body=body, num_scan_inputs=num_scan_inputs
            )
        ],
        [_vi("x", [None])],
        [_vi("ys", None)],
        opset=17,
    )


def test_scan_output_is_checked_after_the_first_iteration():
    sess = _session(_scan_model(), limit=1 << 20)
    with pytest.raises(MemoryLimitError, match=r"Scan scan output 0.*\[100000, 1000\]"):
        sess.run(None, {"x": np.ones(100000, np.float32)})
    assert sess.run(None, {"x": np.ones(3, np.float32)})[0].shape == (3, 1000)


@pytest.mark.parametrize("n", [0, 2, -1])
def test_scan_num_scan_inputs_out_of_range_is_refused(n):
    sess = _session(_scan_model(num_scan_inputs=n))
    with pytest.raises(InvalidArgument, match="num_scan_inputs"):
        sess.run(None, {"x": np.ones(3, np.float32)})


def test_string_split_padding_is_checked():
    # One string with 100,000 pieces pads all 100 rows to that width: 80 MB of
    # object pointers from 200 KB of text.
    model = _model(
        [helper.make_node("StringSplit", ["x"], ["y", "n"], delimiter=",")],
        [_vi("x", [None], TensorProto.STRING)],
        [_vi("y", None, TensorProto.STRING), _vi("n", None, TensorProto.INT64)],
        opset=20,
    )
    sess = _session(model, limit=1 << 20)
    x = np.array(["," * 100000] + ["a"] * 99, dtype=object)
    with pytest.raises(MemoryLimitError, match=r"StringSplit output.*\[100, 100001\]"):
        sess.run(None, {"x": x})
    y, n = sess.run(None, {"x": np.array(["a,b", "c"], dtype=object)})
    assert y.tolist() == [["a", "b"], ["c", ""]] and n.tolist() == [2, 1]


def _chain(n: int) -> bytes:
    nodes = []
    prev = "x"
    for i in range(n):
        op = ("Add", "Relu", "Mul", "Neg")[i % 4]
        ins = [prev, "x"] if op in ("Add", "Mul") else [prev]
        nodes.append(helper.make_node(op, ins, [f"v{i}"]))
        prev = f"v{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    return _model(nodes, [_vi("x", [1])], [_vi("y", [1])])


def test_tiny_op_chain_runs_with_checks():
    sess = _session(_chain(40))
    assert sess.run(None, {"x": np.ones(1, np.float32)})[0].shape == (1,)


def measure_overhead(n: int = 1000, runs: int = 30) -> tuple[float, float]:
    """(us/node with checks, us/node with compile_check returning None)."""
    import wasm_rt.executor as ex

    feeds = {"x": np.ones(1, np.float32)}

    def best():
        sess = _session(_chain(n))
        sess.run(None, feeds)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            sess.run(None, feeds)
            times.append(time.perf_counter() - t)
        return min(times) / (n + 1) * 1e6

    with_checks = best()
    original = ex.compile_check
    ex.compile_check = lambda *a, **k: None
    try:
        without = best()
    finally:
        ex.compile_check = original
    return with_checks, without


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    w, wo = measure_overhead(n)
    print(
        f"{n}-node chain: {w:.2f} us/node with checks, {wo:.2f} without, "
        f"{w - wo:+.2f} us/node"
    )
