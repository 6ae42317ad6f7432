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


# The quantized kernels (qgemm.c) against exact numpy integer math. Each case:
# M, K, N; all four uint8/int8 combinations, per-tensor and per-column zero
# points run on every shape. The shapes cover M = 1..3 (the in-place small-M
# path, its 32/16/8-column blocks and scalar column tail), M >= 4 (the packed
# path), odd K, K across the 128/256 blocks, N across the 2048-column block.
QGEMM_PY = r"""
import json
import numpy as np
import wasm_rt.native as n

rng = np.random.default_rng(3)
shapes = [
    (1, 1, 1), (1, 5, 3), (1, 17, 9), (1, 64, 40), (1, 300, 77), (1, 768, 768),
    (2, 33, 17), (2, 256, 24), (3, 129, 31), (3, 8, 16),
    (4, 16, 8), (5, 31, 13), (7, 257, 19), (130, 40, 9), (16, 768, 64),
    (5, 6, 2051), (33, 255, 64),
    (0, 4, 5), (3, 0, 5), (4, 5, 0), (1, 0, 3),
]
types = [(np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.uint8),
         (np.int8, np.int8)]
report = []
for (m, k, nn) in shapes:
    for ta, tb in types:
        for per_column in (False, True):
            ia, ib = np.iinfo(ta), np.iinfo(tb)
            a = rng.integers(ia.min, ia.max + 1, (m, k)).astype(ta)
            b = rng.integers(ib.min, ib.max + 1, (k, nn)).astype(tb)
            za = int(rng.integers(ia.min, ia.max + 1))
            zb = (rng.integers(ib.min, ib.max + 1, nn).astype(tb) if per_column
                  else int(rng.integers(ib.min, ib.max + 1)))
            calls = n.status()["quant_calls"]
            got = n.qgemm_i32(a, za, b, zb)
            want = ((a.astype(np.int64) - za)
                    @ (b.astype(np.int64) - np.asarray(zb, np.int64))).astype(np.int32)
            report.append({
                "case": f"{m}x{k}x{nn} {np.dtype(ta)}.{np.dtype(tb)} "
                        f"per_column={per_column}",
                "native": n.status()["quant_calls"] > calls,
                "dtype": str(got.dtype), "shape": list(got.shape),
                "want_shape": list(want.shape),
                "equal": bool(np.array_equal(got, want)),
            })
# Extremes: every product is +-255 * 255 and nothing may saturate.
extremes = []
for ta, tb, av, za, bv, zb in [
    (np.uint8, np.uint8, 0, 255, 255, 0), (np.uint8, np.uint8, 255, 0, 0, 255),
    (np.int8, np.int8, -128, 127, 127, -128), (np.int8, np.uint8, 127, -128, 0, 255),
]:
    for m in (1, 2, 3, 4, 9):
        a = np.full((m, 515), av, ta)
        b = np.full((515, 37), bv, tb)
        got = n.qgemm_i32(a, za, b, zb)
        extremes.append(int(got.min()) == int(got.max()) == (av - za) * (bv - zb) * 515)
json.dumps({"report": report, "extremes": extremes})
"""


def test_qgemm_matches_exact_integer_math(py_page):
    result = run_py(py_page, QGEMM_PY)
    report = result["report"]
    assert len(report) == 21 * 8
    for r in report:
        assert r["native"], f"{r['case']} did not use the kernel"
        assert r["dtype"] == "int32" and r["shape"] == r["want_shape"], r
        assert r["equal"], r
    assert all(result["extremes"]), result["extremes"]


