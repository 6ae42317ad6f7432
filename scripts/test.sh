#!/usr/bin/env bash
# Set up the venv if needed, then run the whole test suite.
# Extra arguments go to pytest:  scripts/test.sh -k conformance -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest -q tests "$@"
