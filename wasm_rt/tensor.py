"""Conversion of ONNX TensorProto (and the sequence/optional/map containers)
into numpy values, including tensors stored as external data.

A model is untrusted input: every size is checked against the data actually
present and against the memory limit before anything is allocated, and
external files are only read from inside the model's folder.
"""

from __future__ import annotations

import math
import os
from typing import Mapping

import numpy as np

from . import dtypes, lowprec
from .errors import InvalidArgument, InvalidGraph, NoSuchFile
from .limits import check_alloc
from .proto import onnx_ir_pb2 as pb

# Typed-field storage of each element type, from the IR specification.
_INT32_FIELD_TYPES = {
    dtypes.INT32,
    dtypes.INT16,
    dtypes.INT8,
    dtypes.UINT16,
    dtypes.UINT8,
    dtypes.BOOL,
    dtypes.FLOAT16,
}
# bfloat16, float8 and float8e8m0 keep one element's bits per int32_data entry;
# the sub-byte types keep their packed bytes there, one byte per entry.
_INT32_FIELD_TYPES |= set(dtypes.LOWPREC)


class ExternalData:
    """Where external tensor bytes come from: the model's folder or a name->bytes map.

    In the browser there is no file system, so callers pass ``mapping``
    (location -> bytes) instead of (or besides) ``base_dir``.
    """

    def __init__(self, base_dir: str | None = None, mapping: Mapping[str, bytes] | None = None):
        self.base_dir = os.path.realpath(base_dir) if base_dir else None
        self.mapping = dict(mapping or {})
        self._cache: dict[str, bytes] = {}

    def read(self, tensor_name: str, location: str, offset: int, length: int | None) -> memoryview:
        data = self._load(tensor_name, location)
        if offset < 0 or offset > len(data):
            raise InvalidGraph(
                f"initializer '{tensor_name}': external data offset {offset} is outside "
                f"'{location}' ({len(data)} bytes)"
            )
        end = len(data) if length is None else offset + length
        if length is not None and (length < 0 or end > len(data)):
            raise InvalidGraph(
                f"initializer '{tensor_name}': external data [{offset}, {end}) runs past "
                f"the end of '{location}' ({len(data)} bytes)"
            )
        return memoryview(data)[offset:end]

    def _load(self, tensor_name: str, location: str) -> bytes:
        if location in self.mapping:
            return self.mapping[location]
        if location in self._cache:
            return self._cache[location]
        path = self._safe_path(tensor_name, location)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NoSuchFile(
                f"initializer '{tensor_name}': external data file '{location}' not found "
                f"in the model's folder {self.base_dir}"
            ) from None
        except OSError as e:
            raise NoSuchFile(f"initializer '{tensor_name}': cannot read '{location}': {e}") from None
        self._cache[location] = data
        return data

    def _safe_path(self, tensor_name: str, location: str) -> str:
        """Resolve ``location`` inside the model folder, refusing any escape."""
        if self.base_dir is None:
            raise InvalidArgument(
                f"initializer '{tensor_name}' is stored in external file '{location}', but "
                "the model was given as bytes: pass external_data={'" + location + "': bytes} "
                "to InferenceSession, or load the model from its path"
            )
        if not location or os.path.isabs(location) or location.startswith(("/", "\\")) or (
            len(location) > 1 and location[1] == ":"
        ):
            raise InvalidGraph(
                f"initializer '{tensor_name}': external data location '{location}' is an "
                "absolute path; only paths relative to the model's folder are allowed"
            )
        path = os.path.realpath(os.path.join(self.base_dir, location))
        if os.path.commonpath([path, self.base_dir]) != self.base_dir:
            raise InvalidGraph(
                f"initializer '{tensor_name}': external data location '{location}' "
                "escapes the model's folder; refusing to read it"
            )
        return path


def _external_entry(t: pb.TensorProto, ext: ExternalData | None) -> memoryview:
    info = {e.key: e.value for e in t.external_data}
    if "location" not in info:
        raise InvalidGraph(f"initializer '{t.name}': external data without a 'location'")
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise InvalidGraph(f"initializer '{t.name}': bad external data offset/length {info}") from None
    return (ext or ExternalData()).read(t.name, info["location"], offset, length)


