"""The float16 pass: wasm_rt casts float16 nodes where onnxruntime's CPU provider does.

Each model runs on both runtimes at ORT_DISABLE_ALL, where onnxruntime's graph is
the model plus the Casts its partitioning inserts; the Cast nodes of both graphs
are compared (same count, same direction), and outputs are bit-exact where every
float32 op of the chain is exactly rounded in IEEE arithmetic (add, mul, relu,
data movement).  Matrix products are not: numpy's BLAS and onnxruntime's MLAS
sum in different orders, so float32 results differ in the last bits and, after
the chain's final Cast, by at most one float16 ulp (rtol 2**-10).
"""

from __future__ import annotations

import io
import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

import wasm_rt
import wasm_rt.optimizer
from tests.oracle import assert_same

F16 = T.FLOAT16
DISABLE = ort.GraphOptimizationLevel.ORT_DISABLE_ALL


def _vi(name, elem=F16, shape=(2, 3)):
    return h.make_tensor_value_info(name, elem, shape)


def _model(nodes, inputs, outputs, inits=(), opset=17) -> bytes:
    graph = h.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 10
    return model.SerializeToString()


def _ort(model: bytes, feeds, tmp_path, level=DISABLE):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.optimized_model_filepath = str(tmp_path / "ort_optimized.onnx")
    outs = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"]).run(
        None, feeds
    )
    return outs, onnx.load(so.optimized_model_filepath).graph


def _casts(nodes, initializers=()) -> list[int]:
    """The 'to' of every Cast; a float32 initializer made from a float16 one
    counts as a Cast to float (onnxruntime keeps that Cast at ORT_DISABLE_ALL)."""
    found = [
        n.attrs["to"] if hasattr(n, "attrs") else h.get_attribute_value(n.attribute[0])
        for n in nodes
        if n.op_type == "Cast"
    ]
    return sorted(
        found + [T.FLOAT for name in initializers if name.startswith("Inserted")]
    )


def _check(model: bytes, feeds, tmp_path, rtol=0.0, level=DISABLE, atol=0.0):
    theirs, ort_graph = _ort(model, feeds, tmp_path, level)
    opts = wasm_rt.SessionOptions()
    opts.graph_optimization_level = level
    sess = wasm_rt.InferenceSession(model, opts)
    assert_same(sess.run(None, feeds), theirs, rtol=rtol, atol=atol)
    if level == DISABLE:
        assert _casts(sess._graph.nodes, sess._graph.initializers) == _casts(
            ort_graph.node
        )
    return sess


def _x(shape=(2, 3), seed=0, scale=3.0, dtype=np.float16):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _n(op, ins, outs, **attrs):
    return h.make_node(op, ins, outs, name=outs[0], **attrs)


