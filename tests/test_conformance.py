"""The ONNX node conformance cases, against a list of known failures.

Every case runs once (in scripts/conformance.py's worker pool); a case that
fails without being listed in conformance_expected_failures.txt is a
regression, and a listed case that now passes must be removed from the list,
so the file always says exactly what does not work and why.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import reporting

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import conformance  # noqa: E402

EXPECTED_FILE = Path(__file__).parent / "conformance_expected_failures.txt"


def read_expected_failures(path: Path = EXPECTED_FILE) -> dict[str, str]:
    """``case_name  # reason`` lines -> {case_name: reason}; blank and '#' lines skipped."""
    expected = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, reason = line.partition("#")
        name, reason = name.strip(), reason.strip()
        if not sep or not reason or " " in name:
            raise ValueError(f"{path.name}:{lineno}: expected 'case_name  # reason', got {line!r}")
        if name in expected:
            raise ValueError(f"{path.name}:{lineno}: {name} listed twice")
        expected[name] = reason
    return expected


class Results(dict):
    """{case name: Result}, with a repr short enough for pytest's failure report."""

    def __repr__(self) -> str:
        return f"<{len(self)} conformance results>"


@pytest.fixture(scope="module")
def results():
    start = time.perf_counter()
    root = conformance.ensure_cases()
    names = conformance.list_cases(root)
    results = Results((r.name, r) for r in conformance.run_cases(names, root))
    statuses = [r.status for r in results.values()]
    reporting.record(
        "conformance",
        cases=len(results),
        passed=statuses.count("passed"),
        failed=statuses.count("failed"),
        skipped=statuses.count("skipped"),
        expected_failures=len(read_expected_failures()),
        seconds=time.perf_counter() - start,
    )
    return results


def test_expected_failures_file_is_well_formed():
    read_expected_failures()


def test_case_count(results):
    # ~1,884 with onnx 1.23; far fewer means the generator or the cache broke.
    assert len(results) > 1500, f"only {len(results)} conformance cases were generated"


def test_no_stale_entries(results):
    stale = sorted(set(read_expected_failures()) - set(results))
    assert not stale, "listed in the expected-failures file but no such case:\n" + "\n".join(stale)


def test_no_regressions(results):
    expected = read_expected_failures()
    new = [r for r in results.values() if r.status == "failed" and r.name not in expected]
    lines = [f"{r.name}: {r.reason}" for r in sorted(new, key=lambda r: r.name)]
    assert not new, f"{len(new)} conformance cases fail that are not expected to:\n" + "\n".join(lines)


def test_expected_failures_still_fail(results):
    expected = read_expected_failures()
    fixed = sorted(n for n, r in results.items() if n in expected and r.status == "passed")
    assert not fixed, (
        f"{len(fixed)} cases now pass; remove them from {EXPECTED_FILE.name}:\n" + "\n".join(fixed)
    )
