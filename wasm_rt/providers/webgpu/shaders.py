"""WGSL kernel files: found by glob, rendered per (kernel, dtype, defines).

Kernels live in ``kernels/<family>/<name>.wgsl`` next to this module and are
named ``"<family>/<name>"``. A kernel is a template: ``$T`` (element type),
``$WG`` (workgroup size) and the kernel's own ``$NAME`` placeholders, which
vary only by dtype, rank and attributes. Shapes never appear in shader text;
they travel in the uniform block, so one pipeline serves every shape.
"""

from __future__ import annotations

import functools
import string
from pathlib import Path

KERNEL_DIR = Path(__file__).parent / "kernels"
WORKGROUP_SIZE = 256

# numpy dtype name -> WGSL storage type. Booleans are stored as u32 and int64 as
# i32 on the GPU (values outside int32 are not supported there).
WGSL_TYPES = {
    "float32": "f32",
    "float16": "f16",
    "int32": "i32",
    "int64": "i32",
    "bool": "u32",
    "uint32": "u32",
}


@functools.cache
def kernel_sources() -> dict[str, str]:
    """Every kernel's template text by name (``"elementwise/unary"`` ...)."""
    found = {}
    for path in sorted(KERNEL_DIR.glob("*/*.wgsl")):
        found[f"{path.parent.name}/{path.stem}"] = path.read_text()
    return found


@functools.cache
def prelude() -> str:
    return (KERNEL_DIR / "prelude.wgsl").read_text()


def cache_key(kernel: str, dtype: str, defines: dict[str, object]) -> tuple:
    """The pipeline cache key: kernel, dtype and the rendered defines."""
    return (kernel, dtype) + tuple(sorted((k, str(v)) for k, v in defines.items()))


def render(kernel: str, dtype: str, defines: dict[str, object] | None = None) -> str:
    """The full WGSL source of ``kernel`` for element type ``dtype``."""
    sources = kernel_sources()
    if kernel not in sources:
        raise KeyError(f"no WGSL kernel '{kernel}' in {KERNEL_DIR} (have {sorted(sources)})")
    values = {"T": WGSL_TYPES[dtype], "WG": WORKGROUP_SIZE}
    values.update({k: _wgsl_value(v) for k, v in (defines or {}).items()})
    header = "enable f16;\n" if "f16" in values.values() else ""
    text = prelude() + "\n" + sources[kernel]
    try:
        return header + string.Template(text).substitute(values)
    except KeyError as e:
        raise KeyError(f"kernel '{kernel}' needs define {e} (given {sorted(values)})") from None


def _wgsl_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
