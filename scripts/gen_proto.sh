#!/usr/bin/env bash
# Regenerates wasm_rt/proto/onnx_ir_pb2.py from wasm_rt/proto/onnx_ir.proto.
#
# grpcio-tools 1.62.3 is pinned on purpose: it emits protobuf 4.25 gencode, which
# loads on the protobuf 5.x, 6.x and 7.x runtimes (C and pure-Python).  Today's
# grpcio-tools emits gencode that newer-than-runtime checks reject on 5.x/6.x.
# It lives in its own venv because it requires protobuf<5.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${PROTOGEN_VENV:-.cache/protogen-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q grpcio-tools==1.62.3
fi
"$venv/bin/python" -m grpc_tools.protoc -Iwasm_rt/proto --python_out=wasm_rt/proto wasm_rt/proto/onnx_ir.proto
echo "wrote wasm_rt/proto/onnx_ir_pb2.py"
