#!/usr/bin/env python3
"""Assemble the offline Pyodide bundle into .cache/pyodide/ (idempotent).

Usage: python scripts/setup_pyodide.py [DEST]

See wasm_rt/site/bundle.py for what goes in and how each file is verified.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wasm_rt.site.bundle import BundleError, ensure_bundle  # noqa: E402

if __name__ == "__main__":
    try:
        ensure_bundle(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    except BundleError as exc:
        sys.exit(f"setup_pyodide: {exc}")
