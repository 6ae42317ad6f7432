"""The light_* CNNs end to end on the WebGPU provider, against host onnxruntime.

The host prepares each model (with its logits as a second output, see
tests/test_models.py), an input and onnxruntime's outputs; the page runs the
model with providers ["WebGpuExecutionProvider", "CPUExecutionProvider"] and
reports outputs' errors, placement (node and FLOP shares on the GPU) and times.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

INPAGE = (Path(__file__).parent / "inpage.py").read_text()
LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
LIGHT_MODELS = sorted(p.stem for p in LIGHT_DIR.glob("light_*.onnx"))
RESULTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "webgpu_placement.json"

RUN_IN_PAGE = """
from pyodide.http import pyfetch
import time
async def fetch_bytes(u):
    return await (await pyfetch(u)).bytes()
model = await fetch_bytes("{name}.onnx")
x = np.load(io.BytesIO(await fetch_bytes("{name}.npz")))
feeds = {{k: x[k] for k in x.files if k.startswith("in:")}}
feeds = {{k[3:]: v for k, v in feeds.items()}}
want = [x[k] for k in sorted(x.files) if k.startswith("out:")]
import wasm_rt
sess = wasm_rt.InferenceSession(model, providers=["WebGpuExecutionProvider", "CPUExecutionProvider"])
gpu = sess._providers[0]
times = []
for _ in range({runs}):
    t0 = time.perf_counter()
    got = await gpu.run_plan_async(sess._executor, sess._plan, dict(feeds))
    times.append(time.perf_counter() - t0)
got = [got[o.name] for o in sess.get_outputs()]
rep = gpu.placement_report(sess._plan)
errs = []
for a, b in zip(got, want):
    scale = float(np.max(np.abs(b))) or 1.0
    errs.append(float(np.max(np.abs(a.astype(np.float64) - b))) / scale)
sess.release()
dumps({{"rel_err": errs, "node_share": rep["node_share"], "flop_share": rep["flop_share"],
        "gpu_nodes": rep["gpu_nodes"], "total_nodes": rep["total_nodes"],
        "fallback_ops": rep["fallback_ops"], "times": times,
        "shapes": [list(a.shape) for a in got]}})
"""


def _prepare(name: str, folder: Path) -> None:
    model = onnx.load(str(LIGHT_DIR / f"{name}.onnx"))
    last = model.graph.node[-1]
    if last.op_type == "Softmax":
        model.graph.output.append(onnx.helper.make_value_info(last.input[0], onnx.TypeProto()))
    data = model.SerializeToString()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    outs = sess.run(None, {inp.name: x})
    (folder / f"{name}.onnx").write_bytes(data)
    arrays = {f"in:{inp.name}": x}
    arrays.update({f"out:{i}": o for i, o in enumerate(outs)})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (folder / f"{name}.npz").write_bytes(buf.getvalue())


@pytest.fixture(scope="module")
def page(gpu):
    gpu(INPAGE + "\nimport io\ndumps(1)")
    return gpu


def run_model(page, site, name, runs=1):
    _prepare(name, site)
    return page(RUN_IN_PAGE.format(name=name, runs=runs))


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_on_gpu(page, site, name):
    r = run_model(page, site, name)
    RESULTS.parent.mkdir(exist_ok=True)
    table = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    table[name] = {k: r[k] for k in ("node_share", "flop_share", "gpu_nodes", "total_nodes",
                                     "fallback_ops", "times", "rel_err")}
    RESULTS.write_text(json.dumps(table, indent=1))
    print(name, json.dumps(table[name]))
    # Logits carry the verdict when softmax saturates (see tests/test_models.py).
    assert r["rel_err"][-1] < 1e-3, r
    assert r["flop_share"] > 0.99, r


def test_transformer_encoder_on_gpu(page, site):
    """A BERT-style encoder exported from PyTorch (MatMul, LayerNorm, Softmax, Erf ...)."""
    torch = pytest.importorskip("torch", reason="torch exports the encoder")  # noqa: F841
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
    from bench_webgpu import encoder_model

    spec = encoder_model(site, d=64, heads=4, layers=2, seq=16)
    x = np.frombuffer((site / "encoder.x.bin").read_bytes(), np.float32).reshape(spec["x"][1])
    data = (site / "encoder.onnx").read_bytes()
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    buf = io.BytesIO()
    np.savez(buf, **{"in:x": x, "out:0": want[0]})
    (site / "encoder.npz").write_bytes(buf.getvalue())
    r = page(RUN_IN_PAGE.format(name="encoder", runs=2))
    print("encoder", json.dumps(r))
    assert r["rel_err"][0] < 1e-4, r
    assert r["flop_share"] > 0.99, r
