"""onnxruntime's value and device objects: OrtValue, SparseTensor, OrtDevice, OrtMemoryInfo.

Everything lives in host memory here (numpy arrays), so the only device is ``cpu``:
an OrtValue made from a numpy array shares its memory, as onnxruntime's does on CPU;
asking for another device (cuda, webgpu ...) fails as an onnxruntime build without
that device fails. Sequences and maps are held as Python lists and dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import numpy as np

from . import dtypes, lowprec
from .errors import Fail, InvalidArgument
from .errors import NotImplemented as NotImplementedErr

__all__ = [
    "OrtAllocatorType",
    "OrtDevice",
    "OrtDeviceMemoryType",
    "OrtDeviceVendorId",
    "OrtMemType",
    "OrtMemoryInfo",
    "OrtMemoryInfoDeviceType",
    "OrtSparseFormat",
    "OrtValue",
    "SparseTensor",
    "feed_value",
]


class OrtAllocatorType(IntEnum):
    INVALID = -1
    ORT_DEVICE_ALLOCATOR = 0
    ORT_ARENA_ALLOCATOR = 1


class OrtMemType(IntEnum):
    CPU_INPUT = -2
    CPU_OUTPUT = -1
    CPU = -1
    DEFAULT = 0


class OrtDeviceMemoryType(IntEnum):
    DEFAULT = 0
    HOST_ACCESSIBLE = 5


class OrtMemoryInfoDeviceType(IntEnum):
    CPU = 0
    GPU = 1
    FPGA = 2
    NPU = 3


class OrtSparseFormat(IntEnum):
    ORT_SPARSE_UNDEFINED = 0
    ORT_SPARSE_COO = 1
    ORT_SPARSE_CSRC = 2
    ORT_SPARSE_BLOCK_SPARSE = 4


class OrtDeviceVendorId(IntEnum):
    """PCI vendor ids, as onnxruntime's OrtDevice::VendorIds."""

    NONE = 0x0000
    AMD = 0x1002
    NVIDIA = 0x10DE
    ARM = 0x13B5
    MICROSOFT = 0x1414
    HUAWEI = 0x19E5
    QUALCOMM = 0x5143
    INTEL = 0x8086


# onnxruntime's OrtDevice::DeviceType codes and the vendor each device name implies.
_DEVICE_TYPES = {"cpu": 0, "cuda": 1, "gpu": 1, "webgpu": 1, "dml": 1, "npu": 3, "cann": 3}
_DEVICE_VENDORS = {"cuda": OrtDeviceVendorId.NVIDIA, "dml": OrtDeviceVendorId.MICROSOFT,
                   "cann": OrtDeviceVendorId.HUAWEI, "webgpu": OrtDeviceVendorId.NONE}


class OrtDevice:
    """A device descriptor (type, memory type, vendor, id), as ``onnxruntime.OrtDevice``."""

    def __init__(self, device_type: int, mem_type: int = 0, vendor_id: int = 0, device_id: int = 0,
                 name: str = "cpu"):
        self._type, self._mem, self._vendor, self._id = device_type, mem_type, vendor_id, device_id
        self._name = name

    @staticmethod
    def make(ort_device_name: str, device_id: int, vendor_id: int = -1) -> OrtDevice:
        name = str(ort_device_name).lower()
        if name not in _DEVICE_TYPES:
            raise Fail(f"Unsupported device type: {ort_device_name}")
        vendor = int(vendor_id) if vendor_id >= 0 else int(_DEVICE_VENDORS.get(name, 0))
        return OrtDevice(_DEVICE_TYPES[name], 0, vendor, int(device_id), name)

    @staticmethod
    def cpu() -> int:
        return 0

    @staticmethod
    def default_memory() -> int:
        return 0

    def device_id(self) -> int:
        return self._id

    def device_type(self) -> int:
        return self._type

    def device_vendor_id(self) -> int:
        return self._vendor

    def device_mem_type(self) -> int:
        return self._mem

    def __repr__(self) -> str:
        return f"OrtDevice({self._name}, id={self._id})"


def _host_device(device_type: str, device_id: int = 0, vendor_id: int = -1) -> OrtDevice:
    """The device for a new value; only the host (cpu) can hold data here."""
    device = OrtDevice.make(device_type, device_id, vendor_id)
    if device._name != "cpu":
        raise Fail(
            f"Can't allocate memory on the device '{device_type}': wasm_rt keeps every value in "
            "host memory (numpy); use device_type='cpu'"
        )
    return device


