#!/usr/bin/env python3
"""Assemble the offline Pyodide bundle into .cache/pyodide/ (idempotent).

Usage: python scripts/setup_pyodide.py [DEST]

See wasm_rt/site/bundle.py for what goes in and how each file is verified.
That module is stdlib only and is loaded by path, so this script runs before
wasm_rt's dependencies are installed (scripts/setup.sh calls it first).
"""

import importlib.util
import sys
from pathlib import Path

BUNDLE_PY = Path(__file__).resolve().parents[1] / "wasm_rt" / "site" / "bundle.py"


def load_bundle_module():
    spec = importlib.util.spec_from_file_location("wasm_rt_site_bundle", BUNDLE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    bundle = load_bundle_module()
    try:
        bundle.ensure_bundle(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    except bundle.BundleError as exc:
        sys.exit(f"setup_pyodide: {exc}")
