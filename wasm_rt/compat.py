"""Drop-in: make ``import onnxruntime`` give wasm_rt, for code that cannot be changed.

Inside Pyodide there is no onnxruntime; a package written for it (``import onnxruntime
as ort; ort.InferenceSession(...)``) runs unchanged after::

    import wasm_rt.compat
    wasm_rt.compat.install()

``install`` registers a module ``onnxruntime`` holding wasm_rt's public names, and the
``onnxruntime.capi`` modules packages import (``_pybind_state``,
``onnxruntime_pybind11_state`` with its exception classes,
``onnxruntime_inference_collection``), in ``sys.modules``. When installing such a package
with micropip, its dependency on onnxruntime cannot be resolved; install it with
``deps=False`` (and its other dependencies yourself), or declare the stand-in first with
``micropip.add_mock_package("onnxruntime", "1.20.0")``.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types

from .errors import Fail

__all__ = ["install", "installed", "uninstall"]

_CAPI = ("_pybind_state", "onnxruntime_pybind11_state", "onnxruntime_inference_collection")
_MARK = "__wasm_rt_compat__"


def _package(name: str, source: types.ModuleType | None = None) -> types.ModuleType:
    module = types.ModuleType(name, (source.__doc__ if source else None))
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    module.__path__ = []  # a package: its submodules come from sys.modules
    setattr(module, _MARK, True)
    return module


def installed() -> bool:
    """True when ``onnxruntime`` in this process is wasm_rt's stand-in."""
    return bool(getattr(sys.modules.get("onnxruntime"), _MARK, False))


def install(version: str | None = None, force: bool = False) -> types.ModuleType:
    """Register wasm_rt as ``onnxruntime`` (and its ``capi`` modules); returns the module.

    ``version`` sets ``onnxruntime.__version__`` for packages that check it (default:
    wasm_rt's own version). If the real onnxruntime is already imported this raises Fail,
    unless ``force`` (then the stand-in replaces it for later imports).
    """
    import wasm_rt
    from wasm_rt import capi
    from wasm_rt.capi import (
        _pybind_state,
        onnxruntime_inference_collection,
        onnxruntime_pybind11_state,
    )

    current = sys.modules.get("onnxruntime")
    if current is not None and not getattr(current, _MARK, False) and not force:
        raise Fail("the real onnxruntime is already imported; call wasm_rt.compat.install() "
                   "before anything imports onnxruntime, or pass force=True")
    ort = _package("onnxruntime", wasm_rt)
    for name in wasm_rt.__all__:
        setattr(ort, name, getattr(wasm_rt, name))
    ort.__version__ = version or wasm_rt.__version__
    capi_pkg = _package("onnxruntime.capi", capi)
    ort.capi = capi_pkg
    sys.modules["onnxruntime"] = ort
    sys.modules["onnxruntime.capi"] = capi_pkg
    for sub, module in zip(_CAPI, (_pybind_state, onnxruntime_pybind11_state,
                                   onnxruntime_inference_collection)):
        setattr(capi_pkg, sub, module)
        sys.modules[f"onnxruntime.capi.{sub}"] = module
    return ort


def uninstall() -> None:
    """Remove the stand-in from ``sys.modules`` (the real onnxruntime is not restored)."""
    if not installed():
        return
    for name in ["onnxruntime", "onnxruntime.capi", *(f"onnxruntime.capi.{s}" for s in _CAPI)]:
        sys.modules.pop(name, None)
