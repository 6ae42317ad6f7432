"""The ONNX integer ops on the SIMD int8 GEMM inside Pyodide, against host onnxruntime.

MatMulInteger (batched, broadcast, zero points per tensor and per column, uint8
and int8), QLinearMatMul, ConvInteger and QLinearConv (groups, pads, strides,
dilations), DynamicQuantizeLinear and a quantize_static QDQ model (fused by
wasm_rt's QDQ pass) run in the page; each must equal onnxruntime on the host
bit for bit and go through ``wasm_rt.native.qgemm_i32`` (its call counter).
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the test models are built with onnx.helper")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the oracle")
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(9)
BOOT_JS = """
async () => {
  const { loadPyodide } = await import("./pyodide/pyodide.mjs");
  const py = await loadPyodide({ indexURL: new URL("pyodide/", location.href).href });
  await py.loadPackage(["numpy", "protobuf", "wasm-rt"], { messageCallback: () => {} });
  window.py = py;
}
"""
_TYPES = {
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.float32): TensorProto.FLOAT,
}


def _q(shape, dtype):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max + 1, shape).astype(dtype)


def _model(op, feeds, consts, outputs=(TensorProto.INT32,), opset=13, **attrs):
    """One-node model: ``feeds`` are graph inputs, ``consts`` initializers (names in order)."""
    names = list(feeds) + [n for n in consts if n not in feeds]
    order = attrs.pop("order", names)
    node = helper.make_node(op, order, [f"y{i}" for i in range(len(outputs))], **attrs)
    graph = helper.make_graph(
        [node],
        op,
        [
            helper.make_tensor_value_info(n, _TYPES[v.dtype], v.shape)
            for n, v in feeds.items()
        ],
        [
            helper.make_tensor_value_info(f"y{i}", t, None)
            for i, t in enumerate(outputs)
        ],
        [numpy_helper.from_array(v, n) for n, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def _cases():
    cases = []
    for ta, tb in [(np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8)]:
        a, b = _q((2, 5, 40), ta), _q((40, 24), tb)
        cases.append(
            (
                "MatMulInteger 3-D x 2-D, per-column B zp",
                _model(
                    "MatMulInteger",
                    {"a": a},
                    {"b": b, "az": _q((), ta), "bz": _q((24,), tb)},
                ),
                {"a": a},
            )
        )
    a, b = _q((3, 1, 4, 20), np.uint8), _q((2, 20, 7), np.int8)
    cases.append(
        (
            "MatMulInteger broadcast batches",
            _model("MatMulInteger", {"a": a, "b": b}, {}),
            {"a": a, "b": b},
        )
    )
    a, b = _q((6, 33), np.uint8), _q((33, 9), np.int8)
    consts = {
        "as": np.array(0.02, np.float32),
        "az": np.array(128, np.uint8),
        "b": b,
        "bs": np.asarray(RNG.random(9) * 0.01 + 0.001, np.float32),
        "bz": np.zeros(9, np.int8),
        "ys": np.array(0.3, np.float32),
        "yz": np.array(120, np.uint8),
    }
    m = _model("QLinearMatMul", {"a": a}, consts, outputs=(TensorProto.UINT8,))
    cases.append(("QLinearMatMul per-column B", m, {"a": a}))
    x = _q((2, 4, 11, 10), np.uint8)
    for attrs in (
        {"group": 2, "pads": [1, 1, 1, 1]},
        {"strides": [2, 1], "dilations": [1, 2], "pads": [0, 1, 2, 0]},
    ):
        w = _q((6, 4 // attrs.get("group", 1), 3, 3), np.uint8)
        m = _model(
            "ConvInteger",
            {"x": x},
            {"w": w, "xz": np.array(130, np.uint8), "wz": np.array(5, np.uint8)},
            **attrs,
        )
        cases.append((f"ConvInteger {attrs}", m, {"x": x}))
        consts = {
            "xs": np.array(0.05, np.float32),
            "xz": np.array(130, np.uint8),
            "w": _q(w.shape, np.int8),
            "ws": np.asarray(RNG.random(6) * 0.02 + 0.002, np.float32),
            "wz": np.zeros(6, np.int8),
            "ys": np.array(0.5, np.float32),
            "yz": np.array(100, np.uint8),
            "b": RNG.integers(-2000, 2000, 6).astype(np.int32),
        }
        m = _model(
            "QLinearConv", {"x": x}, consts, outputs=(TensorProto.UINT8,), **attrs
        )
        cases.append((f"QLinearConv {attrs}", m, {"x": x}))
    x = (RNG.standard_normal((7, 300)) * 3).astype(np.float32)
    cases.append(
        (
            "DynamicQuantizeLinear",
            _model(
                "DynamicQuantizeLinear",
                {"x": x},
                {},
                outputs=(TensorProto.UINT8, TensorProto.FLOAT, TensorProto.UINT8),
            ),
            {"x": x},
        )
    )
    return cases


def _qdq_ffn():
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    d, ff = 64, 160
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h0"]),
            helper.make_node("Add", ["h0", "b1"], ["h1"]),
            helper.make_node("Relu", ["h1"], ["h2"]),
            helper.make_node("MatMul", ["h2", "w2"], ["y"]),
        ],
        "ffn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, d])],
        [
            numpy_helper.from_array(
                (RNG.standard_normal(s) * 0.2).astype(np.float32), n
            )
            for n, s in (("w1", (d, ff)), ("b1", (ff,)), ("w2", (ff, d)))
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    import tempfile
    from pathlib import Path

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": RNG.standard_normal((8, d)).astype(np.float32)}] * 2)

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "f.onnx", Path(tmp) / "q.onnx"
        onnx.save(model, src)
        quantize_static(
            src,
            dst,
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        data = dst.read_bytes()
    x = RNG.standard_normal((8, d)).astype(np.float32)
    return "QDQ FFN (fused)", data, {"x": x}


PAGE_PY = """
import base64, json, numpy as np, wasm_rt, wasm_rt.native as n
def _arr(spec):
    data, dtype, shape = spec
    return np.frombuffer(base64.b64decode(data), dtype).reshape(shape)
