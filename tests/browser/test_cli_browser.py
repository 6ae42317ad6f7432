"""``wasm-rt run MODEL --browser`` prints what the host run prints."""

from __future__ import annotations

import subprocess
import sys

import numpy as np


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wasm_rt.cli", "run", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _outputs(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("output ")]


def test_run_browser_matches_host(chromium_path, tmp_path):
    host = _run("--repeat", "2", "--save", str(tmp_path / "host.npz"))
    browser = _run(
        "--repeat", "2", "--browser", "--save", str(tmp_path / "browser.npz")
    )
    assert host.returncode == 0, host.stderr
    assert browser.returncode == 0, browser.stderr
    assert _outputs(browser.stdout) == _outputs(host.stdout) != []
    assert "provider: NumpyExecutionProvider" in browser.stdout
    with np.load(tmp_path / "host.npz") as h, np.load(tmp_path / "browser.npz") as b:
        assert sorted(h.files) == sorted(b.files)
        for k in h.files:
            np.testing.assert_allclose(b[k], h[k], rtol=1e-5, atol=1e-7)


def test_run_browser_reports_errors(chromium_path, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    result = _run(str(bad), "--browser")
    assert result.returncode == 2
    assert "InvalidProtobuf" in result.stderr or "InvalidGraph" in result.stderr
