#!/usr/bin/env bash
# Build wasm_rt/native/gemm.wasm, the SIMD128 kernels that the numpy provider
# loads with ctypes inside Pyodide (wasm_rt/native/__init__.py): the float32
# GEMM (gemm.c) and the quantized products (qgemm.c), linked into one module.
#
#   scripts/build_native.sh [OUT_DIR]     # default: wasm_rt/native
#
# Needs clang and wasm-ld (Debian: apt-get install -y clang lld). The result is
# committed, so building the wheel does not need clang; tests/test_native_gemm.py
# checks that this script reproduces the committed file byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-wasm_rt/native}
CC=${CC:-clang}
WASM_LD=${WASM_LD:-wasm-ld}
for tool in "$CC" "$WASM_LD"; do
  command -v "$tool" >/dev/null || {
    echo "build_native.sh: $tool not found (apt-get install -y clang lld)" >&2
    exit 1
  }
done
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# -fno-builtin keeps clang from turning loops into memset/memcpy calls: the
# module must not import anything from libc.
for src in gemm qgemm; do
  "$CC" --target=wasm32-unknown-emscripten -ffreestanding -fno-builtin -fPIC -O3 \
    -msimd128 -nostdlib -c "wasm_rt/native/$src.c" -o "$tmp/$src.o"
done
"$WASM_LD" --experimental-pic -shared --no-entry --export-all "$tmp/gemm.o" \
  "$tmp/qgemm.o" -o "$out/gemm.wasm"
echo "built $out/gemm.wasm ($(wc -c <"$out/gemm.wasm") bytes)"
