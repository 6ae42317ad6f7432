"""onnxruntime's IOBinding: inputs and outputs bound to a session before it runs.

All memory is host memory here, so binding is bookkeeping: bound inputs are the
arrays (or OrtValues, or raw host pointers) given, bound outputs either receive
the results in place (a pre-allocated OrtValue or buffer) or are allocated by the
run. ``synchronize_inputs``/``synchronize_outputs`` have nothing to wait for: runs
complete before they return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import Fail, InvalidArgument
from .ortvalue import OrtValue, _element_dtype, _host_device

if TYPE_CHECKING:
    from .session import InferenceSession

__all__ = ["IOBinding"]


def _host_array(buffer_ptr: int, element_type, shape) -> np.ndarray:
    """A numpy view of ``prod(shape)`` elements at host address ``buffer_ptr``."""
    import ctypes

    dtype = _element_dtype(element_type)
    if dtype.kind == "O":
        raise InvalidArgument("string tensors cannot be bound by pointer")
    shape = [int(d) for d in shape]
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if not buffer_ptr:
        raise InvalidArgument("buffer_ptr is null")
    raw = (ctypes.c_char * nbytes).from_address(int(buffer_ptr))
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


class IOBinding:
    """Inputs and outputs bound for ``InferenceSession.run_with_iobinding``."""

    def __init__(self, session: InferenceSession):
        self._session = session
        self._inputs: dict[str, Any] = {}
        self._outputs: dict[str, np.ndarray | None] = {}  # None: the run allocates it
        self._results: list[OrtValue] = []

    def _input_name(self, name: str) -> str:
        if name not in self._session._feedable_names():
            raise Fail(f"Failed to find NodeArg with name: {name} in the def list")
        return name

    # --- inputs --------------------------------------------------------------

    def bind_cpu_input(self, name: str, arr_on_cpu) -> None:
        """Bind an input to a host array (kept referenced; not copied)."""
        self._inputs[self._input_name(name)] = arr_on_cpu

    def bind_input(self, name: str, device_type, device_id, element_type, shape,
                   buffer_ptr) -> None:
        """Bind an input to ``shape`` elements of ``element_type`` at host address ``buffer_ptr``."""
        _host_device(device_type, device_id)
        self._inputs[self._input_name(name)] = _host_array(buffer_ptr, element_type, shape)

    def bind_ortvalue_input(self, name: str, ortvalue: OrtValue) -> None:
        if not isinstance(ortvalue, OrtValue):
            raise InvalidArgument(f"input '{name}': expected an OrtValue, got {type(ortvalue).__name__}")
        self._inputs[self._input_name(name)] = ortvalue

    def synchronize_inputs(self) -> None:
        """Nothing to wait for: bound inputs are host memory."""

    def clear_binding_inputs(self) -> None:
        self._inputs.clear()

    # --- outputs -------------------------------------------------------------

    def bind_output(self, name: str, device_type: str = "cpu", device_id: int = 0,
                    element_type=None, shape=None, buffer_ptr=None) -> None:
        """Bind an output: to the host (the run allocates it), or into a pre-allocated buffer."""
        _host_device(device_type, device_id)
        if buffer_ptr is None:
            self._outputs[name] = None
            return
        if element_type is None or shape is None:
            raise ValueError("`element_type` and `shape` are to be provided if pre-allocated "
                             "memory is provided")
        self._outputs[name] = _host_array(buffer_ptr, element_type, shape)

    def bind_ortvalue_output(self, name: str, ortvalue: OrtValue) -> None:
        """Bind an output into a pre-allocated tensor OrtValue (filled in place by each run)."""
        if not isinstance(ortvalue, OrtValue):
            raise InvalidArgument(f"output '{name}': expected an OrtValue, got {type(ortvalue).__name__}")
        self._outputs[name] = ortvalue._tensor()

    def synchronize_outputs(self) -> None:
        """Nothing to wait for: runs finish before returning."""

    def clear_binding_outputs(self) -> None:
        self._outputs.clear()
        self._results = []

    def get_outputs(self) -> list[OrtValue]:
        """The outputs of the last run, as OrtValues, in binding order."""
        return list(self._results)

    def get_outputs_as_ortvaluevector(self) -> list[OrtValue]:
        return list(self._results)

    def copy_outputs_to_cpu(self) -> list:
        """The outputs of the last run as numpy arrays (lists for sequences)."""
        return [v.numpy() if v.is_tensor() else v._value for v in self._results]

    # --- running (called by InferenceSession.run_with_iobinding) -------------

    def _run(self, run_options) -> None:
        if not self._outputs:
            raise InvalidArgument("IOBinding has no outputs bound; bind at least one with "
                                  "bind_output or bind_ortvalue_output")
        names = list(self._outputs)
        values = self._session.run(names, dict(self._inputs), run_options)
        results = []
        for name, value in zip(names, values):
            target = self._outputs[name]
            if target is not None:
                got = np.asarray(value)
                if list(got.shape) != list(target.shape) or got.dtype != target.dtype:
                    raise InvalidArgument(
                        f"output '{name}': the bound buffer is {target.dtype} {list(target.shape)}, "
                        f"the run produced {got.dtype} {list(got.shape)}"
                    )
                target[...] = got
                value = target
            results.append(OrtValue(value))
        self._results = results