def _dims(t: pb.TensorProto) -> tuple[int, ...]:
    dims = tuple(int(d) for d in t.dims)
    if any(d < 0 for d in dims):
        raise InvalidGraph(f"tensor '{t.name}': negative dimension in {list(dims)}")
    return dims


def tensor_from_proto(t: pb.TensorProto, ext: ExternalData | None = None) -> np.ndarray:
    """A writable numpy array holding the TensorProto's value."""
    if t.data_type == dtypes.UNDEFINED:
        raise InvalidGraph(f"tensor '{t.name}' has no data_type")
    np_dtype = dtypes.to_numpy(t.data_type)
    shape = _dims(t)
    count = math.prod(shape)
    check_alloc(shape, np_dtype, f"tensor '{t.name}'")

    if t.data_type == dtypes.STRING:
        if len(t.string_data) != count:
            _count_error(t, count, len(t.string_data))
        values = [s.decode("utf-8", errors="surrogateescape") for s in t.string_data]
        return np.array(values, dtype=object).reshape(shape)

    if t.data_location == pb.TensorProto.EXTERNAL:
        raw = _external_entry(t, ext)
    elif t.HasField("raw_data"):
        raw = t.raw_data
    else:
        raw = None
    if raw is not None and dtypes.is_lowprec(np_dtype):
        return _lowprec_from_bytes(t, np_dtype, shape, count, np.frombuffer(raw, np.uint8))
    if raw is not None:
        storage = np.dtype(np.uint8) if t.data_type == dtypes.BOOL else np_dtype
        need = count * storage.itemsize
        if len(raw) != need:
            raise InvalidGraph(
                f"tensor '{t.name}': shape {list(shape)} of {dtypes.type_name(t.data_type)} "
                f"needs {need} bytes of data, found {len(raw)}"
            )
        arr = np.frombuffer(raw, dtype=storage.newbyteorder("<")).astype(storage, copy=True)
        if t.data_type == dtypes.BOOL:
            arr = arr != 0
        return arr.reshape(shape)
    return _from_typed_fields(t, np_dtype, shape, count)


def _lowprec_from_bytes(t, np_dtype, shape, count, data: np.ndarray) -> np.ndarray:
    """A low-precision tensor from its little-endian bytes (``data``, uint8):
    packed two or four per byte for the sub-byte types, else one item each."""
    packed = lowprec.packed_size(np_dtype, count)
    need = packed if packed is not None else count * np_dtype.itemsize
    if data.size != need:
        layout = " (packed)" if packed is not None else ""
        raise InvalidGraph(
            f"tensor '{t.name}': shape {list(shape)} of {dtypes.type_name(t.data_type)} "
            f"needs {need} bytes of data{layout}, found {data.size}"
        )
    if packed is not None:
        return lowprec.unpack(data, np_dtype, count).reshape(shape)
    bits = data.view(dtypes.bits_dtype(np_dtype).newbyteorder("<"))
    return lowprec.tag(bits.astype(dtypes.bits_dtype(np_dtype)), np_dtype).reshape(shape)


def _count_error(t, expected, got):
    raise InvalidGraph(
        f"tensor '{t.name}': shape {list(t.dims)} holds {expected} elements, "
        f"but the proto carries {got} values"
    )


def _from_typed_fields(t, np_dtype, shape, count) -> np.ndarray:
    dt = t.data_type
    if dt in dtypes.LOWPREC:
        src = np.array(t.int32_data, dtype=np.int64)
        width = 16 if dt == dtypes.BFLOAT16 else 8
        if np.any((src < 0) | (src >= 1 << width)):
            raise InvalidGraph(
                f"tensor '{t.name}': int32_data of {dtypes.type_name(dt)} must hold "
                f"{width}-bit unsigned values"
            )
        data = src.astype(f"<u{width // 8}").view(np.uint8)
        if lowprec.packed_size(np_dtype, count) is None and src.size != count:
            _count_error(t, count, src.size)
        return _lowprec_from_bytes(t, np_dtype, shape, count, data)
    if dt in _INT32_FIELD_TYPES:
        src = np.array(t.int32_data, dtype=np.int32)
        if dt == dtypes.FLOAT16:
            src = src.astype(np.uint16).view(np.float16)
        elif dt == dtypes.BOOL:
            src = src != 0
    elif dt == dtypes.INT64:
        src = np.array(t.int64_data, dtype=np.int64)
    elif dt == dtypes.FLOAT:
        src = np.array(t.float_data, dtype=np.float32)
    elif dt == dtypes.DOUBLE:
        src = np.array(t.double_data, dtype=np.float64)
    elif dt in (dtypes.UINT32, dtypes.UINT64):
        src = np.array(t.uint64_data, dtype=np.uint64)
    elif dt == dtypes.COMPLEX64:
        src = np.array(t.float_data, dtype=np.float32).view(np.complex64)
    elif dt == dtypes.COMPLEX128:
        src = np.array(t.double_data, dtype=np.float64).view(np.complex128)
    else:  # pragma: no cover - to_numpy already rejected other types
        raise InvalidGraph(f"tensor '{t.name}': unsupported storage for type {dt}")
    if src.size != count:
        _count_error(t, count, src.size)
    return src.astype(np_dtype, copy=False).reshape(shape)


