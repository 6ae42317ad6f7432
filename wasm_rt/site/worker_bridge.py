"""The Python half of ``wasm_rt/web/worker.js``: sessions keyed by the page's ids.

Runs inside Pyodide. Arguments arrive as Pyodide ``JsProxy`` objects (or plain
Python values when called from tests on the desktop); nothing here imports
``js`` or ``pyodide``. Every entry point returns ``{"ok": value}`` or
``{"error": {"type", "message", "traceback"}}`` so that the worker can hand the
page a clean error carrying the Python exception type.
"""

from __future__ import annotations

import functools
import gc
import time
import traceback
from inspect import iscoroutinefunction

import numpy as np

# onnxruntime-web tensor type names <-> numpy dtypes.
JS_TO_NUMPY = {
    "float32": np.float32,
    "float64": np.float64,
    "float16": np.float16,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "bool": np.bool_,
}
NUMPY_TO_JS = {np.dtype(v): k for k, v in JS_TO_NUMPY.items()}
# ONNX type strings as the session reports them ("tensor(float)").
ONNX_TO_JS = {
    "float": "float32",
    "double": "float64",
    "float16": "float16",
    "int8": "int8",
    "uint8": "uint8",
    "int16": "int16",
    "uint16": "uint16",
    "int32": "int32",
    "uint32": "uint32",
    "int64": "int64",
    "uint64": "uint64",
    "bool": "bool",
    "string": "string",
    "int4": "int4",
    "uint4": "uint4",
}
# 4-bit types: two values per byte on the JS side (low nibble first, as ONNX packs them).
PACKED_4BIT = ("int4", "uint4")
# Provider names the JS API accepts -> the Python session's provider names.
PROVIDER_ALIASES = {
    "numpy": "NumpyExecutionProvider",
    "cpu": "NumpyExecutionProvider",
    "wasm": "NumpyExecutionProvider",
    "webgpu": "WebGpuExecutionProvider",
}

_sessions: dict = {}


def _to_py(value):
    return value.to_py() if hasattr(value, "to_py") else value


def _error(exc: BaseException) -> dict:
    return {
        "error": {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)),
        }
    }


def _entry(fn):
    """Wrap a bridge function so every outcome reaches the page as a dict;
    coroutine functions stay coroutines (JS receives a Promise)."""
    if iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args):
            try:
                return {"ok": await fn(*args)}
            except BaseException as exc:  # noqa: BLE001 - everything must reach the page
                return _error(exc)

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return {"ok": fn(*args)}
        except BaseException as exc:  # noqa: BLE001 - everything must reach the page
            return _error(exc)

    return wrapper


def js_type(onnx_type: str) -> str:
    """'tensor(float)' -> 'float32'; other kinds (sequences, maps) are kept as is."""
    if onnx_type.startswith("tensor(") and onnx_type.endswith(")"):
        inner = onnx_type[len("tensor(") : -1]
        return ONNX_TO_JS.get(inner, inner)
    return onnx_type


def _meta(args) -> list[dict]:
    """onnxruntime-web 1.30's ValueMetadata: {name, isTensor, type, shape} for tensors
    (unknown dims are -1, symbolic ones their name) and {name, isTensor: false} otherwise;
    ``onnxType`` is wasm_rt's addition."""
    out = []
    for a in args:
        if not a.type.startswith("tensor("):
            out.append({"name": a.name, "isTensor": False, "onnxType": a.type})
            continue
        shape = [d if isinstance(d, (int, str)) else -1 for d in (a.shape or [])]
        out.append({"name": a.name, "isTensor": True, "type": js_type(a.type),
                    "onnxType": a.type, "shape": shape})
    return out


def providers_for(requested) -> list[str]:
    """Map the JS ``executionProviders`` option to the Python session's names."""
    names = []
    for p in requested or ["numpy"]:
        name = p["name"] if isinstance(p, dict) else str(p)
        if name.lower() not in PROVIDER_ALIASES:
            raise ValueError(
                f"unknown execution provider {name!r}; "
                f"use one of {sorted(PROVIDER_ALIASES)}"
            )
        names.append(PROVIDER_ALIASES[name.lower()])
    return list(dict.fromkeys(names))


