"""Helpers that run inside the browser page (sent as source, exec'd once).

``check(op, inputs, attrs)`` builds a one-node graph with wasm_rt's IR, runs
it with the numpy provider (the oracle) and with the WebGPU provider, and
returns a JSON-able summary with the largest error and where the node ran.
"""

import json
import warnings

import numpy as np

from wasm_rt.executor import Executor, Planner
from wasm_rt.ir import Graph, Node, ValueInfo
from wasm_rt.providers import NumpyExecutionProvider
from wasm_rt.providers.webgpu import WebGpuExecutionProvider

warnings.simplefilter("ignore")


def graph_of(op, inputs, attrs, n_out, consts):
    names = list(inputs)
    node = Node("n0", op, "", [n if inputs[n] is not None else "" for n in names],
                [f"y{i}" for i in range(n_out)], dict(attrs))
    ins = [ValueInfo(n, "tensor") for n in names if inputs[n] is not None and n not in consts]
    outs = [ValueInfo(f"y{i}", "tensor") for i in range(n_out)]
    inits = {n: np.asarray(inputs[n]) for n in consts}
    return Graph("g", [node], ins, outs, inits)


async def run_both(graph, feeds, opset=21, gpu_options=None):
    gpu = WebGpuExecutionProvider(gpu_options or {})
    planner = Planner({"": opset}, [gpu, NumpyExecutionProvider()])
    plan = planner.plan(graph)
    planner.unsupported.raise_if_any()
    ex = Executor(planner.plans)
    want = ex.run(plan, dict(feeds))
    got = await gpu.run_plan_async(ex, plan, dict(feeds))
    report = gpu.placement_report(plan)
    return gpu, plan, ex, want, got, report


GPU_OPTIONS = {}  # provider options for check(); tests switch tiling through it


async def check(op, inputs, attrs=None, n_out=1, consts=(), opset=21, rtol=1e-4, atol=1e-5):
    graph = graph_of(op, inputs, attrs or {}, n_out, consts)
    feeds = {n: v for n, v in inputs.items() if v is not None and n not in consts}
    gpu, plan, ex, want, got, report = await run_both(graph, feeds, opset, GPU_OPTIONS)
    errors = []
    for name in want:
        a, b = np.asarray(got[name]), np.asarray(want[name])
        if a.dtype != b.dtype or a.shape != b.shape:
            errors.append(f"{name}: got {a.dtype}{a.shape}, want {b.dtype}{b.shape}")
        elif a.dtype.kind == "f":
            if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
                errors.append(f"{name}: max abs err {float(np.nanmax(np.abs(a.astype(np.float64) - b))):.3g}")
        elif not np.array_equal(a, b):
            errors.append(f"{name}: {int((a != b).sum())} elements differ")
    where = report["nodes"][0]["provider"]
    gpu.release()
    return {"errors": errors, "where": where}


def dumps(v):
    return json.dumps(v)


async def check_expected(op, inputs, expected, attrs=None, consts=(), opset=21, rtol=1e-4, atol=1e-5):
    """Like check(), against outputs computed on the host (onnxruntime)."""
    graph = graph_of(op, inputs, attrs or {}, len(expected), consts)
    feeds = {n: v for n, v in inputs.items() if v is not None and n not in consts}
    gpu = WebGpuExecutionProvider(GPU_OPTIONS)
    planner = Planner({"": opset}, [gpu, NumpyExecutionProvider()])
    plan = planner.plan(graph)
    ex = Executor(planner.plans)
    got = await gpu.run_plan_async(ex, plan, dict(feeds))
    where = gpu.placement_report(plan)["nodes"][0]["provider"]
    gpu.release()
    errors = []
    for i, b in enumerate(expected):
        a = np.asarray(got[f"y{i}"])
        if a.shape != b.shape or a.dtype != b.dtype:
            errors.append(f"y{i}: got {a.dtype}{a.shape}, want {b.dtype}{b.shape}")
        elif not np.allclose(a, b, rtol=rtol, atol=atol):
            errors.append(f"y{i}: max abs err {float(np.max(np.abs(a - b))):.3g}")
    return {"errors": errors, "where": where}