class OrtMemoryInfo:
    """Where a value lives: ``OrtMemoryInfo(name, allocator_type, device_id, mem_type)``."""

    def __init__(self, name: str, allocator_type: int, device_id: int, mem_type: int):
        self.name = str(name)
        self.allocator_type = OrtAllocatorType(int(allocator_type))
        self.device_id = int(device_id)
        self.mem_type = OrtMemType(int(mem_type))
        self.device_mem_type = OrtDeviceMemoryType.DEFAULT
        self.device_vendor_id = 0

    @staticmethod
    def create_v2(name: str, device_type: int, vendor_id: int, device_id: int, mem_type: int,
                  alignment: int, allocator_type: int) -> OrtMemoryInfo:
        info = OrtMemoryInfo(name, allocator_type, device_id, OrtMemType.DEFAULT)
        info.device_mem_type = OrtDeviceMemoryType(int(mem_type))
        info.device_vendor_id = int(vendor_id)
        info.device_type = OrtMemoryInfoDeviceType(int(device_type))
        info.alignment = int(alignment)
        return info

    def __repr__(self) -> str:
        return (f"OrtMemoryInfo(name='{self.name}', id={self.device_id}, "
                f"mem_type={self.mem_type.name}, alloc_type={self.allocator_type.name})")


def cpu_memory_info() -> OrtMemoryInfo:
    """The memory info of every session input and output here (onnxruntime's CPU arena)."""
    return OrtMemoryInfo("Cpu", OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, OrtMemType.DEFAULT)


def _element_dtype(element_type) -> np.dtype:
    """numpy dtype from a numpy type or an ONNX TensorProto data type code."""
    if isinstance(element_type, (int, np.integer)) and not isinstance(element_type, bool):
        return dtypes.to_numpy(int(element_type))
    dtype = np.dtype(element_type)
    dtypes.from_numpy(dtype)  # raises for dtypes without an ONNX type
    return dtype


def _type_string(value: Any) -> str:
    """onnxruntime's type string of a value: 'tensor(float)', 'seq(tensor(int64))' ..."""
    if isinstance(value, SparseTensor):
        return value.data_type()
    if isinstance(value, np.ndarray):
        return dtypes.numpy_type_string(value.dtype)
    if isinstance(value, list):
        inner = _type_string(value[0]) if value else "tensor(float)"
        return f"seq({inner})"
    if isinstance(value, dict):
        key = next(iter(value), "")
        key_type = "string" if isinstance(key, str) else "int64"
        inner = _type_string(np.asarray(next(iter(value.values()), 0.0)))
        return f"map({key_type},{inner})"
    return "optional(unknown)"