def session_options(options: dict, files=()):
    """The page's checked SessionOptions (see wasm_rt.js sessionOptionsForWorker) ->
    wasm_rt.SessionOptions; ``files`` are (path, bytes) external data files."""
    import wasm_rt

    so = wasm_rt.SessionOptions()
    so.enable_profiling = bool(options.get("enableProfiling"))
    level = options.get("graphOptimizationLevel")
    if level:
        so.graph_optimization_level = wasm_rt.GraphOptimizationLevel[level]
    mode = options.get("executionMode")
    if mode:
        so.execution_mode = wasm_rt.ExecutionMode[mode]
    if options.get("logSeverityLevel") is not None:
        so.log_severity_level = int(options["logSeverityLevel"])
    if options.get("logId"):
        so.logid = str(options["logId"])
    for name, value in (options.get("freeDimensionOverrides") or {}).items():
        so.add_free_dimension_override_by_name(str(name), int(value))
    for key, value in options.get("config") or []:
        so.add_session_config_entry(str(key), str(value))
    files = [(str(p), d.to_bytes() if hasattr(d, "to_bytes") else bytes(d)) for p, d in files]
    if files:
        so.add_external_initializers_from_files_in_memory(
            [p for p, _ in files], [d for _, d in files], [len(d) for _, d in files]
        )
    return so


def _make_session(model_bytes: bytes, providers: list[str], options: dict, files=()):
    from wasm_rt import InferenceSession

    return InferenceSession(model_bytes, session_options(options, files), providers=providers)


@_entry
async def create(session_id: int, model, options=None, files=None) -> dict:
    options = _to_py(options) or {}
    files = [list(f) for f in files] if files is not None else []
    data = model.to_bytes() if hasattr(model, "to_bytes") else bytes(model)
    providers = providers_for(options.get("executionProviders"))
    t0 = time.perf_counter()
    if "WebGpuExecutionProvider" in providers:
        from wasm_rt.providers import webgpu

        # Requests the device once per worker; without one the session warns and
        # runs on numpy, which its provider list then shows.
        await webgpu.init()
    session = _make_session(data, providers, options, files)
    _sessions[session_id] = session
    inputs, outputs = _meta(session.get_inputs()), _meta(session.get_outputs())
    return {
        "inputNames": [m["name"] for m in inputs],
        "outputNames": [m["name"] for m in outputs],
        "inputMetadata": inputs,
        "outputMetadata": outputs,
        "providers": list(session.get_providers()),
        "loadMs": (time.perf_counter() - t0) * 1000,
    }


def feed_to_numpy(type_name: str, dims, data) -> np.ndarray:
    """One JS tensor (type, dims, bytes or list of strings) -> numpy array."""
    dims = [int(d) for d in _to_py(dims)]
    if type_name == "string":
        return np.array(list(_to_py(data)), dtype=object).reshape(dims)
    if type_name not in JS_TO_NUMPY and type_name not in PACKED_4BIT:
        raise TypeError(f"tensor type {type_name!r} is not supported by wasm_rt")
    if hasattr(data, "assign_to"):  # a JS Uint8Array: one copy into the wasm heap
        raw = np.empty(data.byteLength, dtype=np.uint8)
        data.assign_to(raw)
    else:
        raw = np.frombuffer(bytes(data), dtype=np.uint8).copy()
    if type_name in PACKED_4BIT:
        return unpack_4bit(type_name, dims, raw)
    dtype = np.dtype(JS_TO_NUMPY[type_name])
    if raw.nbytes != dtype.itemsize * int(np.prod(dims, dtype=np.int64)):
        raise ValueError(
            f"tensor of type {type_name} and dims {dims} needs "
            f"{dtype.itemsize * int(np.prod(dims, dtype=np.int64))} bytes, got {raw.nbytes}"
        )
    return raw.view(dtype).reshape(dims)


def unpack_4bit(type_name: str, dims: list[int], raw: np.ndarray) -> np.ndarray:
    """Packed nibbles (ceil(n/2) bytes) -> wasm_rt's int4/uint4 array, one value per byte."""
    from wasm_rt import dtypes

    size = int(np.prod(dims, dtype=np.int64))
    if raw.nbytes != (size + 1) // 2:
        raise ValueError(f"tensor of type {type_name} and dims {dims} needs "
                         f"{(size + 1) // 2} bytes, got {raw.nbytes}")
    values = np.stack([raw & 0xF, raw >> 4], axis=1).reshape(-1)[:size]
    if type_name == "int4":
        return ((values.astype(np.int8) ^ 8) - 8).view(dtypes.int4).reshape(dims)
    return values.view(dtypes.uint4).reshape(dims)


def pack_4bit(arr: np.ndarray) -> np.ndarray:
    """wasm_rt's int4/uint4 array -> packed nibbles, low nibble first."""
    values = np.ascontiguousarray(arr).reshape(-1).view(np.uint8) & 0xF
    if values.size % 2:
        values = np.append(values, np.uint8(0))
    return (values[0::2] | (values[1::2] << 4)).astype(np.uint8)


