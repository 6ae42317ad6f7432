"""The wasm-rt command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from onnx import TensorProto as T
from onnx import helper

from wasm_rt import cli


def _model(tmp_path):
    x = helper.make_tensor_value_info("x", T.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", T.FLOAT, ["batch", 4])
    g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "g", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path / "m.onnx"
    path.write_bytes(m.SerializeToString())
    return path


def test_run_random_inputs_json(tmp_path, capsys):
    path = _model(tmp_path)
    assert cli.main(["run", str(path), "--repeat", "3", "--json", "--dim", "batch=5"]) == 0
    report = json.loads(capsys.readouterr().out)
    (out,) = report["outputs"]
    assert out["name"] == "y" and out["shape"] == [5, 4] and out["dtype"] == "float32"
    assert report["timings_ms"]["runs"] == 3 and report["timings_ms"]["median_run"] >= 0
    assert report["provider"] == "NumpyExecutionProvider"


def test_run_given_inputs_and_save(tmp_path, capsys):
    path = _model(tmp_path)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.savez(tmp_path / "in.npz", x=x)
    assert cli.main(["run", str(path), "--inputs", str(tmp_path / "in.npz"), "--save", str(tmp_path / "out.npz")]) == 0
    text = capsys.readouterr().out
    assert "output y: shape [2, 4] float32" in text and "timings:" in text
    np.testing.assert_array_equal(np.load(tmp_path / "out.npz")["y"], 2 * x)


def test_run_reports_errors_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    assert cli.main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wasm-rt: ") and "Traceback" not in err


def test_default_model_runs():
    out = subprocess.run([sys.executable, "-m", "wasm_rt.cli", "run", "--repeat", "2"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "output probabilities: shape [1, 10] float32" in out.stdout