def sparse_from_proto(sp: pb.SparseTensorProto, ext: ExternalData | None = None) -> np.ndarray:
    """A dense numpy array from a SparseTensorProto (COO, linear or per-dim indices)."""
    values = tensor_from_proto(sp.values, ext)
    indices = tensor_from_proto(sp.indices, ext).astype(np.int64)
    shape = tuple(int(d) for d in sp.dims)
    check_alloc(shape, values.dtype, f"sparse tensor '{sp.values.name}'")
    dense = np.zeros(shape, dtype=values.dtype)
    size = math.prod(shape)
    if indices.ndim == 1:
        flat = indices
    elif indices.ndim == 2 and indices.shape[1] == len(shape):
        if np.any(indices < 0) or np.any(indices >= np.array(shape)):
            raise InvalidGraph(f"sparse tensor '{sp.values.name}': index out of bounds")
        # ravel_multi_index wants np.intp, which is int32 in Pyodide (wasm32).
        flat = np.ravel_multi_index(tuple(indices.T.astype(np.intp)), shape) if len(indices) else indices[:, 0]
    else:
        raise InvalidGraph(f"sparse tensor '{sp.values.name}': indices shape {indices.shape}")
    if np.any(flat < 0) or np.any(flat >= max(size, 1)) or flat.size != values.size:
        raise InvalidGraph(f"sparse tensor '{sp.values.name}': bad indices")
    dense.reshape(-1)[flat] = values.reshape(-1)
    return dense


def value_from_proto(msg, ext: ExternalData | None = None):
    """Tensor -> ndarray, Sequence -> list, Optional -> value or None, Map -> dict."""
    if isinstance(msg, pb.TensorProto):
        return tensor_from_proto(msg, ext)
    if isinstance(msg, pb.SparseTensorProto):
        return sparse_from_proto(msg, ext)
    if isinstance(msg, pb.SequenceProto):
        for field in ("tensor_values", "sparse_tensor_values", "sequence_values", "map_values", "optional_values"):
            items = getattr(msg, field)
            if len(items):
                return [value_from_proto(v, ext) for v in items]
        return []
    if isinstance(msg, pb.OptionalProto):
        for field in ("tensor_value", "sparse_tensor_value", "sequence_value", "map_value", "optional_value"):
            if msg.HasField(field):
                return value_from_proto(getattr(msg, field), ext)
        return None
    if isinstance(msg, pb.MapProto):
        keys = list(msg.keys) if len(msg.keys) else [k.decode() for k in msg.string_keys]
        values = value_from_proto(msg.values, ext)
        return dict(zip(keys, values))
    raise InvalidArgument(f"cannot convert {type(msg).__name__} to a value")


def tensor_to_proto(arr: np.ndarray, name: str = "") -> pb.TensorProto:
    """A TensorProto (raw_data, little-endian) from a numpy array."""
    arr = np.asarray(arr)
    t = pb.TensorProto(name=name, dims=arr.shape, data_type=dtypes.from_numpy(arr.dtype))
    if t.data_type == dtypes.STRING:
        t.string_data.extend(str(s).encode("utf-8") for s in arr.reshape(-1))
    elif lowprec.packed_size(arr.dtype, arr.size) is not None:
        t.raw_data = lowprec.pack(arr)
    elif dtypes.is_lowprec(arr.dtype):
        bits = lowprec.bits(arr)
        t.raw_data = bits.astype(bits.dtype.newbyteorder("<")).tobytes()
    else:
        t.raw_data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
    return t
