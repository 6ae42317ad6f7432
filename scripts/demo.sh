#!/usr/bin/env bash
# The main job: set up if needed, build the static site (offline Pyodide, the
# wasm_rt wheel, the demo page and its embedded digits model) into site/, and
# serve it on 127.0.0.1.  Open the printed URL and draw a digit.
# Extra arguments go to `wasm-rt serve` (e.g. --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/wasm-rt build-site site
exec .venv/bin/wasm-rt serve site "$@"
