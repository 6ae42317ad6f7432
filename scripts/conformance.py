#!/usr/bin/env python3
"""Run the official ONNX node conformance cases through wasm_rt.

The ``onnx`` wheel ships the case generators but not their data, so the cases
are written at test time, the way ``onnx.backend.test.cmd_tools.generate_data``
writes them (``model.onnx`` + ``test_data_set_*/input_*.pb, output_*.pb``),
into a git-ignored cache that is reused while the onnx version stays the same.

Each case runs through wasm_rt's public API
(``wasm_rt.InferenceSession(path).run(None, feeds)``) in a pool of worker
processes, so a case that hangs or crashes the interpreter is reported as such
and cannot stall the run.  Outputs are compared as onnx's backend test runner
compares them (``assert_similar_outputs``: same count, shape and dtype, strings
equal, numbers within rtol/atol, by default 1e-3/1e-7 unless the case says
otherwise).

The data files are read with wasm_rt's own protobuf module and tensor
conversion, so the loading half (:func:`load_case`, :func:`compare`,
:func:`run_case`) has no onnx dependency and can run inside Pyodide; only
:func:`ensure_cases` needs the onnx package.

Usage::

    python scripts/conformance.py                  # all cases, summary
    python scripts/conformance.py --failures       # ... and every failure's reason
    python scripts/conformance.py -k softmax -k gemm --json results.json
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from multiprocessing.connection import wait as wait_connections
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO / ".cache" / "onnx-node-cases"
MANIFEST = "manifest.json"
DEFAULT_RTOL = 1e-3  # onnx.backend.test.case.node.expect's defaults
DEFAULT_ATOL = 1e-7
DEFAULT_TIMEOUT = 60.0

if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))


# --------------------------------------------------------------------------
# Generating the cases (host only: needs the onnx package)
# --------------------------------------------------------------------------


def ensure_cases(cache_dir: Path = CACHE_DIR, force: bool = False) -> Path:
    """Write the node cases into ``cache_dir`` unless a matching copy is there.

    The cache is reused when its manifest names the installed onnx version and
    every listed case directory exists.  A new copy is written next to the old
    one and swapped in, so an interrupted run never leaves a half cache behind.
    """
    import onnx

    cache_dir = Path(cache_dir)
    manifest = cache_dir / MANIFEST
    if not force and manifest.exists():
        try:
            info = json.loads(manifest.read_text())
            if info.get("onnx_version") == onnx.__version__ and all(
                (cache_dir / name / "model.onnx").exists() for name in info["cases"]
            ):
                return cache_dir
        except (ValueError, KeyError, TypeError):
            pass

    tmp = cache_dir.with_name(f"{cache_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    # In a fresh interpreter: collect_testcases() fills a module-level list once
    # per process, honouring whatever op_type filter its first caller passed.
    subprocess.run([sys.executable, __file__, "--write-cases-to", str(tmp)], check=True)
    names = sorted(p.parent.name for p in tmp.glob("*/model.onnx"))
    (tmp / MANIFEST).write_text(
        json.dumps({"onnx_version": onnx.__version__, "cases": names}, indent=0)
    )
    shutil.rmtree(cache_dir, ignore_errors=True)
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, cache_dir)
    return cache_dir


def _write_cases(out: Path) -> list[str]:
    """Write every node case as cmd_tools.generate_data does; returns the names."""
    import warnings

    import numpy as np
    from onnx import TensorProto, numpy_helper
    from onnx.backend.test.case import node as node_cases

    np.random.seed(0)  # the generators draw random inputs; keep the cache reproducible
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cases = node_cases.collect_testcases()

    def serialize(value, type_proto, name: str) -> bytes:
        if type_proto.HasField("map_type"):
            return numpy_helper.from_dict(value, name).SerializeToString()
        if type_proto.HasField("sequence_type"):
            return numpy_helper.from_list(value, name).SerializeToString()
        if type_proto.HasField("optional_type"):
            return numpy_helper.from_optional(value, name).SerializeToString()
        if isinstance(value, TensorProto):
            return value.SerializeToString()
        return numpy_helper.from_array(value, name).SerializeToString()

    names = []
    for case in cases:
        case_dir = out / case.name
        case_dir.mkdir(parents=True)
        graph = case.model.graph
        (case_dir / "model.onnx").write_bytes(case.model.SerializeToString())
        (case_dir / "meta.json").write_text(json.dumps({"rtol": case.rtol, "atol": case.atol}))
        for i, (inputs, outputs) in enumerate(case.data_sets):
            ds = case_dir / f"test_data_set_{i}"
            ds.mkdir()
            for j, value in enumerate(inputs):
                vi = graph.input[j]
                (ds / f"input_{j}.pb").write_bytes(serialize(value, vi.type, vi.name))
            for j, value in enumerate(outputs):
                vi = graph.output[j]
                (ds / f"output_{j}.pb").write_bytes(serialize(value, vi.type, vi.name))
        names.append(case.name)
    return sorted(names)


def list_cases(root: Path = CACHE_DIR, patterns: list[str] | None = None) -> list[str]:
    """Case names under ``root`` whose name contains any of ``patterns``."""
    names = sorted(p.parent.name for p in Path(root).glob("*/model.onnx"))
    if patterns:
        names = [n for n in names if any(p in n for p in patterns)]
    return names


# --------------------------------------------------------------------------
# Loading and checking one case (wasm_rt + numpy only: runs in Pyodide too)
# --------------------------------------------------------------------------


@dataclass
class DataSet:
    feeds: dict[str, Any]
    expected: list[Any]


@dataclass
class Case:
    name: str
    model_path: str
    data_sets: list[DataSet]
    rtol: float
    atol: float


class CaseDataError(Exception):
    """A case's .pb data cannot be turned into values (e.g. a dtype numpy lacks)."""


