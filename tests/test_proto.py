"""wasm_rt's own ONNX schema: same wire format as onnx's, loads on protobuf 5.x and 7.x."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from wasm_rt.proto import onnx_ir_pb2 as ours

ROOT = Path(__file__).resolve().parents[1]
# Fields of the newest IR that inference never reads (multi-device configuration).
NOT_MODELLED = {("NodeProto", "device_configurations"), ("ModelProto", "configuration"), ("TypeProto", "opaque_type")}


def _compare(mine, theirs, path=""):
    problems = []
    for f in mine.fields:
        tf = theirs.fields_by_name.get(f.name)
        if tf is None:
            problems.append(f"{path}{mine.name}.{f.name} not in onnx")
        elif (f.number, f.type, f.is_repeated) != (tf.number, tf.type, tf.is_repeated):
            problems.append(f"{path}{mine.name}.{f.name}: ({f.number}, {f.type}) vs ({tf.number}, {tf.type})")
    for tf in theirs.fields:
        if tf.name not in mine.fields_by_name and (mine.name, tf.name) not in NOT_MODELLED:
            problems.append(f"{path}{mine.name}.{tf.name} (field {tf.number}) missing")
    for nested in mine.nested_types:
        problems += _compare(nested, theirs.nested_types_by_name[nested.name], f"{path}{mine.name}.")
    return problems


@pytest.mark.parametrize("message", sorted(ours.DESCRIPTOR.message_types_by_name))
def test_schema_matches_onnx(message):
    mine = ours.DESCRIPTOR.message_types_by_name[message]
    assert _compare(mine, getattr(onnx, message).DESCRIPTOR) == []


def test_round_trip_with_onnx():
    path = Path(onnx.__file__).parent / "backend/test/data/light/light_squeezenet.onnx"
    data = path.read_bytes()
    m = ours.ModelProto.FromString(data)
    assert m.graph.name and len(m.graph.node) > 10
    assert onnx.load_from_string(m.SerializeToString()) == onnx.load_from_string(data)


SNIPPET = (
    "import sys; sys.path.insert(0, {root!r});"
    "from google.protobuf.internal import api_implementation as a;"
    "from google.protobuf import __version__ as v;"
    "from wasm_rt.proto import onnx_ir_pb2 as pb;"
    "m = pb.ModelProto.FromString(open({model!r}, 'rb').read());"
    "print(v, a.Type(), len(m.graph.node))"
)


def _run(pythonpath, impl):
    model = str(Path(onnx.__file__).parent / "backend/test/data/light/light_squeezenet.onnx")
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=impl)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(root=str(ROOT), model=model)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.parametrize("impl", ["upb", "python"])
def test_loads_on_installed_protobuf(impl):
    version, kind, nodes = _run(None, impl)
    assert version.startswith("7.") and kind == impl and int(nodes) > 10


@pytest.mark.parametrize("impl", ["upb", "python"])
def test_loads_on_protobuf_5(impl):
    target = ROOT / ".cache" / "protobuf5"
    if not (target / "google" / "protobuf").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "protobuf==5.29.2"],
            check=True, timeout=300,
        )
    version, kind, nodes = _run(str(target), impl)
    assert version == "5.29.2" and kind == impl and int(nodes) > 10
