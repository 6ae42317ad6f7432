"""wasm_rt.native inside Pyodide: the SIMD GEMM loads, is used, and equals np.matmul.

Pyodide runs in the page's main thread here (the way Python-in-the-page users run
it), with wasm_rt installed from the site's lock.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

import wasm_rt

BOOT_JS = """
async () => {
  const { loadPyodide } = await import("./pyodide/pyodide.mjs");
  const py = await loadPyodide({ indexURL: new URL("pyodide/", location.href).href });
  await py.loadPackage(["numpy", "protobuf", "wasm-rt"], { messageCallback: () => {} });
  window.py = py;
}
"""
RUN_PY_JS = "(code) => window.py.runPythonAsync(code)"


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
    return json.loads(page.evaluate(RUN_PY_JS, code))


def test_native_kernel_is_loaded_not_the_fallback(py_page):
    status = run_py(
        py_page,
        "import json, sys, wasm_rt.native as n\n"
        "json.dumps(dict(n.status(), platform=sys.platform))",
    )
    assert status["platform"] == "emscripten"
    assert status["native"], f"fell back to np.matmul: {status['reason']}"


# Each case: A's shape, B's shape and an optional view applied to the operand
# (a Python expression of x) to make it transposed, strided or reversed.
CASES_PY = r"""
import json
import numpy as np
import wasm_rt.native as n

rng = np.random.default_rng(0)
cases = [
    ((1, 1), (1, 1), None, None),
    ((1, 7), (7, 1), None, None),
    ((5, 3), (3, 9), None, None),
    ((0, 4), (4, 5), None, None),
    ((4, 0), (0, 5), None, None),
    ((3, 4), (4, 0), None, None),
    ((13, 17), (17, 23), None, None),
    ((130, 300), (300, 37), None, None),       # M > MC, K > KC
    ((6, 40), (40, 2051), None, None),          # N > NC
    ((9,), (9, 11), None, None),                # 1-D A
    ((11, 9), (9,), None, None),                # 1-D B
    ((2, 3, 5, 7), (7, 4), None, None),         # batched, B broadcast
    ((3, 1, 5, 7), (2, 7, 6), None, None),      # both broadcast
    ((0, 5, 7), (7, 4), None, None),            # empty batch
    ((33, 21), (33, 19), "x.T", None),          # transposed A
    ((21, 33), (19, 33), None, "x.T"),          # transposed B (Gemm transB)
    ((21, 66), (33, 40), "x[:, ::2]", "x[::-1, 1::2]"),  # strided, reversed
    ((4, 21, 33), (4, 19, 33), "x[::2]", "x.swapaxes(-1, -2)[::2]"),
    # M < 4: the GEMV-style kernels (B rows or B columns contiguous).
    ((1, 2048), (2048, 1000), None, None),      # batch-1 fully connected
    ((1, 2048), (1000, 2048), None, "x.T"),     # the same with transB
    ((2, 37), (37, 45), None, None),            # column tails
    ((3, 37), (45, 37), None, "x.T"),           # K tail, dot products
    ((3, 30), (45, 15), "x[:, ::2]", "x.T"),    # strided A, dot products
    ((2, 30), (30, 45), "x[:, ::2]", "x[::2]"), # strided A and B rows
    ((32, 1, 9), (32, 9, 50), None, None),      # depthwise conv groups
    ((3, 20), (20, 9), None, "x[:, ::-1]"),     # neither: blocked path
]
report = []
for a_shape, b_shape, a_view, b_view in cases:
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    if a_view:
        a = eval(a_view, {"x": a})
    if b_view:
        b = eval(b_view, {"x": b})
    calls = n.status()["calls"]
    got = n.matmul(a, b)
    want = np.matmul(a, b)
    scale = float(np.abs(want).max()) if want.size else 0.0
    report.append({
        "case": f"{a_shape}{a_view or ''} @ {b_shape}{b_view or ''}",
        "shape": [list(got.shape), list(want.shape)],
        "dtype": str(got.dtype),
        "native": n.status()["calls"] > calls,
        "max_err": float(np.abs(got - want).max()) if want.size else 0.0,
        "scale": scale,
    })