# MatMulNBits against numpy: unpack, dequantize (q - zp) * scale in float32
# (the kernel does the same two float32 operations, so W is bit-identical),
# then a float64 product. Only the float32 summation order differs.
NBITS_PY = r"""
import json
import numpy as np
import wasm_rt.native as n

rng = np.random.default_rng(4)

def unpack(packed, bits, count):
    # [rows, bytes] uint8 -> [rows, count] values, low nibble first.
    if bits == 8:
        return packed[:, :count]
    q = np.stack([packed & 15, packed >> 4], axis=-1)
    q = q.reshape(packed.shape[0], 2 * packed.shape[1])
    return q[:, :count]

def case(m, k, nn, bits, bs, zp_kind):
    nb = -(-k // bs)
    blob = bs * bits // 8
    b = rng.integers(0, 256, (nn, nb, blob)).astype(np.uint8)
    scales = (rng.random((nn, nb), dtype=np.float32) * 0.1 + 0.01).astype(np.float32)
    if zp_kind == "none":
        zp, zpv = None, np.full((nn, nb), 2.0 ** (bits - 1), np.float32)
    elif zp_kind == "uint8":
        zp = rng.integers(0, 256, (nn, -(-nb * bits // 8))).astype(np.uint8)
        zpv = unpack(zp, bits, nb).astype(np.float32)
    else:
        zp = (rng.random((nn, nb), dtype=np.float32) * 2 ** bits).astype(np.float32)
        zpv = zp
    q = unpack(b.reshape(nn, nb * blob), bits, nb * bs).astype(np.float32)
    w = ((q - np.repeat(zpv, bs, axis=1)) * np.repeat(scales, bs, axis=1))[:, :k]
    a = rng.standard_normal((m, k), dtype=np.float32)
    calls = n.status()["quant_calls"]
    got = n.matmul_nbits(a, b, scales, zp, bits=bits, block_size=bs, k=k, n=nn)
    want = a.astype(np.float64) @ w.astype(np.float64).T
    bound = np.abs(a).astype(np.float64) @ np.abs(w).astype(np.float64).T
    return {
        "case": f"M={m} K={k} N={nn} bits={bits} bs={bs} zp={zp_kind}",
        "native": n.status()["quant_calls"] > calls,
        "dtype": str(got.dtype), "shape": list(got.shape), "want_shape": [m, nn],
        "max_rel": float((np.abs(got - want) / np.maximum(bound, 1e-30)).max())
                   if got.size else 0.0,
    }

# M, K, N, bits, block_size, zero points: M < 4 runs the in-register path,
# M >= 4 the packed one; K not a multiple of the block (and below one block),
# odd block counts (a half-used zero-point byte), N across the 2048 block.
cases = [
    (1, 64, 8, 4, 32, "none"), (1, 100, 9, 4, 32, "uint8"),
    (2, 50, 7, 4, 16, "uint8"), (3, 257, 5, 4, 64, "float"),
    (4, 64, 8, 4, 32, "uint8"), (5, 300, 33, 4, 128, "uint8"),
    (17, 1000, 40, 4, 256, "none"), (9, 333, 21, 4, 16, "float"),
    (130, 70, 19, 8, 16, "uint8"), (1, 77, 13, 8, 32, "none"),
    (6, 40, 11, 8, 64, "float"), (2, 768, 64, 8, 128, "uint8"),
    (1, 768, 96, 4, 32, "uint8"), (6, 520, 2050, 4, 32, "uint8"),
    (0, 32, 4, 4, 32, "none"), (3, 0, 4, 4, 16, "uint8"),
    (5, 16, 0, 4, 16, "uint8"), (1, 15, 3, 4, 16, "uint8"),
]
json.dumps([case(*c) for c in cases])
"""


def test_matmul_nbits_matches_dequantize_then_matmul(py_page):
    report = run_py(py_page, NBITS_PY)
    assert len(report) == 18
    for r in report:
        assert r["native"], f"{r['case']} did not use the kernel"
        assert r["dtype"] == "float32" and r["shape"] == r["want_shape"], r
        # Relative to sum |a| |w|: float32 sums over K <= 1000 in blocks of at
        # most 256 stay well below 1e-5 (the worst case K * 2**-24 is 6e-5).
        assert r["max_rel"] <= 1e-5, r


QUANT_ERRORS_PY = r"""
import json
import numpy as np
import wasm_rt.native as n

u8 = np.zeros((2, 3), np.uint8)
errors = []
for call in [
    lambda: n.qgemm_i32(u8, 0, np.zeros((4, 2), np.uint8), 0),
    lambda: n.qgemm_i32(u8.astype(np.int16), 0, np.zeros((3, 2), np.uint8), 0),
    lambda: n.qgemm_i32(u8, 300, np.zeros((3, 2), np.uint8), 0),
    lambda: n.qgemm_i32(u8, 0, np.zeros((3, 2), np.int8), np.zeros(3, np.int8)),
    lambda: n.matmul_nbits(np.zeros((1, 32), np.float32), np.zeros(15, np.uint8),
                           np.ones(1, np.float32), None, bits=4, block_size=32,
                           k=32, n=1),
    lambda: n.matmul_nbits(np.zeros((1, 32), np.float32), np.zeros(16, np.uint8),
                           np.ones(1, np.float32), None, bits=3, block_size=32,
                           k=32, n=1),
]:
    try:
        call()
        errors.append(None)
    except ValueError as exc:
        errors.append(str(exc))
n.set_enabled(False)
try:
    off = n.qgemm_i32(u8, 0, np.zeros((3, 2), np.uint8), 0)
finally:
    n.set_enabled(True)
json.dumps({"errors": errors, "off": off is None})
"""


def test_quant_wrappers_validate_and_turn_off(py_page):
    result = run_py(py_page, QUANT_ERRORS_PY)
    assert all(result["errors"]), result["errors"]
    assert "inner dimensions differ" in result["errors"][0]
    assert "uint8/int8" in result["errors"][1]
    assert "range of uint8" in result["errors"][2]
    assert "shape (2,)" in result["errors"][3]
    assert "b_packed" in result["errors"][4]
    assert "bits 4 or 8" in result["errors"][5]
    assert result["off"]
