"""Rows of evidence (timings, error sizes) that tests record for the run summary.

Tests call :func:`record`; ``conftest.py`` prints the tables at the end of the
run and writes them to ``test-artifacts/<table>.json`` (git-ignored), so a CI
log shows speed and accuracy figures next to pass/fail.
"""

from __future__ import annotations

import json
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TABLES: dict[str, list[dict]] = {}


def record(table: str, **row) -> None:
    TABLES.setdefault(table, []).append(row)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if value and not 1e-2 <= abs(value) < 1e4 else f"{value:.3f}"
    return str(value)


def render(table: str) -> str:
    rows = TABLES[table]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def write_all() -> list[Path]:
    if not TABLES:
        return []
    ARTIFACTS.mkdir(exist_ok=True)
    paths = []
    for table, rows in TABLES.items():
        path = ARTIFACTS / f"{table}.json"
        path.write_text(json.dumps(rows, indent=1))
        (ARTIFACTS / f"{table}.md").write_text(render(table) + "\n")
        paths.append(path)
    return paths