SHAPE6 = numpy_helper.from_array(np.array([6], np.int64), "s6")
CASES = {
    # No float16 Add kernel: Cast, Add in float32, Cast back.
    "add": ([_n("Add", ["x", "y"], ["z"])], ["x", "y"], ["z"], (), 17),
    # Transpose has a float16 kernel but sits between converted nodes: forced to float32.
    "isolated_transpose": (
        [
            _n("Add", ["x", "x"], ["a"]),
            _n("Transpose", ["a"], ["b"]),
            _n("Relu", ["b"], ["z"]),
        ],
        ["x"],
        ["z"],
        (),
        17,
    ),
    # Transpose feeds Reshape (float16 kernel): both stay float16, Casts around them.
    "fp16_island": (
        [
            _n("Add", ["x", "x"], ["a"]),
            _n("Transpose", ["a"], ["b"]),
            _n("Reshape", ["b", "s6"], ["c"]),
            _n("Relu", ["c"], ["z"]),
        ],
        ["x"],
        ["z"],
        (SHAPE6,),
        17,
    ),
    # Clip has a float16 kernel from opset 12 only.
    "clip_11": ([_n("Clip", ["x"], ["z"])], ["x"], ["z"], (), 11),
    "clip_13": ([_n("Clip", ["x"], ["z"])], ["x"], ["z"], (), 13),
    # A value that is a graph output and feeds the chain: its Cast back stays.
    "output_mid_chain": (
        [_n("Add", ["x", "x"], ["a"]), _n("Mul", ["a", "x"], ["z"])],
        ["x"],
        ["a", "z"],
        (),
        17,
    ),
    # Concat (float16 kernel, variadic) between converted nodes.
    "concat": (
        [
            _n("Relu", ["x"], ["a"]),
            _n("Concat", ["a", "x"], ["b"], axis=0),
            _n("Neg", ["b"], ["z"]),
        ],
        ["x"],
        ["z"],
        (),
        17,
    ),
    # A Constant node is an initializer to onnxruntime.
    "constant": (
        [
            h.make_node(
                "Constant",
                [],
                ["c"],
                value=numpy_helper.from_array(np.array([1.5], np.float16)),
            ),
            _n("Mul", ["x", "c"], ["z"]),
        ],
        ["x"],
        ["z"],
        (),
        17,
    ),
    # Two converted nodes share an input: one Cast.
    "shared_input": (
        [
            _n("Relu", ["x"], ["a"]),
            _n("Neg", ["x"], ["b"]),
            _n("Add", ["a", "b"], ["z"]),
        ],
        ["x"],
        ["z"],
        (),
        17,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_casts_and_outputs_match_onnxruntime(case, tmp_path):
    nodes, ins, outs, inits, opset = CASES[case]
    model = _model(
        nodes,
        [_vi(n) for n in ins],
        [h.make_value_info(n, onnx.TypeProto()) for n in outs],
        inits,
        opset,
    )
    feeds = {n: _x(seed=i) for i, n in enumerate(ins)}
    _check(model, feeds, tmp_path)


def test_user_cast_roundtrips(tmp_path):
    """A user's float32->float16 Cast keeps its rounding before a user Cast back.
    Before only Casts onnxruntime inserted, onnxruntime drops it (RemoveDuplicateCast
    never counts an inserted Cast as losing precision) and Mul squares the
    unrounded float32 input.  wasm_rt follows onnxruntime in both."""
    x32 = h.make_tensor_value_info("x", T.FLOAT, (2, 3))
    x = _x(scale=10.0, dtype=np.float32)
    rounded = x.astype(np.float16).astype(np.float32)
    user_back = [_n("Cast", ["a"], ["b"], to=T.FLOAT), _n("Relu", ["b"], ["y"])]
    for back in (user_back, []):
        nodes = [_n("Cast", ["x"], ["a"], to=F16), *back, _n("Mul", ["a", "a"], ["z"])]
        outs = [_vi("y", T.FLOAT)] if back else []
        sess = _check(_model(nodes, [x32], [*outs, _vi("z")]), {"x": x}, tmp_path)
        *y, z = sess.run(None, {"x": x})
        np.testing.assert_array_equal(
            z, ((rounded if back else x) ** 2).astype(np.float16)
        )
        if back:
            np.testing.assert_array_equal(y[0], np.maximum(rounded, 0))


def test_cast_to_int_reads_the_float32_value(tmp_path):
    # Add(float16) -> Cast(int64): onnxruntime's Cast then converts the float32 sum.
    model = _model(
        [_n("Add", ["x", "x"], ["a"]), _n("Cast", ["a"], ["z"], to=T.INT64)],
        [_vi("x")],
        [_vi("z", T.INT64)],
    )
    _check(model, {"x": np.array([[1023.75, 2.5, -3.25]] * 2, np.float16)}, tmp_path)


def test_float32_model_is_unchanged():
    model = _model(
        [_n("Add", ["x", "x"], ["z"])], [_vi("x", T.FLOAT)], [_vi("z", T.FLOAT)]
    )
    sess = wasm_rt.InferenceSession(model)
    assert "insert_cast_float16" not in sess.applied_optimizations
    assert [n.op_type for n in sess._graph.nodes] == ["Add"]


def test_if_subgraph_converted_inside(tmp_path):
    then = h.make_graph(
        [_n("Add", ["x", "x"], ["t"]), _n("Relu", ["t"], ["t_out"])],
        "then",
        [],
        [_vi("t_out")],
    )
    other = h.make_graph([_n("Neg", ["x"], ["e_out"])], "else", [], [_vi("e_out")])
    nodes = [
        _n("Mul", ["x", "x"], ["m"]),
        _n("If", ["c"], ["r"], then_branch=then, else_branch=other),
        _n("Add", ["r", "m"], ["z"]),
    ]
    model = _model(nodes, [_vi("x"), _vi("c", T.BOOL, ())], [_vi("z")])
    for c in (True, False):
        sess = _check(model, {"x": _x(), "c": np.array(c)}, tmp_path)
    (if_node,) = [n for n in sess._graph.nodes if n.op_type == "If"]
    _, ort_graph = _ort(model, {"x": _x(), "c": np.array(True)}, tmp_path)
    (ort_if,) = [n for n in ort_graph.node if n.op_type == "If"]
    for a in ort_if.attribute:
        ort_casts = _casts(h.get_attribute_value(a).node)
        assert _casts(if_node.attrs[a.name].nodes) == ort_casts
        assert ort_casts == [T.FLOAT, F16]  # each branch: one chain


def test_loop_body_converted_inside(tmp_path):
    # The body's carried float16 value is declared without a type: it comes from
    # the Loop's input.  Body nodes read the outer x through a Cast of their own.
    body = h.make_graph(
        [_n("Identity", ["cond"], ["cond_out"]), _n("Add", ["v", "x"], ["a"]),
         _n("Mul", ["a", "a"], ["v_out"])],
        "body",
        [_vi("i", T.INT64, ()), _vi("cond", T.BOOL, ()),
         h.make_value_info("v", onnx.TypeProto())],
        [_vi("cond_out", T.BOOL, ()), _vi("v_out")],
    )  # fmt: skip
    trips = numpy_helper.from_array(np.array(3, np.int64), "n")
    nodes = [_n("Loop", ["n", "", "x"], ["z"], body=body)]
    model = _model(nodes, [_vi("x")], [_vi("z")], [trips])
    sess = _check(model, {"x": _x(scale=0.5)}, tmp_path)
    (loop,) = sess._graph.nodes
    _, ort_graph = _ort(model, {"x": _x(scale=0.5)}, tmp_path)
    ort_body = h.get_attribute_value(ort_graph.node[0].attribute[0])
    assert _casts(loop.attrs["body"].nodes) == _casts(ort_body.node)
    assert _casts(ort_body.node) == [T.FLOAT, T.FLOAT, F16]


def test_op_onnxruntime_cannot_run_is_left_alone():
    # SwiGLU (opset 28) is past onnxruntime 1.31: it keeps float16 semantics.
    model = _model([_n("SwiGLU", ["x", "y"], ["z"])], [_vi("x"), _vi("y")], [_vi("z")],
                   opset=28)  # fmt: skip
    sess = wasm_rt.InferenceSession(model)
    assert [n.op_type for n in sess._graph.nodes] == ["SwiGLU"]


def _torch_block(tmp_path, transformer: bool) -> onnx.ModelProto:
    torch = pytest.importorskip("torch")

    class _Block(torch.nn.Module):
        """A pre-norm transformer encoder block (4 heads), written out so the
        exporter emits plain MatMul/Softmax/LayerNormalization nodes."""

        def __init__(self, d=32, heads=4):
            super().__init__()
            self.heads, self.ln1, self.ln2 = (
                heads,
                torch.nn.LayerNorm(d),
                torch.nn.LayerNorm(d),
            )
            self.qkv, self.out = torch.nn.Linear(d, 3 * d), torch.nn.Linear(d, d)
            self.mlp = torch.nn.Sequential(
                torch.nn.Linear(d, 2 * d), torch.nn.GELU(), torch.nn.Linear(2 * d, d)
            )

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = (
                self.qkv(self.ln1(x))
                .reshape(b, t, 3, self.heads, -1)
                .permute(2, 0, 3, 1, 4)
            )
            att = torch.softmax(
                q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5, dim=-1
            )
            x = x + self.out((att @ v).transpose(1, 2).reshape(b, t, d))
            return x + self.mlp(self.ln2(x))

    torch.manual_seed(0)
    if transformer:
        net, x = _Block(), torch.randn(2, 8, 32)
    else:
        net = torch.nn.Sequential(
            torch.nn.Linear(16, 64),
            torch.nn.GELU(),
            torch.nn.Linear(64, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 8),
            torch.nn.Softmax(-1),
        )
        x = torch.randn(4, 16)
    buf = io.BytesIO()
    torch.onnx.export(
        net.eval(),
        (x,),
        buf,
        input_names=["x"],
        output_names=["y"],
        opset_version=17,
        dynamo=False,
    )
    return onnx.load_from_string(buf.getvalue())


@pytest.mark.parametrize("transformer", [False, True], ids=["mlp", "transformer"])
@pytest.mark.parametrize("keep_io", [False, True], ids=["fp16_io", "keep_io_types"])
def test_converted_torch_model(tmp_path, transformer, keep_io):
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(
        _torch_block(tmp_path, transformer), keep_io_types=keep_io
    )
    data = model.SerializeToString()
    shape = (2, 8, 32) if transformer else (4, 16)
    feeds = {"x": _x(shape, scale=1.0, dtype=np.float32 if keep_io else np.float16)}
    # MatMul/Gemm and Softmax's exp run in float32 in both runtimes with different
    # summation orders / exp implementations: one float16 ulp apart at most.
    sess = _check(data, feeds, tmp_path, rtol=2**-10)
    for level in (
        ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    ):
        # onnxruntime fuses and folds more at these levels, which moves where it
        # rounds: a few float16 ulps, absolute where a residual sum cancels.
        _check(data, feeds, tmp_path, rtol=4 * 2**-10, atol=2**-10, level=level)

    def median_run(s, repeat=20):
        s.run(None, feeds)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            s.run(None, feeds)
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    saved = wasm_rt.optimizer.PASSES
    try:
        wasm_rt.optimizer.PASSES = [p for p in saved if p[1] != "insert_cast_float16"]
        plain = wasm_rt.InferenceSession(data)
    finally:
        wasm_rt.optimizer.PASSES = saved
    with_pass, without = median_run(wasm_rt.InferenceSession(data)), median_run(plain)
    print(
        f"\n{'transformer' if transformer else 'mlp'} keep_io={keep_io}: "
        f"{without * 1e3:.3f} ms without the pass, {with_pass * 1e3:.3f} ms with "
        f"({without / with_pass:.2f}x)"
    )
    assert sess.run(None, feeds)[0].dtype == (np.float32 if keep_io else np.float16)
