"""LoRA adapters in onnxruntime's ``.onnx_adapter`` format: AdapterFormat and LoraAdapter.

The file is a FlatBuffer (schema ``onnxruntime/lora/adapter_format/adapter_schema.fbs``,
identifier ``TORT``): a table Adapter {format_version, adapter_version, model_version,
parameters: [Parameter {name, dims: [int64], data_type, raw_data: [uint8]}]}. It is read
and written here by hand (no flatbuffers package in Pyodide), every offset bounds-checked.
An active adapter (``RunOptions.add_active_adapter``) feeds its parameters to the run as
inputs, replacing the model's default values of those overridable initializers.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from . import dtypes
from .errors import Fail, InvalidArgument
from .ortvalue import OrtValue

__all__ = ["AdapterFormat", "LoraAdapter"]

FORMAT_VERSION = 1
_IDENT = b"TORT"


class _Reader:
    """Bounds-checked access to a FlatBuffer."""

    def __init__(self, data: bytes, what: str):
        self.data, self.what = data, what

    def _unpack(self, fmt: str, pos: int):
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            raise InvalidArgument(f"{self.what}: truncated or corrupt adapter file (offset {pos})")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def table(self, pos: int) -> dict[int, int]:
        """Field index -> absolute position of each field present in the table at ``pos``."""
        vtable = pos - self._unpack("<i", pos)
        vsize = self._unpack("<H", vtable)
        fields = {}
        for i in range((vsize - 4) // 2):
            off = self._unpack("<H", vtable + 4 + 2 * i)
            if off:
                fields[i] = pos + off
        return fields

    def deref(self, pos: int) -> int:
        return pos + self._unpack("<I", pos)

    def vector(self, pos: int, item_size: int) -> tuple[int, int]:
        """(first element position, count) of the vector referenced at ``pos``."""
        start = self.deref(pos)
        count = self._unpack("<I", start)
        if start + 4 + count * item_size > len(self.data):
            raise InvalidArgument(f"{self.what}: a vector runs past the end of the file")
        return start + 4, count

    def scalar(self, fields: dict[int, int], index: int, fmt: str = "<i", default: int = 0):
        return self._unpack(fmt, fields[index]) if index in fields else default


def _parse(data: bytes, what: str) -> tuple[int, int, int, dict[str, OrtValue]]:
    r = _Reader(data, what)
    if data[4:8] != _IDENT:
        raise InvalidArgument(f"{what}: not an onnxruntime adapter file (no 'TORT' identifier)")
    root = r.table(r.deref(0))
    fmt, adapter, model = (r.scalar(root, i) for i in range(3))
    if fmt != FORMAT_VERSION:
        raise InvalidArgument(f"{what}: adapter format version {fmt} is not supported "
                              f"(expected {FORMAT_VERSION})")
    params: dict[str, OrtValue] = {}
    if 3 in root:
        first, count = r.vector(root[3], 4)
        for k in range(count):
            p = r.table(r.deref(first + 4 * k))
            if 0 not in p or 3 not in p:
                raise InvalidArgument(f"{what}: parameter {k} lacks a name or data")
            name_at, name_len = r.vector(p[0], 1)
            name = data[name_at:name_at + name_len].decode("utf-8", errors="replace")
            dims_at, ndims = r.vector(p[1], 8) if 1 in p else (0, 0)
            dims = [r._unpack("<q", dims_at + 8 * i) for i in range(ndims)]
            raw_at, nbytes = r.vector(p[3], 1)
            elem = r.scalar(p, 2)
            dtype = dtypes.to_numpy(elem)
            if dtype.kind == "O" or any(d < 0 for d in dims) or \
                    int(np.prod(dims)) * dtype.itemsize != nbytes:
                raise InvalidArgument(f"{what}: parameter '{name}' has {nbytes} bytes, which do not "
                                      f"hold {dtypes.type_name(elem)} {dims}")
            arr = np.frombuffer(data, dtype=dtype.newbyteorder("<") if dtype.kind != "V" else dtype,
                                count=int(np.prod(dims)), offset=raw_at).astype(dtype).reshape(dims)
            params[name] = OrtValue(arr)
    return fmt, adapter, model, params


class _Builder:
    """Writes a FlatBuffer front to back: every offset points forward, as uoffsets must."""

    def __init__(self):
        self.buf = bytearray()

    def align(self, n: int, extra: int = 0) -> None:
        """Pad so that position + ``extra`` is a multiple of ``n``."""
        self.buf += b"\0" * ((-(len(self.buf) + extra)) % n)

    def put(self, fmt: str, *values) -> int:
        pos = len(self.buf)
        self.buf += struct.pack(fmt, *values)
        return pos

    def patch_offset(self, at: int, target: int) -> None:
        struct.pack_into("<I", self.buf, at, target - at)

    def table(self, fields: list[tuple[str, object]]) -> tuple[int, list[int]]:
        """A vtable and its table of 4-byte fields ('i' ints, 'o' offsets patched later);
        returns the table's position and the position of each field."""
        self.align(4)
        vt = self.put("<HH", 4 + 2 * len(fields), 4 + 4 * len(fields))
        for i in range(len(fields)):
            self.put("<H", 4 + 4 * i)
        self.align(4)
        table = self.put("<i", len(self.buf) - vt)
        slots = [self.put("<i" if kind == "i" else "<I", value or 0) for kind, value in fields]
        return table, slots

    def vector(self, at: int, payload: bytes, count: int, align: int = 4, nul: bool = False) -> None:
        self.align(max(align, 4), 4)
        self.patch_offset(at, self.put("<I", count))
        self.buf += payload + (b"\0" if nul else b"")


