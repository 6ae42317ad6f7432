"""The ONNX node conformance cases inside Pyodide, through the JS API.

For every case the page creates a session from the case's ``model.onnx`` with
``InferenceSession.create`` and runs each data set with ``session.run`` on
``Tensor`` feeds, exactly as a web page would. The host prepares the feeds
(read with scripts/conformance.py's loader) and checks the outputs with its
``compare``, so the browser's verdict uses the same rules as the host's.

The cases the JS API cannot express (a feed or output that is not a tensor, or
a dtype with no onnxruntime-web tensor type, such as bfloat16 or float8) run in
Pyodide through Python instead: a Web Worker of the same page boots its own
Pyodide with the site's packages, fetches each case's ``model.onnx`` and
``.pb`` files from the served site into Pyodide's file system and runs
scripts/conformance.py's ``run_case`` there (wasm_rt's own proto and tensor
code, the host's comparison). So every case runs in the browser, and the
browser's passed count is comparable with the host's full count.

The browser's result must equal the host's for every case, except the cases
listed in ``browser_conformance_exceptions.txt``, each with its reason.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from jsio import JS_HELPERS, from_js, to_js

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
  const { fromB64, toB64 } = window.jsio;  // tests/browser/jsio.py's JS_HELPERS
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


# A Web Worker with its own Pyodide that runs conformance.run_case on case
# directories it fetches from the site. Messages: {op: "boot", siteURL, source}
# -> {ok}; {op: "run", name, files} -> {ok, result: JSON of a Result}.
PY_WORKER_JS = """
let pyodide = null, runCase = null;
self.onmessage = async ({ data: msg }) => {
  try {
    if (msg.op === "boot") {
      const manifest = await (await fetch(new URL("manifest.json", msg.siteURL))).json();
      const indexURL = new URL(manifest.pyodide.indexURL, msg.siteURL).href;
      const { loadPyodide } = await import(new URL("pyodide.mjs", indexURL).href);
      pyodide = await loadPyodide({ indexURL, packages: [] });
      for (const p of manifest.packages) await pyodide.loadPackage(p, { messageCallback: () => {} });
      pyodide.FS.mkdirTree("/conformance");
      pyodide.FS.writeFile("/conformance/conformance.py", msg.source);
      runCase = pyodide.runPython(`
import json, shutil, sys, warnings
from dataclasses import asdict
warnings.simplefilter("ignore")
sys.path.insert(0, "/conformance")
import conformance

def run_case(case_dir):
    try:
        return json.dumps(asdict(conformance.run_case(case_dir)))
    finally:
        shutil.rmtree(case_dir, ignore_errors=True)

run_case
`);
      self.postMessage({ ok: true });
    } else if (msg.op === "run") {
      const dir = `/cases/${msg.name}`;
      const bodies = await Promise.all(msg.files.map(async (f) => {
        const res = await fetch(new URL(`cases/${msg.name}/${f}`, msg.siteURL));
        if (!res.ok) throw new Error(`cannot fetch ${res.url}: HTTP ${res.status}`);
        return new Uint8Array(await res.arrayBuffer());
      }));
      msg.files.forEach((f, i) => {
        const path = `${dir}/${f}`;
        pyodide.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")));
        pyodide.FS.writeFile(path, bodies[i]);
      });
      self.postMessage({ ok: true, result: runCase(dir) });
    }
  } catch (err) {
    self.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) });
  }
};
"""

RUN_PYTHON_CASES_JS = """
async ([workerSource, conformanceSource, cases, timeoutMs]) => {
  const siteURL = new URL(".", location.href).href;
  const url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
  let worker = null;
  const ask = (msg, ms) => new Promise((resolve, reject) => {
    const fail = (message, fatal) => Object.assign(new Error(message), { fatal });
    const timer = setTimeout(() => reject(fail(`timeout: no result after ${ms / 1000} s`, true)), ms);
    worker.onmessage = ({ data }) => {
      clearTimeout(timer);
      data.ok ? resolve(data.result) : reject(fail(data.error, false));
    };
    worker.onerror = (e) => { clearTimeout(timer); reject(fail(`worker error: ${e.message}`, true)); };
    worker.postMessage(msg);
  });
  const start = async () => {
    worker = new Worker(url, { type: "module" });
    await ask({ op: "boot", siteURL, source: conformanceSource }, 180_000);
  };
  const t0 = performance.now();
  await start();
  const bootMs = performance.now() - t0;
  const results = [];
  for (const c of cases) {
    try {
      results.push(JSON.parse(await ask({ op: "run", name: c.name, files: c.files, siteURL }, timeoutMs)));
    } catch (err) {
      results.push({ name: c.name, status: "failed", reason: `harness: ${err.message}` });
      if (err.fatal) {  // a hung or dead interpreter: start a fresh one for the rest
        worker.terminate();
        await start();
      }
    }
  }
  worker.terminate();
  URL.revokeObjectURL(url);
  return { bootMs, results };
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
    rt_page.evaluate(JS_HELPERS)
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
    js_ran = set(browser)

    # Everything else runs through Python inside Pyodide (sequence/optional/map
    # values, dtypes without an onnxruntime-web type, unreadable test data).
    py_cases = [
        {
            "name": n,
            "files": sorted(
                str(f.relative_to(cases_root / n))
                for f in (cases_root / n).rglob("*")
                if f.is_file()
            ),
        }
        for n in names
        if n in unexpressible
    ]
    t0 = time.perf_counter()
    py_run = rt_page.evaluate(
        RUN_PYTHON_CASES_JS,
        [
            PY_WORKER_JS,
            (REPO / "scripts" / "conformance.py").read_text(),
            py_cases,
            CASE_TIMEOUT_MS,
        ],
    )
    py_s = time.perf_counter() - t0
    for r in py_run["results"]:
        browser[r["name"]] = (r["status"], r["reason"])

    def counts(ran) -> tuple[int, int]:
        p = sum(browser[n][0] == "passed" for n in ran)
        return p, len(ran) - p

    js_passed, js_failed = counts(js_ran)
    py_ran = [c["name"] for c in py_cases]
    py_passed, py_failed = counts(py_ran)
    passed, failed = counts(browser)
    host_passed = sum(host[n].status == "passed" for n in names)
    host_js_passed = sum(host[n].status == "passed" for n in js_ran)
    host_py_passed = sum(host[n].status == "passed" for n in py_ran)
    listed = read_exceptions()
    differ = {
        n: (host[n].status, browser[n])
        for n in names
        if host[n].status != browser.get(n, ("not run", ""))[0]
    }
    unlisted = {n: d for n, d in differ.items() if n not in listed}
    stale = sorted(n for n in listed if n not in differ)

    lines = [
        (
            f"browser conformance, JS API in Pyodide: {js_passed} passed, {js_failed} failed "
            f"of {len(js_ran)} cases in {browser_s:.0f} s (host: {host_js_passed} passed)"
        ),
        (
            f"browser conformance, Python in Pyodide (cases the JS API cannot express): "
            f"{py_passed} passed, {py_failed} failed of {len(py_ran)} cases in {py_s:.0f} s "
            f"(Pyodide boot {py_run['bootMs'] / 1000:.0f} s; host: {host_py_passed} passed)"
        ),
        (
            f"browser total: {passed} passed, {failed} failed of {len(browser)} cases; "
            f"host: {host_passed} passed, {len(names) - host_passed} failed of {len(names)} "
            f"({conformance.summarize(list(host.values()))}, {host_s:.0f} s)"
        ),
        f"host/browser differences: {len(differ)} ({len(differ) - len(unlisted)} listed)",
    ]
    browser_report.extend(lines)
    report = artifacts / "browser_conformance.txt"
    with open(report, "w") as f:
        f.write("\n".join(lines) + "\n\n")
        for n, why in sorted(unexpressible.items()):
            f.write(f"PYTHON-IN-PYODIDE {n} (not expressible through the JS API: {why})\n")
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
