"""The ONNX node conformance cases inside Pyodide, through the JS API.

For every case the page creates a session from the case's ``model.onnx`` with
``InferenceSession.create`` and runs each data set with ``session.run`` on
``Tensor`` feeds, exactly as a web page would. The host prepares the feeds
(read with scripts/conformance.py's loader) and checks the outputs with its
``compare``, so the browser's verdict uses the same rules as the host's.

The browser's result must equal the host's for every case, except:

* cases the JS API cannot express (a feed or output that is not a tensor, or a
  dtype with no onnxruntime-web tensor type, such as bfloat16 or float8): they
  are counted and reported with the reason, not run;
* cases listed in ``browser_conformance_exceptions.txt``, each with its reason.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from jsio import from_js, to_js

from wasm_rt.site.worker_bridge import NUMPY_TO_JS

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import conformance

EXCEPTIONS_FILE = Path(__file__).parent / "browser_conformance_exceptions.txt"
BATCH = 40
CASE_TIMEOUT_MS = 60_000

RUN_BATCH_JS = """
async ([cases, timeoutMs]) => {
  const { InferenceSession, Tensor, debug } = window.wasm_rt;
  const ARRAYS = { float32: Float32Array, float64: Float64Array, float16: Uint16Array, int8: Int8Array,
    uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
    int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array };
  const fromB64 = (type, b64) => {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new ARRAYS[type](bytes.buffer);
  };
  const toB64 = (data) => {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  };
  const withTimeout = (promise) => {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  };
  const results = [];
  for (const c of cases) {
    const t0 = performance.now();
    let session = null;
    const result = { name: c.name, dataSets: [] };
    try {
      session = await withTimeout(InferenceSession.create(c.model));
      for (const ds of c.dataSets) {
        const feeds = {};
        for (const f of ds) {
          feeds[f.name] = new Tensor(f.type, f.type === "string" ? f.data : fromB64(f.type, f.data), f.dims);
        }
        const out = await withTimeout(session.run(feeds));
        result.dataSets.push(session.outputNames.map((n) => {
          const t = out[n];
          return { type: t.type, dims: [...t.dims], data: t.type === "string" ? t.data : toB64(t.data) };
        }));
      }
    } catch (err) {
      if (err.message === "timeout") debug.terminateWorker("case timed out");
      result.error = { name: err.name, type: err.type || err.name, message: err.pythonMessage || err.message };
    }
    if (session) { try { await session.release(); } catch {} }
    result.ms = performance.now() - t0;
    results.push(result);
  }
  return results;
}
"""


def read_exceptions(path: Path = EXCEPTIONS_FILE) -> dict[str, str]:
    """``case_name  # reason`` lines -> {name: reason}."""
    listed = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, reason = line.partition("#")
        if not sep or not reason.strip():
            raise ValueError(f"{path.name}:{lineno}: expected 'case_name  # reason'")
        listed[name.strip()] = reason.strip()
    return listed


INTP_REASON = (
    "wasm32 numpy: np.intp is int32, so the {op} kernel's indexing with int64 indices "
    "fails the 'safe' cast (host passes); the kernel must cast indices to np.intp"
)


def exception_reason(browser_reason: str) -> str:
    """A one-line reason for a host/browser difference."""
    import re

    m = re.search(
        r"\((?:[\w.]+:)?(\w+)\) failed .*Cannot cast \w+ \w* ?from dtype\('int64'\)",
        browser_reason,
    )
    if m:
        return INTP_REASON.format(op=m.group(1))
    text = " ".join(browser_reason.split())
    return text if len(text) <= 200 else text[:197] + "..."


def write_exceptions(differ: dict) -> None:
    """Rewrite the exceptions file from this run (WASM_RT_WRITE_BROWSER_EXCEPTIONS=1);
    review the reasons before committing."""
    header = [
        ln for ln in EXCEPTIONS_FILE.read_text().splitlines() if ln.startswith("#")
    ]
    body = [
        f"{n}  # host {h}, browser {s}: {exception_reason(why)}"
        for n, (h, (s, why)) in sorted(differ.items())
    ]
    EXCEPTIONS_FILE.write_text("\n".join(header + body) + "\n")


def js_unexpressible(case: conformance.Case) -> str | None:
    """Why the JS API cannot carry this case's feeds or outputs, or None."""
    for ds in case.data_sets:
        for kind, values in (("input", ds.feeds.values()), ("output", ds.expected)):
            for v in values:
                if not isinstance(v, np.ndarray):
                    return f"{kind} is a {type(v).__name__}, not a tensor: the JS API takes and gives tensors only"
                if v.dtype != object and v.dtype not in NUMPY_TO_JS:
                    return f"{kind} dtype {v.dtype} has no onnxruntime-web tensor type"
    return None


