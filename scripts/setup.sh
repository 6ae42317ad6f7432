#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install wasm_rt (editable) with its test
# dependencies.  Idempotent: a second run only checks that everything is there.
#
#   scripts/setup.sh            # uses python3.13 / 3.12 / 3.11 / python3, first found
#   PYTHON=python3.12 scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${VENV:-.venv}
stamp="$venv/.wasm_rt-setup-stamp"

# System packages: chromium drives the browser tests (Playwright's own browser
# download does not work offline), npm fetches the Pyodide core, clang/lld
# rebuild the SIMD GEMM side module.  Installed with
# apt when missing and we are root; otherwise say what is missing.
need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v npm >/dev/null || need_apt+=(npm)
# tests/test_native_gemm.py rebuilds wasm_rt/native/gemm.wasm with clang and lld.
command -v wasm-ld >/dev/null || need_apt+=(clang lld)
# Mesa's lavapipe: a CPU Vulkan device, so the WGSL kernels also run under pytest (wgpu-py).
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need_apt[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${need_apt[*]} (install them; browser tests need chromium)" >&2
  fi
fi

find_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  for p in python3.13 python3.12 python3.11 python3; do
    if command -v "$p" >/dev/null 2>&1 &&
       "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$p"; return
    fi
  done
  echo "scripts/setup.sh: no Python 3.11+ found (set PYTHON=...)" >&2
  exit 1
}

if [ ! -x "$venv/bin/python" ]; then
  py=$(find_python)
  echo "setup: creating $venv with $($py --version)"
  "$py" -m venv "$venv"
fi

# The offline Pyodide bundle for the browser parts (.cache/pyodide; a no-op when
# present and verified; needs npm and pip).
"$venv/bin/python" scripts/setup_pyodide.py

# Reinstall only when the inputs changed since the last successful setup.
want=$(cat requirements-dev.txt requirements-compat.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
   "$venv/bin/python" -c 'import wasm_rt, onnx, onnxruntime, pytest, hypothesis' 2>/dev/null; then
  echo "setup: $venv is up to date"
  exit 0
fi

"$venv/bin/python" -m pip install -q -r requirements-dev.txt
"$venv/bin/python" -m pip install -q --no-deps -r requirements-compat.txt
"$venv/bin/python" -m pip install -q -e .
echo "$want" > "$stamp"
echo "setup: $venv ready ($("$venv/bin/python" --version))"