def _read_value(path: str, type_proto):
    """Parse one input_*/output_*.pb as the container its graph type says."""
    from wasm_rt.proto import onnx_ir_pb2 as pb
    from wasm_rt.tensor import value_from_proto

    kind = type_proto.WhichOneof("value")
    message = {
        "sequence_type": pb.SequenceProto,
        "optional_type": pb.OptionalProto,
        "map_type": pb.MapProto,
    }.get(kind, pb.TensorProto)()
    with open(path, "rb") as f:
        message.ParseFromString(f.read())
    try:
        return value_from_proto(message)
    except Exception as e:  # noqa: BLE001 - reported as the case's failure reason
        raise CaseDataError(f"{os.path.basename(path)}: {type(e).__name__}: {e}") from None


def load_case(case_dir: str | Path) -> Case:
    """The model path, every data set's feeds/expected values, and the tolerances."""
    from wasm_rt.proto import onnx_ir_pb2 as pb

    case_dir = str(case_dir)
    model_path = os.path.join(case_dir, "model.onnx")
    model = pb.ModelProto()
    with open(model_path, "rb") as f:
        model.ParseFromString(f.read())
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    graph_inputs = [vi for vi in graph.input if vi.name not in initializers]

    rtol, atol = DEFAULT_RTOL, DEFAULT_ATOL
    meta_path = os.path.join(case_dir, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        rtol, atol = meta.get("rtol", rtol), meta.get("atol", atol)

    data_sets = []
    for ds in sorted(glob.glob(os.path.join(case_dir, "test_data_set_*"))):
        n_in = len(glob.glob(os.path.join(ds, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(ds, "output_*.pb")))
        feeds = {
            graph_inputs[j].name: _read_value(os.path.join(ds, f"input_{j}.pb"), graph_inputs[j].type)
            for j in range(n_in)
        }
        expected = [
            _read_value(os.path.join(ds, f"output_{j}.pb"), graph.output[j].type)
            for j in range(n_out)
        ]
        data_sets.append(DataSet(feeds, expected))
    return Case(os.path.basename(case_dir.rstrip("/")), model_path, data_sets, rtol, atol)


# Cases whose outputs are drawn at random: the expected values come from
# numpy's generator, which the spec does not prescribe, so only structure
# (count, shape, dtype) and the set of possible values can be checked.
RANDOM_OUTPUT_CASES = {
    "test_bernoulli": "Bernoulli draws at random; values checked to be 0 or 1",
    "test_training_dropout": "Dropout in training mode drops at random; shape and dtype checked",
}


def random_output_note(name: str) -> str | None:
    if "zero_ratio" in name:  # ratio 0 keeps everything: deterministic
        return None
    return next((v for k, v in RANDOM_OUTPUT_CASES.items() if name.startswith(k)), None)


def compare(
    expected: list,
    actual: list,
    rtol: float,
    atol: float,
    where: str = "",
    check_values: bool = True,
) -> str | None:
    """None if ``actual`` matches ``expected`` as onnx's runner requires, else why not.

    With ``check_values=False`` (random outputs) only structure, shape and
    dtype are compared.
    """
    import numpy as np

    from wasm_rt import dtypes, lowprec

    if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
        got = len(actual) if isinstance(actual, (list, tuple)) else type(actual).__name__
        return f"{where}expected {len(expected)} outputs, got {got}"
    for i, (ref, out) in enumerate(zip(expected, actual)):
        at = f"{where}output {i}"
        if ref is None or out is None:
            if ref is not out:
                return f"{at}: expected {_describe(ref)}, got {_describe(out)}"
            continue
        if isinstance(ref, dict):
            if not isinstance(out, dict) or sorted(out) != sorted(ref):
                return f"{at}: expected a map with keys {sorted(ref)}, got {_describe(out)}"
            problem = compare(
                [ref[k] for k in sorted(ref)], [out[k] for k in sorted(ref)], rtol, atol, f"{at} ", check_values
            )
            if problem:
                return problem
            continue
        if isinstance(ref, (list, tuple)):
            if not isinstance(out, (list, tuple)):
                return f"{at}: expected a sequence of {len(ref)}, got {_describe(out)}"
            problem = compare(list(ref), list(out), rtol, atol, f"{at} item ", check_values)
            if problem:
                return problem
            continue
        if not isinstance(out, (np.ndarray, np.generic)):
            return f"{at}: expected an ndarray, got {_describe(out)}"
        out = lowprec.from_ml_dtypes(np.asarray(out))
        ref = lowprec.from_ml_dtypes(np.asarray(ref))
        if out.shape != ref.shape:
            return f"{at}: shape {out.shape}, expected {ref.shape}"
        if ref.dtype == object:
            if out.dtype.kind not in "OUS" or not np.array_equal(out.astype(object), ref):
                return f"{at}: strings differ: got {_short(out)}, expected {_short(ref)}"
            continue
        if out.dtype != ref.dtype:
            return f"{at}: dtype {out.dtype}, expected {ref.dtype}"
        if not check_values:
            continue
        case_rtol = rtol
        if dtypes.is_lowprec(ref.dtype):
            # As onnx's runner: compare the values in float32 (NaN equal to NaN),
            # bfloat16 within two of its ulps (rtol 2**-6).
            if ref.dtype == dtypes.bfloat16:
                case_rtol = max(rtol, 2**-6)
            out, ref = lowprec.to_float32(out), lowprec.to_float32(ref)
        try:
            np.testing.assert_allclose(out, ref, rtol=case_rtol, atol=atol)
        except AssertionError as e:
            lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
            return f"{at}: values differ (rtol={rtol}, atol={atol}): " + "; ".join(lines[1:4])
    return None


def _describe(value) -> str:
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} {getattr(value, 'dtype', '')}{list(shape)}"
    return type(value).__name__


def _short(arr) -> str:
    text = repr(arr.reshape(-1)[:6].tolist())
    return text if arr.size <= 6 else text[:-1] + ", ...]"


@dataclass
class Result:
    name: str
    status: str  # "passed" | "failed" | "skipped"
    reason: str = ""
    seconds: float = 0.0


def run_case(case_dir: str | Path) -> Result:
    """Load, run and check one case; every outcome becomes a Result, never an exception."""
    import numpy as np

    import wasm_rt

    name = os.path.basename(str(case_dir).rstrip("/"))
    start = time.perf_counter()

    def done(status, reason=""):
        return Result(name, status, reason, round(time.perf_counter() - start, 4))

    try:
        case = load_case(case_dir)
    except CaseDataError as e:
        return done("failed", f"test data: {e}")
    try:
        session = wasm_rt.InferenceSession(case.model_path)
    except Exception as e:  # noqa: BLE001
        return done("failed", f"load: {_exc(e)}")
    for i, ds in enumerate(case.data_sets):
        try:
            actual = session.run(None, ds.feeds)
        except Exception as e:  # noqa: BLE001
            return done("failed", f"run: {_exc(e)}")
        where = f"data set {i} " if len(case.data_sets) > 1 else ""
        note = random_output_note(name)
        problem = compare(ds.expected, actual, case.rtol, case.atol, where, check_values=note is None)
        if not problem and note and name.startswith("test_bernoulli"):
            if not all(set(np.unique(a).tolist()) <= {0, 1} for a in actual):
                problem = f"{where}Bernoulli output has values other than 0 and 1"
        if problem:
            return done("failed", f"mismatch: {problem}")
    return done("passed", f"random output: {note}" if note else "")


def _exc(e: BaseException) -> str:
    text = " ".join(str(e).split())
    if len(text) > 400:
        text = text[:400] + " ..."
    return f"{type(e).__name__}: {text}"


# --------------------------------------------------------------------------
# Running many cases in worker processes with a per-case timeout
# --------------------------------------------------------------------------


def _worker(conn, root: str) -> None:
    """Worker loop: receive a case name, send back its Result as a dict."""
    import warnings

    warnings.simplefilter("ignore")
    while True:
        try:
            name = conn.recv()
        except EOFError:
            return
        if name is None:
            return
        try:
            result = run_case(os.path.join(root, name))
        except BaseException as e:  # noqa: BLE001 - e.g. SystemExit from a kernel
            result = Result(name, "failed", f"harness: {_exc(e)}\n{traceback.format_exc()}")
        conn.send(asdict(result))


class _Worker:
    def __init__(self, ctx, root: str):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, root), daemon=True)
        self.proc.start()
        child.close()
        self.case: str | None = None
        self.started = 0.0

    def submit(self, name: str) -> None:
        self.case, self.started = name, time.perf_counter()
        self.conn.send(name)

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def run_cases(
    names: list[str],
    root: Path = CACHE_DIR,
    jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress=None,
) -> list[Result]:
    """Run ``names`` in ``jobs`` worker processes; a case over ``timeout`` s fails."""
    # One numpy thread per worker: the workers are the parallelism.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(names) or 1))
    ctx = multiprocessing.get_context("spawn")
    pending = list(reversed(names))
    results: dict[str, Result] = {}
    workers = [_Worker(ctx, str(root)) for _ in range(jobs)]
    try:
        for w in workers:
            if pending:
                w.submit(pending.pop())
        while any(w.case for w in workers):
            busy = [w for w in workers if w.case]
            deadline = min(w.started for w in busy) + timeout
            ready = wait_connections([w.conn for w in busy], max(0.0, deadline - time.perf_counter()))
            now = time.perf_counter()
            for i, w in enumerate(workers):
                if not w.case:
                    continue
                result = None
                if w.conn in ready:
                    try:
                        result = Result(**w.conn.recv())
                    except (EOFError, OSError):
                        w.proc.join(1)
                        result = Result(w.case, "failed", f"crash: worker exited with code {w.proc.exitcode}")
                elif now - w.started >= timeout:
                    result = Result(w.case, "failed", f"timeout: no result after {timeout:g} s", round(now - w.started, 2))
                if result is None:
                    continue
                results[w.case] = result
                if progress:
                    progress(result)
                w.case = None
                if result.reason.startswith(("timeout", "crash")):
                    w.stop(kill=True)
                    workers[i] = w = _Worker(ctx, str(root))
                if pending:
                    w.submit(pending.pop())
    finally:
        for w in workers:
            w.stop(kill=bool(w.case))
    return [results[n] for n in names]


