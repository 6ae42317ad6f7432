"""WebGpuExecutionProvider: claims nodes for the GPU and runs graphs with them.

Claiming happens at session creation, by op type and attributes (GPU_OPS);
dtypes and shapes are checked when a segment is first built, and a node the
GPU op cannot take then runs on numpy (the placement report says why).
A claimed node keeps the numpy kernel as its KernelDef, so the planner's
attribute checks and a plain synchronous executor stay correct.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

from ...errors import Fail, NotImplemented as NotImplementedErr
from ...ir import Node
from ...registry import KernelDef, resolve
from ..base import ExecutionProvider
from . import _js
from .gpu_ops import GPU_OPS
from .runtime import SegmentRunner

NAME = "WebGpuExecutionProvider"
# Not reported as missing GPU kernels: they only ever produce small host values.
HOST_ONLY = {"Range", "ConstantOfShape"}


class WebGpuExecutionProvider(ExecutionProvider):
    """Runs claimed nodes as WGSL compute shaders on the browser's WebGPU device.

    Options: ``strict`` (bool) fails session creation when a node would not
    be claimed; ``disabled_ops`` (list of op types) keeps them on numpy;
    ``tiling`` ("auto", "workgroup", "registers") picks the MatMul/Conv kernels
    ("auto": register blocking on SwiftShader, workgroup-memory tiles elsewhere).
    """

    name = NAME

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__(options)
        self.strict = bool(self.options.get("strict", False))
        self.disabled = set(self.options.get("disabled_ops", ()))
        self.device = _js.current_device()
        self.fallback_reason = ""
        if self.device is None and _js.IN_PYODIDE and _js.can_run_sync():
            self.device = _js.run_sync(_js.request_device())
        if self.device is None:
            self.fallback_reason = _js.unavailable_reason() or (
                "no WebGPU device yet: call `await wasm_rt.providers.webgpu.init()` before "
                "creating the session")
            msg = f"WebGpuExecutionProvider: {self.fallback_reason}; running on numpy"
            if self.strict:
                raise NotImplementedErr(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
        tiling = self.options.get("tiling", "auto")
        if tiling not in ("auto", "workgroup", "registers"):
            raise NotImplementedErr(f"WebGpuExecutionProvider option tiling={tiling!r}: expected "
                                    "'auto', 'workgroup' or 'registers'")
        self.runner = SegmentRunner(self.device, NAME, tiling, self.strict) if self.device is not None else None
        self.unclaimed: list[str] = []

    # --- planning -------------------------------------------------------------

    def claims(self, node: Node) -> bool:
        return node.op_type in GPU_OPS and node.op_type not in self.disabled and node.domain in ("", "ai.onnx")

    def kernel_for(self, node: Node, opset: int) -> KernelDef | None:
        if self.runner is None:
            return None
        if not self.claims(node):
            if node.op_type not in HOST_ONLY:
                self.unclaimed.append(f"{node.describe()}")
                if self.strict:
                    raise NotImplementedErr(
                        f"{node.describe()} (opset {opset}) has no WebGPU kernel and strict mode "
                        "forbids falling back to numpy; drop strict or the op")
            return None
        return resolve(node.domain, node.op_type, opset)

    # --- running --------------------------------------------------------------

    async def run_plan_async(self, executor, plan, feeds: dict[str, Any]) -> dict[str, Any]:
        """Run ``plan``: GPU segments on the device, other steps on their kernels."""
        if self.runner is None:
            return executor.run(plan, feeds)
        return await self.runner.run(executor, plan, feeds)

    def run_plan(self, executor, plan, feeds: dict[str, Any]) -> dict[str, Any]:
        """The synchronous run: needs JSPI (an entry point entered with runPythonAsync)."""
        if self.runner is None:
            return executor.run(plan, feeds)
        if not _js.IN_PYODIDE:  # the desktop backend never really suspends
            return _drive(self.runner.run(executor, plan, feeds))
        if not _js.can_run_sync():
            raise Fail(
                "InferenceSession.run() with WebGpuExecutionProvider needs to wait for the GPU, "
                "which Pyodide can do synchronously only under JSPI from a promising entry point "
                "(runPythonAsync / callPromising); use `await session.run_async(...)` instead")
        return _js.run_sync(self.runner.run(executor, plan, feeds))

    def placement_report(self, plan) -> dict[str, Any]:
        """Where each node ran in the last run (or is planned to), with node and FLOP shares."""
        rows = []
        for step in plan.steps:
            name = step.node.name
            where = self.runner.placement.get(name, step.provider) if self.runner else step.provider
            flops = self.runner.flops.get(name, (step.node.op_type, 0))[1] if self.runner else 0
            rows.append({"node": name, "op": step.node.op_type, "provider": where, "flops": flops})
        on_gpu = [r for r in rows if r["provider"] == NAME]
        total_flops = sum(r["flops"] for r in rows) or 1
        return {
            "nodes": rows,
            "gpu_nodes": len(on_gpu),
            "total_nodes": len(rows),
            "node_share": len(on_gpu) / max(len(rows), 1),
            "flop_share": sum(r["flops"] for r in on_gpu) / total_flops,
            "fallback_ops": dict(Counter(r["op"] for r in rows if r["provider"] != NAME)),
        }

    def release(self) -> None:
        if self.runner is not None:
            self.runner.release()


def is_available() -> bool:
    """True in a browser that exposes navigator.gpu (the adapter is checked at init)."""
    return _js.has_navigator_gpu()


def init_desktop() -> bool:
    """Use wgpu-py (wgpu-native) as the device outside the browser; False if unavailable."""
    from ._wgpu_native import request_desktop_device

    dev = request_desktop_device()
    if isinstance(dev, str):
        warnings.warn(f"WebGPU desktop backend unavailable: {dev}", RuntimeWarning, stacklevel=2)
        return False
    _js.use_device(dev)
    return True


def _drive(coro):
    """Run a coroutine that never waits on anything pending (desktop backend)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise Fail("the WebGPU run suspended unexpectedly on the desktop backend")


async def init() -> bool:
    """Request the WebGPU device once per process; False (with a reason) when there is none."""
    return (await _js.request_device()) is not None


async def run_session_async(session, output_names, input_feed) -> list:
    """Kept for callers written before ``InferenceSession.run_async`` existed."""
    return await session.run_async(output_names, input_feed)