class OrtValue:
    """A value (tensor, sparse tensor, sequence, map or absent optional) held for a session.

    Built with the factories, as in onnxruntime: ``OrtValue.ortvalue_from_numpy(arr)``
    (shares ``arr``'s memory), ``ortvalue_from_shape_and_type(shape, np.float32)``,
    ``ortvalue_from_numpy_with_onnx_type(arr, onnx_type)`` (reinterprets same-size bits),
    ``ort_value_from_sparse_tensor(st)``; sessions return them from ``run_with_ort_values``
    and ``IOBinding.get_outputs``.
    """

    def __init__(self, value: Any):
        self._value = value

    # --- factories -----------------------------------------------------------

    @classmethod
    def ortvalue_from_numpy(cls, numpy_obj: np.ndarray, /, device_type: str = "cpu",
                            device_id: int = 0, vendor_id: int = -1) -> OrtValue:
        _host_device(device_type, device_id, vendor_id)
        arr = lowprec.internal_value(np.asarray(numpy_obj))
        if arr.dtype.kind in "USO":
            raise NotImplementedErr(
                "Creation of OrtValues is currently only supported from non-string numpy arrays"
            )
        dtypes.from_numpy(arr.dtype)
        # C-contiguous arrays are shared, as onnxruntime maps a CPU array's buffer.
        return cls(np.ascontiguousarray(arr))

    @classmethod
    def ortvalue_from_numpy_with_onnx_type(cls, data: np.ndarray, /,
                                           onnx_element_type: int) -> OrtValue:
        arr = np.ascontiguousarray(data)
        target = dtypes.to_numpy(int(onnx_element_type))
        if target.kind == "O" or arr.dtype.kind in "USO":
            raise NotImplementedErr("ortvalue_from_numpy_with_onnx_type takes numeric data only")
        if arr.dtype.itemsize != target.itemsize:
            raise InvalidArgument(
                f"ortvalue_from_numpy_with_onnx_type: numpy {arr.dtype} ({arr.dtype.itemsize} "
                f"bytes) cannot be reinterpreted as {dtypes.type_name(int(onnx_element_type))} "
                f"({target.itemsize} bytes)"
            )
        return cls(arr.view(target))

    @classmethod
    def ortvalue_from_shape_and_type(cls, shape: Sequence[int], element_type,
                                     device_type: str = "cpu", device_id: int = 0,
                                     vendor_id: int = -1, memory_info=None) -> OrtValue:
        if memory_info is None:
            _host_device(device_type, device_id, vendor_id)
        dtype = _element_dtype(element_type)
        if dtype.kind == "O":
            return cls(np.full([int(d) for d in shape], "", dtype=object))
        return cls(np.zeros([int(d) for d in shape], dtype=dtype))

    @classmethod
    def ort_value_from_sparse_tensor(cls, sparse_tensor: SparseTensor) -> OrtValue:
        if not isinstance(sparse_tensor, SparseTensor):
            raise InvalidArgument(f"expected a SparseTensor, got {type(sparse_tensor).__name__}")
        return cls(sparse_tensor)

    @classmethod
    def from_dlpack(cls, data, /) -> OrtValue:
        """An OrtValue sharing memory with a DLPack producer (numpy, torch on CPU ...)."""
        if isinstance(data, OrtValue):
            return cls(data._tensor())
        try:
            return cls(np.from_dlpack(data))
        except (TypeError, BufferError, RuntimeError) as e:
            raise InvalidArgument(f"from_dlpack: {e}") from None

    # --- queries -------------------------------------------------------------

    def _tensor(self) -> np.ndarray:
        if not isinstance(self._value, np.ndarray):
            raise Fail(f"the OrtValue holds {self.data_type()}, not a tensor")
        return self._value

    def data_ptr(self) -> int:
        return int(self._tensor().__array_interface__["data"][0])

    def device_name(self) -> str:
        return "cpu"

    def shape(self) -> list[int]:
        if isinstance(self._value, SparseTensor):
            return self._value.dense_shape()
        return list(self._tensor().shape)

    def data_type(self) -> str:
        return _type_string(self._value)

    def element_type(self) -> int:
        if isinstance(self._value, SparseTensor):
            return dtypes.from_numpy(self._value._values.dtype)
        return dtypes.from_numpy(self._tensor().dtype)

    def tensor_size_in_bytes(self) -> int:
        arr = self._tensor()
        if arr.dtype.kind == "O":
            return arr.size * 32  # onnxruntime counts sizeof(std::string) per element
        return int(arr.nbytes)

    def has_value(self) -> bool:
        return self._value is not None

    def is_tensor(self) -> bool:
        return isinstance(self._value, np.ndarray)

    def is_sparse_tensor(self) -> bool:
        return isinstance(self._value, SparseTensor)

    def is_tensor_sequence(self) -> bool:
        return isinstance(self._value, list)

    def as_sparse_tensor(self) -> SparseTensor:
        if not isinstance(self._value, SparseTensor):
            raise Fail(f"the OrtValue holds {self.data_type()}, not a sparse tensor")
        return self._value

    def numpy(self) -> np.ndarray:
        """The tensor as a numpy array sharing this value's memory."""
        return lowprec.public_value(self._tensor().view())

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        arr = self.numpy()
        if copy is not None:
            return np.array(arr, dtype=dtype, copy=copy)
        return arr if dtype is None else np.asarray(arr, dtype=dtype)

    def __dlpack__(self, *, stream=None):
        return self._tensor().__dlpack__(stream=stream)

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU, device 0

    def update_inplace(self, data) -> None:
        """Copy ``data`` (numpy array or OrtValue of the same type and size) into this value."""
        src = data._tensor() if isinstance(data, OrtValue) else data
        if not isinstance(src, np.ndarray):
            raise TypeError("data must be a numpy.ndarray or an OrtValue.")
        dst = self._tensor()
        src = lowprec.internal_value(src)
        if src.dtype != dst.dtype or src.size != dst.size:
            raise InvalidArgument(
                f"update_inplace: the source ({src.dtype}, {src.size} elements) must match the "
                f"OrtValue ({dst.dtype}, {dst.size} elements)"
            )
        dst.reshape(-1)[...] = src.reshape(-1)

    def __repr__(self) -> str:
        shape = f", shape={self.shape()}" if self.is_tensor() or self.is_sparse_tensor() else ""
        return f"OrtValue({self.data_type()}{shape}, device=cpu)"