def summarize(results: list[Result]) -> str:
    counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "skipped")}
    text = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["skipped"]:
        text += f", {counts['skipped']} skipped"
    return text


def short_reason(reason: str) -> str:
    """A one-line reason for the expected-failures file, from a Result's reason."""
    import re

    if "unsupported operator" in reason:
        ops = re.findall(r"\n?\s*(\w+) \(domain '([^']*)', opset (\d+)\)", reason)
        if ops:
            names = ", ".join(
                f"{'' if d in ('', 'ai.onnx') else d + '::'}{op}-{v}" for op, d, v in ops
            )
            return f"no kernel: {names}"
    m = re.search(r"element type (.+?) \((\d+)\) has no numpy equivalent", reason)
    if m:
        # Types newer than wasm_rt's table, named as in onnx's TensorProto.DataType.
        newer = {24: "float8e8m0", 25: "uint2", 26: "int2", 27: "float6e2m3", 28: "float6e3m2"}
        kind = m.group(1)
        if kind.startswith("<unknown"):
            kind = newer.get(int(m.group(2)), f"element type {m.group(2)}")
        return f"{kind} tensors: numpy has no such dtype, wasm_rt cannot hold them"
    text = " ".join(reason.split())
    return text if len(text) <= 160 else text[:157] + "..."