out = []
for name, model, feeds in json.loads(CASES):
    c0 = n.status()["quant_calls"]
    sess = wasm_rt.InferenceSession(base64.b64decode(model))
    ys = sess.run(None, {k: _arr(v) for k, v in feeds.items()})
    out.append({"name": name, "quant_calls": n.status()["quant_calls"] - c0,
                "ys": [[base64.b64encode(np.ascontiguousarray(y).tobytes()).decode(),
                        str(y.dtype), list(y.shape)] for y in ys]})
json.dumps(out)
"""


@pytest.fixture(scope="module")
def py_page(browser, site_url):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(300_000)
    page.goto(site_url + "run.html")
    page.evaluate(BOOT_JS)
    yield page
    context.close()


def run_py(page, code: str):
    """Run ``code`` in the page's Pyodide; its last expression must be a JSON string."""
    return json.loads(page.evaluate("(code) => window.py.runPythonAsync(code)", code))


def _enc(x: np.ndarray):
    return [base64.b64encode(x.tobytes()).decode(), str(x.dtype), list(x.shape)]


def test_integer_ops_in_pyodide_equal_onnxruntime(py_page):
    cases = _cases() + [_qdq_ffn()]
    payload = json.dumps(
        [
            [name, base64.b64encode(m).decode(), {k: _enc(v) for k, v in f.items()}]
            for name, m, f in cases
        ]
    )
    result = run_py(py_page, f"CASES = {payload!r}\n" + PAGE_PY)
    assert len(result) == len(cases)
    for (name, model, feeds), got in zip(cases, result):
        want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
            None, feeds
        )
        if name != "DynamicQuantizeLinear":
            assert got["quant_calls"] > 0, f"{name}: the SIMD int8 GEMM was not used"
        assert len(got["ys"]) == len(want), name
        for (data, dtype, shape), w in zip(got["ys"], want):
            y = np.frombuffer(base64.b64decode(data), dtype).reshape(shape)
            assert y.dtype == w.dtype and y.shape == w.shape, name
            np.testing.assert_array_equal(y, w, err_msg=name)
