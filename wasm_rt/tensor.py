"""Conversion of ONNX TensorProto (and the sequence/optional/map containers)
into numpy values, including tensors stored as external data.

A model is untrusted input: every size is checked against the data actually
present and against the memory limit before anything is allocated, and
external files are only read from inside the model's folder.
"""

from __future__ import annotations

import math
import os
import stat
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


def short(value, limit: int = 40) -> str:
    """``value`` as text for a message, cut to ``limit`` characters (a hostile model
    can put a 5,000-digit number where an offset belongs)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class ExternalData:
    """Where external tensor bytes come from: the model's folder or a name->bytes map.

    In the browser there is no file system, so callers pass ``mapping``
    (location -> bytes) instead of (or besides) ``base_dir``.  Only the bytes a
    tensor needs are read, after checking them against the file's size and the
    memory limit.
    """

    def __init__(self, base_dir: str | None = None, mapping: Mapping[str, bytes] | None = None):
        self.base_dir = os.path.realpath(base_dir) if base_dir else None
        if mapping is not None and not isinstance(mapping, Mapping):
            raise InvalidArgument(
                "external_data must be a dict of location -> bytes, "
                f"got {type(mapping).__name__}"
            )
        self.mapping: dict[str, memoryview] = {}
        for key, value in (mapping or {}).items():
            if not isinstance(key, str) or not isinstance(value, (bytes, bytearray, memoryview)):
                raise InvalidArgument(
                    "external_data must map location (str) -> bytes, got "
                    f"{type(key).__name__} -> {type(value).__name__} for {short(key)}"
                )
            self.mapping[key] = memoryview(value).cast("B")

    def read(self, tensor_name: str, location: str, offset: int, length: int | None) -> memoryview:
        if location in self.mapping:
            data = self.mapping[location]
            start, stop = self._span(tensor_name, location, len(data), offset, length)
            return data[start:stop]
        path = self._safe_path(tensor_name, location)
        return self._read_file(tensor_name, location, path, offset, length)

    def _span(self, tensor_name, location, size: int, offset: int, length: int | None):
        """[offset, end) after checking it lies in a ``size``-byte file and fits the limit."""
        if offset > size:
            raise InvalidGraph(
                f"initializer '{tensor_name}': external data offset {short(str(offset))} is "
                f"past the end of '{location}' ({size} bytes)"
            )
        end = size if length is None else offset + length
        if end > size:
            raise InvalidGraph(
                f"initializer '{tensor_name}': external data [{offset}, {short(str(end))}) "
                f"runs past the end of '{location}' ({size} bytes)"
            )
        check_alloc((end - offset,), np.uint8, f"initializer '{tensor_name}' (external data)")
        return offset, end

    def _read_file(self, tensor_name, location, path, offset, length) -> memoryview:
        def no_file(why: str):
            return NoSuchFile(f"initializer '{tensor_name}': cannot read external data file "
                              f"'{location}' in the model's folder {self.base_dir}: {why}")

        try:
            # A FIFO or device would block or never end: only regular files are read.
            # O_NONBLOCK keeps even the open of a FIFO swapped in after this check from
            # blocking; fstat then checks the file actually opened.
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise InvalidGraph(f"initializer '{tensor_name}': external data location "
                                   f"'{location}' is not a regular file")
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise no_file("not found") from None
        except OSError as e:
            raise no_file(e.strerror or str(e)) from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise InvalidGraph(f"initializer '{tensor_name}': external data location "
                                   f"'{location}' is not a regular file")
            start, stop = self._span(tensor_name, location, info.st_size, offset, length)
            try:
                f.seek(start)
                data = f.read(stop - start)
            except OSError as e:
                raise no_file(e.strerror or str(e)) from None
        if len(data) != stop - start:
            raise InvalidGraph(f"initializer '{tensor_name}': external data file '{location}' "
                               f"ended after {len(data)} of {stop - start} bytes")
        return memoryview(data)

    def _safe_path(self, tensor_name: str, location: str) -> str:
        """Resolve ``location`` inside the model folder, refusing any escape."""
        if not location:
            raise InvalidGraph(f"initializer '{tensor_name}': external data location is empty")
        if "\0" in location:
            raise InvalidGraph(
                f"initializer '{tensor_name}': external data location {short(location)!r} "
                "contains a NUL character"
            )
        if self.base_dir is None:
            raise InvalidArgument(
                f"initializer '{tensor_name}' is stored in external file '{location}', but "
                "the model was given as bytes: pass external_data={'" + location + "': bytes} "
                "to InferenceSession, or load the model from its path"
            )
        if os.path.isabs(location) or location.startswith(("/", "\\")) or (
            len(location) > 1 and location[1] == ":"
        ):
            raise InvalidGraph(
                f"initializer '{tensor_name}': external data location '{location}' is an "
                "absolute path; only paths relative to the model's folder are allowed"
            )
        # realpath resolves symlinks, so one pointing outside the folder is refused too.
        path = os.path.realpath(os.path.join(self.base_dir, location))
        if os.path.commonpath([path, self.base_dir]) != self.base_dir:
            raise InvalidGraph(
                f"initializer '{tensor_name}': external data location '{location}' "
                "escapes the model's folder; refusing to read it"
            )
        return path


def _external_int(t: pb.TensorProto, key: str, text: str) -> int:
    # Decimal digits only (int() would also take "+1", " 1", "1_0"); 20 digits hold any
    # 64-bit offset, and more would only make int() slow or refuse.
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        raise InvalidGraph(
            f"initializer '{t.name}': external data '{key}' must be a non-negative "
            f"integer, got {short(text)!r}"
        )
    return int(text)


def _external_entry(t: pb.TensorProto, ext: ExternalData | None) -> memoryview:
    info: dict[str, str] = {}
    for e in t.external_data:
        # proto2 hands back bytes for strings that are not UTF-8.
        if not isinstance(e.key, str) or not isinstance(e.value, str):
            raise InvalidGraph(
                f"initializer '{t.name}': external data entry {short(e.key)} = "
                f"{short(e.value)} is not UTF-8 text"
            )
        info[e.key] = e.value
    if "location" not in info:
        raise InvalidGraph(f"initializer '{t.name}': external data without a 'location'")
    offset = _external_int(t, "offset", info["offset"]) if "offset" in info else 0
    length = _external_int(t, "length", info["length"]) if "length" in info else None
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
    elif dt in (dtypes.COMPLEX64, dtypes.COMPLEX128):
        # Complex values are stored as (real, imaginary) pairs of floats.
        parts = t.float_data if dt == dtypes.COMPLEX64 else t.double_data
        if len(parts) != 2 * count:
            raise InvalidGraph(
                f"tensor '{t.name}': shape {list(shape)} of {dtypes.type_name(dt)} needs "
                f"{2 * count} floats (real, imaginary pairs), the proto carries {len(parts)}"
            )
        src = np.array(parts, dtype=np.float32 if dt == dtypes.COMPLEX64 else np.float64)
        src = src.view(np_dtype)
    else:  # pragma: no cover - to_numpy already rejected other types
        raise InvalidGraph(f"tensor '{t.name}': unsupported storage for type {dt}")
    if src.size != count:
        _count_error(t, count, src.size)
    return src.astype(np_dtype, copy=False).reshape(shape)


def sparse_from_proto(sp: pb.SparseTensorProto, ext: ExternalData | None = None) -> np.ndarray:
    """A dense numpy array from a SparseTensorProto (COO, linear or per-dim indices).

    The IR spec requires [NNZ] linear or [NNZ, rank] indices in ascending order
    without duplicates; anything else is refused, naming the offending index.
    """
    name = sp.values.name
    values = tensor_from_proto(sp.values, ext).reshape(-1)
    indices = tensor_from_proto(sp.indices, ext)
    shape = tuple(int(d) for d in sp.dims)
    if any(d < 0 for d in shape):
        raise InvalidGraph(f"sparse tensor '{name}': negative dimension in {list(shape)}")
    check_alloc(shape, values.dtype, f"sparse tensor '{name}'")
    nnz, size = values.size, math.prod(shape)
    where = f"sparse tensor '{name}' (dense shape {list(shape)}, {nnz} values)"
    if indices.dtype.kind not in "iu":
        raise InvalidGraph(f"{where}: indices must be integers, got {indices.dtype}")
    indices = indices.astype(np.int64)
    if indices.ndim == 2 and indices.shape == (nnz, len(shape)):
        bad = np.nonzero(np.any((indices < 0) | (indices >= np.array(shape, np.int64)), axis=1))[0]
        if bad.size:
            raise InvalidGraph(f"{where}: index {int(bad[0])} is {indices[bad[0]].tolist()}, "
                               "out of range of the dense shape")
        # Row-major linear positions; int64 arithmetic, as np.intp is int32 in Pyodide.
        strides = np.cumprod((shape[1:] + (1,))[::-1], dtype=np.int64)[::-1]
        flat = indices @ strides if nnz else np.zeros(0, np.int64)
    elif indices.ndim == 1 and indices.size == nnz:
        flat = indices
        bad = np.nonzero((flat < 0) | (flat >= size))[0]
        if bad.size:
            raise InvalidGraph(f"{where}: linear index {int(bad[0])} is {int(flat[bad[0]])}, "
                               f"out of range [0, {size})")
    else:
        raise InvalidGraph(f"{where}: indices have shape {list(indices.shape)}, expected "
                           f"[{nnz}] (linear) or [{nnz}, {len(shape)}] (one column per dim)")
    step = np.diff(flat)
    bad = np.nonzero(step <= 0)[0]
    if bad.size:
        i = int(bad[0]) + 1
        why = "duplicates index" if step[bad[0]] == 0 else "is not after index"
        raise InvalidGraph(f"{where}: index {i} {why} {i - 1} (position {int(flat[i])} after "
                           f"{int(flat[i - 1])}); indices must be sorted and unique")
    dense = np.zeros(shape, dtype=values.dtype)
    dense.reshape(-1)[flat.astype(np.intp)] = values
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
