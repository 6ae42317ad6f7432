"""The WebGPU provider's kernels on the desktop backend (wgpu-py / wgpu-native).

Runs the same cases as tests/browser/webgpu/test_kernels.py (numpy kernels as
the oracle) without a browser, on whatever adapter wgpu finds: on machines
without a GPU that is Mesa's lavapipe (apt package mesa-vulkan-drivers), which
also has shader-f16, so the float16 kernels run here. Skipped when wgpu-py or
an adapter is missing, except in CI (CI=true), where scripts/setup.sh installs
both and their absence is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

BROWSER_DIR = Path(__file__).parent / "browser" / "webgpu"

IN_CI = os.environ.get("CI") == "true"
if IN_CI:
    import wgpu  # noqa: F401  (CI installs it: an ImportError here is a set-up failure)
else:
    wgpu = pytest.importorskip("wgpu", reason="the desktop backend needs wgpu-py (pip install wgpu)")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_webgpu_{name}", BROWSER_DIR / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


KERNELS = _load("test_kernels")


@pytest.fixture(scope="module")
def ns():
    from wasm_rt.providers import webgpu

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not webgpu.init_desktop():
            reason = "wgpu found no adapter (install mesa-vulkan-drivers for lavapipe)"
            if IN_CI:
                pytest.fail(reason)
            pytest.skip(reason)
    space: dict = {}
    exec((BROWSER_DIR / "inpage.py").read_text(), space)
    return space


def _run(ns, seed, expr):
    from wasm_rt.providers.webgpu.provider import _drive

    exec(KERNELS.PRELUDE.format(seed=seed) + f"async def _case():\n    return await {expr}\n", ns)
    # The desktop backend never suspends, so no event loop is needed (and pytest
    # may already run one for the browser tests' Playwright).
    return _drive(ns["_case"]())


@pytest.mark.parametrize("case", sorted(KERNELS.CASES))
def test_kernel_on_desktop(ns, case):
    result = _run(ns, hash(case) % 1000, KERNELS.CASES[case])
    assert result["where"] == "WebGpuExecutionProvider", result
    assert result["errors"] == [], result


@pytest.mark.parametrize("case", sorted(KERNELS.F16_CASES))
def test_float16_on_desktop(ns, case):
    from wasm_rt.providers.webgpu import _js

    result = _run(ns, 1, KERNELS.F16_CASES[case])
    assert result["errors"] == [], result
    if _js.current_device().f16:
        assert result["where"] == "WebGpuExecutionProvider", result


def test_sync_run_on_desktop(ns):
    """run_plan works synchronously on the desktop backend (nothing to wait for)."""
    g = ns["graph_of"]("Softmax", {"x": np.ones((2, 3), np.float32)}, {}, 1, ())
    from wasm_rt.executor import Executor, Planner
    from wasm_rt.providers import NumpyExecutionProvider
    from wasm_rt.providers.webgpu import WebGpuExecutionProvider

    gpu = WebGpuExecutionProvider()
    planner = Planner({"": 13}, [gpu, NumpyExecutionProvider()])
    plan = planner.plan(g)
    out = gpu.run_plan(Executor(planner.plans), plan, {"x": np.ones((2, 3), np.float32)})
    np.testing.assert_allclose(out["y0"], np.full((2, 3), 1 / 3, np.float32), rtol=1e-6)
    gpu.release()
