#!/usr/bin/env bash
# The main job: set up if needed, then run the demo on its embedded default model.
# Extra arguments go to `wasm-rt run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/wasm-rt run "$@"