def write_expected(results: list[Result], path: Path) -> None:
    """Write every failing case as 'name  # reason', sorted (to review, not to trust blindly)."""
    lines = [
        "# ONNX node conformance cases expected to fail, one per line: case_name  # reason",
        "# Checked by tests/test_conformance.py; regenerate the skeleton with",
        "#   python scripts/conformance.py --write-expected tests/conformance_expected_failures.txt",
        "# and keep the reasons true.",
    ]
    lines += [f"{r.name}  # {short_reason(r.reason)}" for r in results if r.status == "failed"]
    Path(path).write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", action="append", metavar="SUBSTR", help="only cases whose name contains SUBSTR (repeatable)")
    parser.add_argument("--failures", action="store_true", help="print every failure with its reason")
    parser.add_argument("--json", metavar="FILE", help="write per-case results to FILE")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: CPU count)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per case (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="case directory (default: %(default)s)")
    parser.add_argument("--regenerate", action="store_true", help="rewrite the case cache")
    parser.add_argument("--write-expected", metavar="FILE", help="write the failing cases as an expected-failures file")
    parser.add_argument("--write-cases-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_cases_to:
        _write_cases(args.write_cases_to)
        return 0

    t0 = time.perf_counter()
    root = ensure_cases(args.cache, force=args.regenerate)
    names = list_cases(root, args.k)
    if not names:
        print("no cases match", file=sys.stderr)
        return 2
    results = run_cases(names, root, args.jobs, args.timeout)
    if args.failures:
        for r in results:
            if r.status != "passed":
                print(f"{r.status.upper()} {r.name}: {r.reason}")
    if args.write_expected:
        write_expected(results, Path(args.write_expected))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))
    print(f"{summarize(results)} ({len(names)} cases in {time.perf_counter() - t0:.1f} s)")
    return 0 if all(r.status != "failed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
