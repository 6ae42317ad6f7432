"""The ``wasm-rt`` command line.

Subcommands are registered in ``SUBCOMMANDS`` (name -> (add_arguments, handler));
``run`` lives here, the browser-side commands in :mod:`wasm_rt.site`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from importlib import resources
from typing import Any, Callable

import numpy as np

DEFAULT_MODEL = "digits.onnx"


def default_model_path() -> str:
    """The small model shipped in the package, run when no MODEL is given."""
    return str(resources.files("wasm_rt") / "data" / DEFAULT_MODEL)


def random_inputs(sess, seed: int = 0, dims: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Random feeds matching the model's inputs; symbolic dims default to 1."""
    from . import dtypes

    rng = np.random.default_rng(seed)
    dims = dims or {}
    feeds = {}
    for vi in sess._inputs:
        shape = [d if isinstance(d, int) and d >= 0 else dims.get(str(d), 1) for d in (vi.shape or [])]
        dtype = dtypes.to_numpy(vi.elem_type) if vi.elem_type else np.dtype(np.float32)
        if dtype.kind == "f":
            value = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            value = rng.integers(0, 10, size=shape).astype(dtype)
        elif dtype.kind == "b":
            value = rng.integers(0, 2, size=shape).astype(bool)
        elif dtype == object:
            value = np.array(["a"] * int(np.prod(shape)), dtype=object).reshape(shape)
        else:
            value = np.zeros(shape, dtype)
        feeds[vi.name] = value
    return feeds


def summarize(name: str, value: Any) -> dict[str, Any]:
    """Name, shape, dtype and a numeric summary of one output."""
    if isinstance(value, list):
        return {"name": name, "type": "sequence", "length": len(value)}
    if value is None:
        return {"name": name, "type": "optional", "value": None}
    arr = np.asarray(value)
    info: dict[str, Any] = {"name": name, "shape": list(arr.shape), "dtype": str(arr.dtype)}
    if arr.size and arr.dtype.kind in "fiub":
        a = arr.astype(np.float64)
        info.update(min=float(a.min()), max=float(a.max()), mean=float(a.mean()), std=float(a.std()))
        if arr.ndim <= 2 and arr.size <= 16:
            info["values"] = a.reshape(-1).tolist()
        else:
            info["first"] = a.reshape(-1)[:5].tolist()
        if arr.ndim == 2 and arr.shape[0] == 1 and arr.dtype.kind == "f":
            info["argmax"] = int(arr.argmax())
    return info


def run_model(args) -> dict[str, Any]:
    """Load, run once, then time ``--repeat`` runs; returns a report dict."""
    import wasm_rt

    model = args.model or default_model_path()
    options = wasm_rt.SessionOptions()
    if args.optimization is not None:
        options.graph_optimization_level = wasm_rt.GraphOptimizationLevel(args.optimization)
    t0 = time.perf_counter()
    sess = wasm_rt.InferenceSession(model, options, providers=[args.provider] if args.provider else None)
    load_s = time.perf_counter() - t0
    if args.inputs:
        with np.load(args.inputs, allow_pickle=False) as data:
            feeds = {k: data[k] for k in data.files}
    else:
        dims = dict(_parse_dim(d) for d in args.dim or [])
        feeds = random_inputs(sess, args.seed, dims)
    t0 = time.perf_counter()
    outputs = sess.run(None, feeds)
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
    names = [o.name for o in sess.get_outputs()]
    if args.save:
        np.savez(args.save, **{n: np.asarray(v) for n, v in zip(names, outputs) if isinstance(v, np.ndarray)})
    return {
        "model": model,
        "provider": sess.get_providers()[0],
        "inputs": [summarize(k, v) | {"name": k} for k, v in feeds.items()],
        "outputs": [summarize(n, v) for n, v in zip(names, outputs)],
        "timings_ms": {
            "load": round(load_s * 1e3, 3),
            "first_run": round(first_s * 1e3, 3),
            "median_run": round(statistics.median(times) * 1e3, 3) if times else None,
            "runs": len(times),
        },
    }


def _parse_dim(text: str) -> tuple[str, int]:
    name, _, value = text.partition("=")
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"--dim expects NAME=INT, got '{text}'")
    return name, int(value)


def print_report(report: dict[str, Any]) -> None:
    print(f"model:    {report['model']}")
    print(f"provider: {report['provider']}")
    for o in report["outputs"]:
        if "shape" not in o:
            print(f"output {o['name']}: {o}")
            continue
        line = f"output {o['name']}: shape {o['shape']} {o['dtype']}"
        if "min" in o:
            line += f"  min {o['min']:.6g} max {o['max']:.6g} mean {o['mean']:.6g} std {o['std']:.6g}"
        if "argmax" in o:
            line += f"  argmax {o['argmax']}"
        print(line)
    t = report["timings_ms"]
    median = f"{t['median_run']} ms (median of {t['runs']})" if t["median_run"] is not None else "-"
    print(f"timings:  load {t['load']} ms, first run {t['first_run']} ms, run {median}")


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="the .onnx file (default: the digits model shipped in the package)")
    p.add_argument("--inputs", help=".npz file of inputs by name (default: random inputs)")
    p.add_argument("--provider", help="execution provider (default: NumpyExecutionProvider)")
    p.add_argument("--repeat", type=int, default=10, help="timed runs after the first (default 10)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--save", help="write the outputs to this .npz file")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--dim", action="append", help="value of a symbolic dimension, NAME=INT (default 1)")
    p.add_argument("--optimization", type=int, choices=[0, 1, 2, 3, 99], help="graph optimization level")


def _cmd_run(args) -> int:
    report = run_model(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


def _add_inspect_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="the .onnx file (external data files are never read)")
    p.add_argument("--dim", action="append", help="value of a symbolic dimension, NAME=INT (default 1)")
    p.add_argument("--provider", action="append",
                   help="provider to check (repeatable; default NumpyExecutionProvider and "
                        "WebGpuExecutionProvider)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _cmd_inspect(args) -> int:
    import wasm_rt

    dims = dict(_parse_dim(d) for d in args.dim or [])
    report = wasm_rt.inspect(args.model, dims=dims, providers=args.provider)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return 0


SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[Any], int], str]] = {
    "run": (_add_run_arguments, _cmd_run, "run a model on random or given inputs and time it"),
    "inspect": (_add_inspect_arguments, _cmd_inspect,
                "pre-flight report: opsets, ops, unsupported ops, parameters, peak memory"),
}


def _register_site_commands() -> None:
    try:
        from .site import cli_commands  # type: ignore[attr-defined]
    except ImportError:
        return
    SUBCOMMANDS.update(cli_commands())


def main(argv: list[str] | None = None) -> int:
    import wasm_rt

    _register_site_commands()
    parser = argparse.ArgumentParser(prog="wasm-rt", description="wasm_rt: ONNX inference in pure Python")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_args, _, help_text) in SUBCOMMANDS.items():
        add_args(sub.add_parser(name, help=help_text))
    args = parser.parse_args(argv)
    try:
        return SUBCOMMANDS[args.command][1](args)
    except wasm_rt.WasmRtError as e:
        print(f"wasm-rt: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
