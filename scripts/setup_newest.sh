#!/usr/bin/env bash
# Create .venv-newest: wasm_rt (editable) on the newest CPython found (3.14, 3.13)
# with the newest numpy (requirements-newest.txt), for the second host test run.
# Idempotent.  Exits 3 when no such Python is installed (the caller decides
# whether that is fatal: in CI it is).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${VENV_NEWEST:-.venv-newest}
stamp="$venv/.wasm_rt-setup-stamp"

find_python() {
  for p in python3.14 python3.13; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys' 2>/dev/null; then
      echo "$p"; return
    fi
    # pyenv installs versions without putting them on PATH.
    for v in "$HOME"/.pyenv/versions/"${p#python}".*/bin/"$p"; do
      if [ -x "$v" ]; then echo "$v"; return; fi
    done
  done
}

if [ ! -x "$venv/bin/python" ]; then
  py=$(find_python)
  if [ -z "$py" ]; then
    echo "setup_newest: no Python 3.13+ found; the second host test run needs one" >&2
    exit 3
  fi
  echo "setup_newest: creating $venv with $($py --version)"
  "$py" -m venv "$venv"
fi

want=$(cat requirements-newest.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
   "$venv/bin/python" -c 'import wasm_rt, onnx, onnxruntime, pytest' 2>/dev/null; then
  echo "setup_newest: $venv is up to date"
  exit 0
fi
"$venv/bin/python" -m pip install -q -r requirements-newest.txt
"$venv/bin/python" -m pip install -q --no-deps -e .
echo "$want" > "$stamp"
echo "setup_newest: $venv ready ($("$venv/bin/python" --version), numpy $("$venv/bin/python" -c 'import numpy; print(numpy.__version__)'))"
