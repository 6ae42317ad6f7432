"""Reading a model: bytes/path/file -> validated ModelProto + metadata."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from google.protobuf.message import DecodeError

from .errors import InvalidArgument, InvalidGraph, InvalidProtobuf, NoSuchFile
from .proto import onnx_ir_pb2 as pb
from .registry import ML_DOMAIN, ONNX_DOMAIN, normalize_domain
from .tensor import ExternalData

MIN_IR_VERSION = 3
# The newest IR version the specification defines today; later versions may
# change semantics we do not know, so they are refused rather than guessed at.
MAX_IR_VERSION = 14


@dataclass
class ModelMetadata:
    """What onnxruntime's ``get_modelmeta()`` returns."""

    producer_name: str = ""
    graph_name: str = ""
    domain: str = ""
    description: str = ""
    graph_description: str = ""
    version: int = 0
    custom_metadata_map: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadedModel:
    proto: pb.ModelProto
    ext: ExternalData
    opsets: dict[str, int]
    metadata: ModelMetadata
    source: str


def read_model_bytes(model: Any) -> tuple[bytes, str | None, str]:
    """(bytes, folder for external data or None, a description for messages)."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), None, "<bytes>"
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NoSuchFile(f"model file not found: {path}") from None
        except IsADirectoryError:
            raise InvalidArgument(f"model path is a directory, not a file: {path}") from None
        except OSError as e:
            raise NoSuchFile(f"cannot read model file {path}: {e}") from None
        return data, os.path.dirname(os.path.abspath(path)), path
    if hasattr(model, "read"):
        data = model.read()
        if isinstance(model, io.TextIOBase) or isinstance(data, str):
            raise InvalidArgument("model file object must be opened in binary mode ('rb')")
        name = getattr(model, "name", None)
        folder = os.path.dirname(os.path.abspath(name)) if isinstance(name, str) else None
        return bytes(data), folder, name if isinstance(name, str) else "<file object>"
    raise InvalidArgument(
        f"cannot load a model from {type(model).__name__}: pass a path, bytes, or a binary file object"
    )


def parse_model(data: bytes, source: str) -> pb.ModelProto:
    if not data:
        raise InvalidProtobuf(f"{source}: the model is empty (0 bytes)")
    model = pb.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RecursionError, ValueError, TypeError, UnicodeDecodeError) as e:
        if _too_deep(e):
            raise InvalidProtobuf(
                f"{source}: the model's messages are nested deeper than the protobuf parser's "
                "recursion limit (100 levels: each subgraph level takes 3, graph, node and "
                f"attribute); the bytes may be intact, but they cannot be read: {e}"
            ) from None
        raise InvalidProtobuf(
            f"{source}: not a valid ONNX model ({len(data)} bytes; the file may be truncated "
            f"or not an .onnx file): {e}"
        ) from None
    except Exception as e:  # the pure-Python parser raises assorted errors on garbage
        raise InvalidProtobuf(f"{source}: not a valid ONNX model: {type(e).__name__}: {e}") from None
    if not model.HasField("graph"):
        raise InvalidProtobuf(
            f"{source}: the protobuf has no graph; it is not an ONNX model "
            f"(or it is truncated; {len(data)} bytes)"
        )
    if not MIN_IR_VERSION <= model.ir_version <= MAX_IR_VERSION:
        raise InvalidGraph(
            f"{source}: IR version {model.ir_version} is not supported "
            f"(wasm_rt reads IR versions {MIN_IR_VERSION} to {MAX_IR_VERSION})"
        )
    return model


def _too_deep(e: Exception) -> bool:
    """Whether a parse failed on nesting depth (upb: MaxDepth; C++: recursion limit;
    pure Python: RecursionError or "too many levels of nesting") rather than bad bytes."""
    text = str(e).lower()
    return isinstance(e, RecursionError) or any(
        k in text for k in ("maxdepth", "recursion", "nesting", "too deep")
    )


def opset_map(model: pb.ModelProto) -> dict[str, int]:
    opsets: dict[str, int] = {}
    for op in model.opset_import:
        dom = normalize_domain(op.domain)
        if dom in opsets and opsets[dom] != op.version:
            raise InvalidGraph(f"opset of domain '{op.domain or 'ai.onnx'}' imported twice")
        opsets[dom] = int(op.version)
    if ONNX_DOMAIN not in opsets:
        # IR 3+ requires an opset import; models that omit it were written for opset 1.
        opsets[ONNX_DOMAIN] = 1
    if opsets[ONNX_DOMAIN] < 1:
        raise InvalidGraph(f"invalid ai.onnx opset version {opsets[ONNX_DOMAIN]}")
    opsets.setdefault(ML_DOMAIN, 1)
    return opsets


def metadata(model: pb.ModelProto) -> ModelMetadata:
    return ModelMetadata(
        producer_name=model.producer_name,
        graph_name=model.graph.name,
        domain=model.domain,
        description=model.doc_string,
        graph_description=model.graph.doc_string,
        version=int(model.model_version),
        custom_metadata_map={p.key: p.value for p in model.metadata_props},
    )


def load(model: Any, external_data: Mapping[str, bytes] | None = None) -> LoadedModel:
    data, folder, source = read_model_bytes(model)
    proto = parse_model(data, source)
    return LoadedModel(
        proto=proto,
        ext=ExternalData(folder, external_data),
        opsets=opset_map(proto),
        metadata=metadata(proto),
        source=source,
    )
