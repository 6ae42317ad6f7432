"""``onnxruntime.capi.onnxruntime_pybind11_state``: the same names as ``_pybind_state``."""

from ._pybind_state import *
from ._pybind_state import NotImplemented  # noqa: F401