def _readonly(arr: np.ndarray) -> np.ndarray:
    view = arr.view()
    view.flags.writeable = False
    return view


def _int64_vector(x, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype != np.int64:
        raise InvalidArgument(f"{what} must be a numpy int64 array, got {arr.dtype}")
    return np.ascontiguousarray(arr)


class _CooView:
    def __init__(self, indices: np.ndarray):
        self._indices = indices

    def indices(self) -> np.ndarray:
        return _readonly(self._indices)


class _CsrView:
    def __init__(self, inner: np.ndarray, outer: np.ndarray):
        self._inner, self._outer = inner, outer

    def inner(self) -> np.ndarray:
        return _readonly(self._inner)

    def outer(self) -> np.ndarray:
        return _readonly(self._outer)


class SparseTensor:
    """A sparse tensor in COO or CSR(C) format on the host, as ``onnxruntime.SparseTensor``."""

    def __init__(self, fmt: OrtSparseFormat, dense_shape, values: np.ndarray, *indices):
        self._format = fmt
        self._shape = [int(d) for d in dense_shape]
        self._values = values
        self._indices = indices

    @classmethod
    def sparse_coo_from_numpy(cls, dense_shape, values: np.ndarray, coo_indices: np.ndarray,
                              ort_device: OrtDevice) -> SparseTensor:
        values = cls._check_values(values, ort_device)
        shape = [int(d) for d in np.asarray(dense_shape).reshape(-1)]
        idx = _int64_vector(coo_indices, "coo_indices")
        nnz, size = values.shape[0], int(np.prod(shape))
        if idx.ndim == 1 and idx.size == nnz:
            bad = idx[(idx < 0) | (idx >= size)]
        elif idx.size == 2 * nnz and len(shape) == 2:
            pairs = idx.reshape(nnz, 2)
            bad = pairs[(pairs < 0).any(1) | (pairs >= np.array(shape)).any(1)]
        else:
            raise InvalidArgument(
                f"COO indices: expected {nnz} linear indices or {nnz} coordinate pairs of a 2-D "
                f"shape, got {idx.size} values for dense shape {shape}"
            )
        if bad.size:
            raise InvalidArgument(f"COO indices {bad.tolist()[:5]} lie outside dense shape {shape}")
        return cls(OrtSparseFormat.ORT_SPARSE_COO, shape, values, idx)

    @classmethod
    def sparse_csr_from_numpy(cls, dense_shape, values: np.ndarray, inner_indices: np.ndarray,
                              outer_indices: np.ndarray, ort_device: OrtDevice) -> SparseTensor:
        values = cls._check_values(values, ort_device)
        shape = [int(d) for d in np.asarray(dense_shape).reshape(-1)]
        inner = _int64_vector(inner_indices, "inner_indices").reshape(-1)
        outer = _int64_vector(outer_indices, "outer_indices").reshape(-1)
        if len(shape) != 2:
            raise InvalidArgument(f"CSR needs a 2-D dense shape, got {shape}")
        if inner.size != values.shape[0] or outer.size != shape[0] + 1:
            raise InvalidArgument(
                f"CSR: expected {values.shape[0]} inner indices and {shape[0] + 1} outer indices, "
                f"got {inner.size} and {outer.size}"
            )
        if (np.diff(outer) < 0).any() or outer[0] != 0 or outer[-1] != inner.size:
            raise InvalidArgument(f"CSR outer indices {outer.tolist()} are not a valid row index")
        if inner.size and (inner.min() < 0 or inner.max() >= shape[1]):
            raise InvalidArgument(f"CSR inner indices lie outside {shape[1]} columns")
        return cls(OrtSparseFormat.ORT_SPARSE_CSRC, shape, values, inner, outer)

    @staticmethod
    def _check_values(values, ort_device: OrtDevice) -> np.ndarray:
        if not isinstance(ort_device, OrtDevice) or ort_device._name != "cpu":
            raise Fail("wasm_rt holds sparse tensors on the cpu device only")
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise InvalidArgument(f"sparse values must be 1-D, got shape {list(arr.shape)}")
        if arr.dtype.kind in "US":
            arr = arr.astype(object)  # strings are copied, as onnxruntime copies them
        dtypes.from_numpy(arr.dtype)
        return np.ascontiguousarray(arr)

    def values(self) -> np.ndarray:
        if self._values.dtype.kind == "O":
            return self._values.copy()
        return _readonly(self._values)

    def as_coo_view(self) -> _CooView:
        if self._format != OrtSparseFormat.ORT_SPARSE_COO:
            raise Fail("This sparse tensor does not contain COO format")
        return _CooView(self._indices[0])

    def as_csrc_view(self) -> _CsrView:
        if self._format != OrtSparseFormat.ORT_SPARSE_CSRC:
            raise Fail("This sparse tensor does not contain CSR(C) format")
        return _CsrView(*self._indices)

    def as_blocksparse_view(self):
        raise Fail("This sparse tensor does not contain BlockSparse format")

    def to_cuda(self, ort_device: OrtDevice):
        raise Fail("Cannot copy a sparse tensor to CUDA: wasm_rt has no CUDA device")

    def format(self) -> OrtSparseFormat:
        return self._format

    def dense_shape(self) -> list[int]:
        return list(self._shape)

    def data_type(self) -> str:
        return f"sparse_tensor({dtypes.type_name(dtypes.from_numpy(self._values.dtype))})"

    def device_name(self) -> str:
        return "cpu"

    def to_dense(self) -> np.ndarray:
        """The dense numpy array (what a session computes with)."""
        dense = np.zeros(int(np.prod(self._shape)), dtype=self._values.dtype)
        if self._values.dtype.kind == "O":
            dense[:] = ""
        if self._format == OrtSparseFormat.ORT_SPARSE_COO:
            idx = self._indices[0]
            if idx.ndim == 1 and idx.size == self._values.size:
                dense[idx] = self._values
            else:
                pairs = idx.reshape(-1, 2)
                dense[pairs[:, 0] * self._shape[1] + pairs[:, 1]] = self._values
        else:
            inner, outer = self._indices
            rows = np.repeat(np.arange(self._shape[0]), np.diff(outer))
            dense[rows * self._shape[1] + inner] = self._values
        return dense.reshape(self._shape)


def feed_value(value: Any, elem_type: int | None, kind: str) -> Any:
    """A feed as the runtime takes it, converted as onnxruntime converts feeds.

    OrtValues give their content (sparse tensors densified); Python lists, tuples and
    scalars for a tensor input become arrays of the declared element type (onnxruntime
    builds its tensor in the declared type); numpy ``void`` arrays for a string input
    are decoded as UTF-8, as onnxruntime reads them. numpy arrays are never cast.
    """
    if isinstance(value, OrtValue):
        value = value._value
    if isinstance(value, SparseTensor):
        return value.to_dense()
    if kind != "tensor":
        return value
    declared = dtypes.to_numpy(elem_type) if elem_type and elem_type != dtypes.UNDEFINED else None
    if isinstance(value, (list, tuple, int, float, bool)) and not isinstance(value, np.generic):
        if declared is None or dtypes.is_lowprec(declared):
            return np.asarray(value)
        try:
            return np.array(value, dtype=declared)
        except (ValueError, TypeError, OverflowError) as e:
            raise InvalidArgument(
                f"cannot convert the given {type(value).__name__} to "
                f"tensor({dtypes.type_name(elem_type)}): {e}"
            ) from None
    if (isinstance(value, np.ndarray) and value.dtype.kind == "V" and value.dtype.names is None
            and elem_type == dtypes.STRING):
        flat = [bytes(v).decode("utf-8") for v in value.reshape(-1)]
        return np.array(flat, dtype=object).reshape(value.shape)
    return value