def _serialize(adapter: int, model: int, params: dict[str, OrtValue]) -> bytes:
    b = _Builder()
    root_at = b.put("<I", 0)
    b.buf += _IDENT
    table, slots = b.table([("i", FORMAT_VERSION), ("i", adapter), ("i", model), ("o", None)])
    b.patch_offset(root_at, table)
    b.align(4)
    b.patch_offset(slots[3], b.put("<I", len(params)))
    entries = [b.put("<I", 0) for _ in params]
    for entry, (name, value) in zip(entries, params.items()):
        arr = value._tensor()
        p_table, p = b.table([("o", None), ("o", None), ("i", dtypes.from_numpy(arr.dtype)),
                              ("o", None)])
        b.patch_offset(entry, p_table)
        raw = name.encode("utf-8")
        b.vector(p[0], raw, len(raw), nul=True)
        b.vector(p[1], struct.pack(f"<{arr.ndim}q", *arr.shape), arr.ndim, align=8)
        data = np.ascontiguousarray(arr)
        if data.dtype.kind != "V":
            data = data.astype(data.dtype.newbyteorder("<"))
        b.vector(p[3], data.tobytes(), data.nbytes, align=8)
    return bytes(b.buf)


def _check_params(params) -> dict[str, OrtValue]:
    if not isinstance(params, dict):
        raise InvalidArgument(f"parameters must be a dict of name -> OrtValue, got {type(params).__name__}")
    for name, value in params.items():
        if not isinstance(name, str) or not isinstance(value, OrtValue) or not value.is_tensor():
            raise InvalidArgument(f"parameter {name!r}: expected a tensor OrtValue, got "
                                  f"{type(value).__name__}")
    return dict(params)


class AdapterFormat:
    """Build, read and write ``.onnx_adapter`` files (onnxruntime.AdapterFormat)."""

    def __init__(self, adapter=None):
        self._adapter_version, self._model_version = 0, 0
        self._params: dict[str, OrtValue] = {}

    @staticmethod
    def read_adapter(file_path: os.PathLike) -> AdapterFormat:
        with open(file_path, "rb") as f:
            data = f.read()
        out = AdapterFormat()
        _, out._adapter_version, out._model_version, out._params = _parse(data, str(file_path))
        return out

    def export_adapter(self, file_path: os.PathLike) -> None:
        strings = [n for n, v in self._params.items() if v._tensor().dtype.kind == "O"]
        if strings:
            raise Fail(f"export_adapter: parameter(s) {strings} are STRING tensors; adapter "
                       "parameters must be numeric")
        data = _serialize(self._adapter_version, self._model_version, self._params)
        with open(file_path, "wb") as f:
            f.write(data)

    def get_format_version(self) -> int:
        return FORMAT_VERSION

    def set_adapter_version(self, adapter_version: int) -> None:
        self._adapter_version = int(adapter_version)

    def get_adapter_version(self) -> int:
        return self._adapter_version

    def set_model_version(self, model_version: int) -> None:
        self._model_version = int(model_version)

    def get_model_version(self) -> int:
        return self._model_version

    def set_parameters(self, params: dict[str, OrtValue]) -> None:
        self._params = _check_params(params)

    def get_parameters(self) -> dict[str, OrtValue]:
        return dict(self._params)


class LoraAdapter:
    """A loaded adapter to activate per run: ``RunOptions.add_active_adapter(adapter)``."""

    def __init__(self):
        self._params: dict[str, OrtValue] = {}

    def Load(self, adapter_file_path: os.PathLike) -> None:
        with open(adapter_file_path, "rb") as f:
            self.load_from_bytes(f.read(), str(adapter_file_path))

    def load_from_bytes(self, data: bytes, what: str = "adapter bytes") -> None:
        """Load an adapter from its bytes (the browser has no file system)."""
        _, _, _, self._params = _parse(bytes(data), what)

    def feeds(self) -> dict[str, np.ndarray]:
        """The parameters as run feeds."""
        return {name: value._tensor() for name, value in self._params.items()}