def output_to_js(name: str, value) -> dict:
    """numpy output -> {name, type, dims, data}; data is 1-D so JS can take its buffer."""
    from wasm_rt import dtypes

    arr = np.asarray(value)
    for type_name in PACKED_4BIT:
        if arr.dtype == getattr(dtypes, type_name) or str(arr.dtype) == type_name:
            return {"name": name, "type": type_name, "dims": list(arr.shape), "data": pack_4bit(arr)}
    if arr.dtype == object or arr.dtype.kind in "US":
        return {
            "name": name,
            "type": "string",
            "dims": list(arr.shape),
            "data": [str(x) for x in arr.ravel()],
        }
    if arr.dtype not in NUMPY_TO_JS:
        raise TypeError(
            f"output {name!r} has dtype {arr.dtype}, which has no JS tensor type"
        )
    type_name = NUMPY_TO_JS[arr.dtype]
    flat = np.ascontiguousarray(arr).reshape(-1)
    if type_name == "float16":
        flat = flat.view(np.uint16)  # JS has no Float16Array everywhere: raw bits
    elif type_name == "bool":
        flat = flat.view(np.uint8)
    return {"name": name, "type": type_name, "dims": list(arr.shape), "data": flat}


def _session(session_id: int):
    try:
        return _sessions[session_id]
    except KeyError:
        raise KeyError(f"session {session_id} does not exist (released?)") from None


def run_options(cancelled=None, time_limit_ms=None):
    """RunOptions for a page's run: ``cancelled`` is a JS function reading the
    AbortSignal's shared flag, ``time_limit_ms`` the run's time limit."""
    from wasm_rt import RunOptions

    options = RunOptions()
    if cancelled is not None:
        options.cancel_check = lambda: bool(cancelled())
    if time_limit_ms is not None:
        options.time_limit = float(time_limit_ms) / 1000
    return options


@_entry
async def run(session_id: int, feeds, fetches=None, profile: bool = False, cancelled=None,
              time_limit_ms=None) -> dict:
    session = _session(session_id)
    options = run_options(cancelled, time_limit_ms)
    inputs = {}
    for feed in _to_py_list(feeds):
        name, type_name, dims, data = feed
        inputs[str(name)] = feed_to_numpy(str(type_name), dims, data)
    names = list(_to_py(fetches)) if fetches is not None else None
    names = names or [o.name for o in session.get_outputs()]
    t0 = time.perf_counter()
    if profile and session.get_session_options().enable_profiling:
        values, rows = await run_profiled(session, names, inputs, options)
    else:
        values, rows = await session.run_async(names, inputs, options), None
    run_ms = (time.perf_counter() - t0) * 1000
    return {
        "outputs": [output_to_js(n, v) for n, v in zip(names, values)],
        "run_ms": run_ms,
        "profile": rows,
    }


def _to_py_list(value) -> list:
    """A JS array of [name, type, dims, data] arrays -> list of 4-item lists,
    leaving the typed arrays as JsProxy objects."""
    return [list(item) for item in value]


async def run_profiled(session, names, inputs, options=None):
    """Run once and return (values, per-node rows) from the session's profiler."""
    before = len(session.profile_events())
    values = await session.run_async(names, inputs, options)
    events = session.profile_events()[before:]
    rows = [
        {
            "node": e["name"].removesuffix("_kernel_time"),
            "op": e.get("args", {}).get("op_name", ""),
            "provider": e.get("args", {}).get("provider", ""),
            "ms": e["dur"] / 1000,
        }
        for e in events
        if e.get("cat") == "Node"
    ]
    if len(session.profile_events()) > 20000:  # keep a long-lived page's memory flat
        import os

        os.remove(session.end_profiling())
    return values, rows


@_entry
def inspect(model, dims=None, providers=None, source: str = "<bytes>") -> dict:
    """``wasm_rt.inspect`` on the .onnx bytes the worker fetched (``InferenceSession.inspect``)."""
    import wasm_rt

    data = model.to_bytes() if hasattr(model, "to_bytes") else bytes(model)
    dims = {str(k): int(v) for k, v in (_to_py(dims) or {}).items()}
    names = providers_for(_to_py(providers)) if providers is not None else None
    report = wasm_rt.inspect(data, dims=dims, providers=names).to_dict()
    report["model"] = str(source)
    return report


@_entry
def release(session_id: int) -> bool:
    found = _sessions.pop(session_id, None) is not None
    gc.collect()
    return found


@_entry
def status() -> dict:
    return {"sessions": len(_sessions), "ids": sorted(_sessions)}


@_entry
def cli(argv, save_path=None) -> dict:
    """Run ``wasm_rt.cli.main(argv)`` capturing its output (``wasm-rt run --browser``)."""
    import base64
    import contextlib
    import io
    import os

    from wasm_rt import cli as wasm_rt_cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = wasm_rt_cli.main([str(a) for a in _to_py(argv)])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    saved = None
    if save_path and os.path.exists(save_path):
        with open(save_path, "rb") as f:
            saved = base64.b64encode(f.read()).decode()
    return {
        "code": code or 0,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "saved": saved,
    }
