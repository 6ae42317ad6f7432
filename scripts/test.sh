#!/usr/bin/env bash
# Set up the venv if needed, then run the whole test suite.
# Extra arguments go to pytest:  scripts/test.sh -k conformance -x
#
# In CI (CI=true), or with WASM_RT_NEWEST=1, the host tests (not the browser ones)
# run a second time in .venv-newest: the newest CPython here (3.13) with the newest
# numpy (requirements-newest.txt), as Pyodide 314 users have them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
status=0
.venv/bin/python -m pytest -q tests "$@" || status=$?
if [ "${CI:-}" = "true" ] || [ "${WASM_RT_NEWEST:-}" = "1" ]; then
  scripts/setup_newest.sh
  echo "test: host tests on $(.venv-newest/bin/python --version)," \
       "numpy $(.venv-newest/bin/python -c 'import numpy; print(numpy.__version__)')"
  .venv-newest/bin/python -m pytest -q tests --ignore=tests/browser "$@" || status=$?
fi
exit "$status"