def check(case: conformance.Case, result: dict) -> tuple[str, str]:
    if "error" in result:
        e = result["error"]
        return "failed", f"{e['type']}: {e['message']}"
    note = conformance.random_output_note(case.name)
    for i, (ds, outs) in enumerate(zip(case.data_sets, result["dataSets"])):
        actual = [from_js(o) for o in outs]
        where = f"data set {i} " if len(case.data_sets) > 1 else ""
        problem = conformance.compare(
            ds.expected, actual, case.rtol, case.atol, where, check_values=note is None
        )
        bernoulli = note and case.name.startswith("test_bernoulli")
        if (
            not problem
            and bernoulli
            and not all(set(np.unique(a).tolist()) <= {0, 1} for a in actual)
        ):
            problem = "Bernoulli output has values other than 0 and 1"
        if problem:
            return "failed", f"mismatch: {problem}"
    return "passed", ""


@pytest.fixture(scope="module")
def cases_root():
    pytest.importorskip(
        "onnx", reason="generating the node cases needs the onnx package"
    )
    return conformance.ensure_cases()


def test_conformance_in_browser(rt_page, site, cases_root, browser_report, artifacts):
    (site / "cases").symlink_to(cases_root, target_is_directory=True)
    names = conformance.list_cases(cases_root)
    t0 = time.perf_counter()
    host = {r.name: r for r in conformance.run_cases(names, cases_root)}
    host_s = time.perf_counter() - t0

    browser: dict[str, tuple[str, str]] = {}
    unexpressible: dict[str, str] = {}
    runnable = []
    for name in names:
        try:
            case = conformance.load_case(cases_root / name)
        except conformance.CaseDataError as e:
            unexpressible[name] = f"test data cannot be read: {e}"
            continue
        why = js_unexpressible(case)
        if why:
            unexpressible[name] = why
        else:
            runnable.append(case)

    t0 = time.perf_counter()
    for start in range(0, len(runnable), BATCH):
        batch = runnable[start : start + BATCH]
        payload = [
            {
                "name": c.name,
                "model": f"cases/{c.name}/model.onnx",
                "dataSets": [
                    [to_js(k, v) for k, v in ds.feeds.items()] for ds in c.data_sets
                ],
            }
            for c in batch
        ]
        results = rt_page.evaluate(RUN_BATCH_JS, [payload, CASE_TIMEOUT_MS])
        for case, result in zip(batch, results):
            browser[case.name] = check(case, result)
    browser_s = time.perf_counter() - t0

    passed = sum(s == "passed" for s, _ in browser.values())
    failed = len(browser) - passed
    host_ran = [n for n in names if n in browser]
    host_passed = sum(host[n].status == "passed" for n in host_ran)
    listed = read_exceptions()
    differ = {
        n: (host[n].status, browser[n])
        for n in host_ran
        if host[n].status != browser[n][0]
    }
    unlisted = {n: d for n, d in differ.items() if n not in listed}
    stale = sorted(n for n in listed if n not in differ)

    lines = [
        (
            f"browser conformance (JS API in Pyodide): {passed} passed, {failed} failed "
            f"of {len(browser)} cases in {browser_s:.0f} s"
        ),
        (
            f"host (same {len(host_ran)} cases): {host_passed} passed, "
            f"{len(host_ran) - host_passed} failed (all {len(names)}: "
            f"{conformance.summarize(list(host.values()))}, {host_s:.0f} s)"
        ),
        f"not expressible through the JS API: {len(unexpressible)} cases",
        f"host/browser differences: {len(differ)} ({len(differ) - len(unlisted)} listed)",
    ]
    browser_report.extend(lines)
    report = artifacts / "browser_conformance.txt"
    with open(report, "w") as f:
        f.write("\n".join(lines) + "\n\n")
        for n, why in sorted(unexpressible.items()):
            f.write(f"NOT-EXPRESSIBLE {n}: {why}\n")
        for n, (h, (s, why)) in sorted(differ.items()):
            f.write(f"DIFFERS {n}: host {h}, browser {s}: {why}\n")
        for n, (s, why) in sorted(browser.items()):
            if s == "failed":
                f.write(f"FAILED {n}: {why}\n")
    print("\n".join(lines))
    if os.environ.get("WASM_RT_WRITE_BROWSER_EXCEPTIONS") == "1":
        write_exceptions(differ)
        return
    assert not unlisted, (
        "host and browser disagree on (see test-artifacts/browser_conformance.txt):\n"
        + "\n".join(
            f"{n}: host {h}, browser {s}: {why[:200]}"
            for n, (h, (s, why)) in sorted(unlisted.items())
        )
    )
    assert not stale, (
        f"listed in {EXCEPTIONS_FILE.name} but host and browser agree now: {stale}; "
        "rewrite the list with WASM_RT_WRITE_BROWSER_EXCEPTIONS=1 and review it"
    )