json.dumps(report)
"""


def test_random_shapes_match_np_matmul(py_page):
    report = run_py(py_page, CASES_PY)
    assert len(report) == 26
    for r in report:
        assert r["native"], f"{r['case']} did not use the kernel"
        assert r["shape"][0] == r["shape"][1], r
        assert r["dtype"] == "float32", r
        # float32 sums in another order: error grows with K, bounded here.
        assert r["max_err"] <= 1e-4 * max(1.0, r["scale"]), r


def test_other_dtypes_fall_back_to_numpy(py_page):
    result = run_py(
        py_page,
        "import json, numpy as np, wasm_rt.native as n\n"
        "a = np.arange(12.0).reshape(3, 4); b = np.ones((4, 2))\n"
        "c0 = n.status()['calls']\n"
        "y = n.matmul(a, b)\n"
        "i = n.matmul(np.ones((2, 3), np.int32), np.ones((3, 2), np.int32))\n"
        "json.dumps([str(y.dtype), y.tolist(), str(i.dtype), n.status()['calls'] - c0])",
    )
    assert result == [
        "float64",
        np.matmul(np.arange(12.0).reshape(3, 4), np.ones((4, 2))).tolist(),
        "int32",
        0,
    ]


def _conv_model() -> bytes:
    onnx = pytest.importorskip(
        "onnx", reason="the test model is built with onnx.helper"
    )
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)

    def init(name, shape):
        return numpy_helper.from_array(
            (rng.standard_normal(shape) * 0.2).astype(np.float32), name
        )

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node(
            "Conv", ["r1", "w2"], ["c2"], strides=[2, 2], group=2, pads=[0, 1, 0, 1]
        ),
        helper.make_node("ConvTranspose", ["c2", "w3", "b3"], ["c3"], strides=[2, 2]),
        helper.make_node("Flatten", ["c3"], ["f"]),
        helper.make_node("Gemm", ["f", "wg", "bg"], ["g"], transB=1),
        helper.make_node("MatMul", ["g", "wm"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "native_gemm_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 15, 17])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 7])],
        [
            init("w1", (8, 3, 3, 3)),
            init("b1", (8,)),
            init("w2", (6, 4, 3, 3)),
            init("w3", (6, 5, 2, 2)),
            init("b3", (5,)),
            init("wg", (10, 5 * 14 * 18)),
            init("bg", (10,)),
            init("wm", (10, 7)),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_conv_model_matches_host(py_page):
    model = _conv_model()
    x = np.random.default_rng(2).standard_normal((2, 3, 15, 17)).astype(np.float32)
    (expected,) = wasm_rt.InferenceSession(model).run(None, {"x": x})
    code = f"""
import base64, json, numpy as np, wasm_rt, wasm_rt.native as n
model = base64.b64decode({base64.b64encode(model).decode()!r})
x = np.frombuffer(base64.b64decode({base64.b64encode(x.tobytes()).decode()!r}),
                  np.float32).reshape({list(x.shape)})
c0 = n.status()["calls"]
(y,) = wasm_rt.InferenceSession(model).run(None, {{"x": x}})
json.dumps({{"y": base64.b64encode(y.astype(np.float32).tobytes()).decode(),
            "shape": list(y.shape), "calls": n.status()["calls"] - c0}})
"""
    result = run_py(py_page, code)
    actual = np.frombuffer(base64.b64decode(result["y"]), np.float32).reshape(
        result["shape"]
    )
    # Conv, Conv, ConvTranspose, Gemm and MatMul each go through the kernel.
    assert result["calls"] >= 5
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


FALLBACK_PY = r"""
import json, pathlib, warnings
import numpy as np
import wasm_rt.native as n

saved = (n._kernel, dict(n._status), n.WASM_PATH)
try:
    # A fresh process whose gemm.wasm is broken: the first product warns once
    # with the reason, and every product then goes through np.matmul.
    bad = pathlib.Path("/tmp/not_a_module.wasm")
    bad.write_bytes(b"this is not wasm")
    n._kernel, n.WASM_PATH = None, bad
    n._status.update(native=False, reason="not loaded yet")
    a = np.ones((3, 4), np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = [n.matmul(a, a.T) for _ in range(3)]
    result = {
        "warnings": [str(w.message) for w in caught],
        "status": n.status(),
        "equal": all(np.array_equal(v, a @ a.T) for v in y),
    }
finally:
    n._kernel, status, n.WASM_PATH = saved
    n._status.clear()
    n._status.update(status)
json.dumps(result)
"""


def test_a_broken_module_warns_once_and_falls_back(py_page):
    result = run_py(py_page, FALLBACK_PY)
    assert result["equal"]
    assert len(result["warnings"]) == 1, result["warnings"]
    assert "did not load" in result["warnings"][0]
    assert not result["status"]["native"]
    assert result["status"]["reason"] in result["warnings"][0]
    # The page's real kernel is back for the other tests.
    assert run_py(
        py_page, "import json, wasm_rt.native as n\njson.dumps(n.status()['native'])"
    )
