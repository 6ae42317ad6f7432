"""Index-heavy GPU kernels (Gather, Resize) also checked against host onnxruntime.

test_kernels.py compares with the numpy kernels inside Pyodide; these cases add
an oracle independent of wasm_rt for the ops whose index arithmetic differs most
between the two (int64 indices become int32 on the GPU; coordinate transforms).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from oracle import run_ort, single_node_model

INPAGE = (Path(__file__).parent / "inpage.py").read_text()
rng = np.random.default_rng(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


CASES = {
    "Gather": ("Gather", {"x": f32(5, 4, 3), "i": np.array([[0, -1], [2, 4]], np.int64)}, {"axis": 0}, ()),
    "Gather-axis1": ("Gather", {"x": f32(5, 4, 3), "i": np.array([3, 0, -2], np.int64)}, {"axis": 1}, ()),
    "Gather-embedding": ("Gather", {"x": f32(97, 16), "i": rng.integers(0, 97, (2, 7))}, {}, ("x",)),
    "Resize-nearest": ("Resize", {"x": f32(1, 2, 4, 5), "roi": None, "sc": np.array([1, 1, 2, 3], np.float32)}, {}, ("sc",)),
    "Resize-linear": ("Resize", {"x": f32(1, 2, 4, 5), "roi": None, "sc": np.array([1, 1, 1.5, 0.6], np.float32)},
                      {"mode": "linear"}, ("sc",)),
    "Resize-linear-align": ("Resize", {"x": f32(2, 1, 3, 3), "roi": None, "sc": None, "sz": np.array([2, 1, 5, 7])},
                            {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, ("sz",)),
    "Resize-asym-floor": ("Resize", {"x": f32(1, 1, 4, 4), "roi": None, "sc": np.array([1, 1, 2, 2], np.float32)},
                          {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}, ("sc",)),
    "Resize-pytorch-half": ("Resize", {"x": f32(1, 3, 5, 4), "roi": None, "sc": None, "sz": np.array([1, 3, 9, 3])},
                            {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, ("sz",)),
}


def _npz(arrays) -> str:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def page(gpu):
    gpu(INPAGE + "\nimport io, base64\ndumps(1)")
    return gpu


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_onnxruntime(page, case):
    op, inputs, attrs, consts = CASES[case]
    inits = {n: inputs[n] for n in consts}
    model = single_node_model(op, inputs, 1, 21, initializers=inits, **attrs)
    feeds = {n: v for n, v in inputs.items() if v is not None and n not in consts}
    want = run_ort(model, feeds)
    data = {f"in_{n}": v for n, v in inputs.items() if v is not None}
    data.update({f"out_{i}": w for i, w in enumerate(want)})
    names = list(inputs)
    code = f"""
z = np.load(io.BytesIO(base64.b64decode("{_npz(data)}")))
inputs = {{n: (z["in_" + n] if "in_" + n in z.files else None) for n in {names!r}}}
dumps(await check_expected({op!r}, inputs, [z["out_0"]], {attrs!r}, consts={consts!r}))
"""
    result = page(code)
    assert result["where"] == "WebGpuExecutionProvider", result
    assert result["errors"] == [], result
