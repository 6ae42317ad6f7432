"""wasm_rt/native: the committed gemm.wasm, its build, and the desktop path.

The kernel itself runs only inside Pyodide; tests/browser/test_native_gemm_browser.py
checks its numbers there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from wasm_rt import native

REPO = Path(__file__).resolve().parents[1]
WASM = REPO / "wasm_rt" / "native" / "gemm.wasm"
IN_CI = os.environ.get("CI", "").lower() == "true"
EXPORTS = {
    "wasm_rt_sgemm",
    "wasm_rt_sgemm_batched",
    "wasm_rt_gemm_work_floats",
    "wasm_rt_gemm_abi",
    "wasm_rt_qgemm",
    "wasm_rt_matmul_nbits",
}
# What a freestanding side module may import: the main module's memory and
# the dynamic-linking globals. Anything else (memset, malloc...) is libc.
ALLOWED_IMPORTS = {"memory", "__stack_pointer", "__memory_base", "__table_base"}


def _leb(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _name(data: bytes, i: int) -> tuple[str, int]:
    n, i = _leb(data, i)
    return data[i : i + n].decode(), i + n


def wasm_summary(data: bytes) -> dict:
    """Custom section names, import names and export names of a wasm module."""
    assert data[:8] == b"\0asm\1\0\0\0", "not a wasm module"
    out = {"custom": [], "imports": [], "exports": []}
    i = 8
    while i < len(data):
        sid = data[i]
        size, i = _leb(data, i + 1)
        body, i = data[i : i + size], i + size
        if sid == 0:
            out["custom"].append(_name(body, 0)[0])
        elif sid == 2:
            count, j = _leb(body, 0)
            for _ in range(count):
                _, j = _name(body, j)
                name, j = _name(body, j)
                kind, j = body[j], j + 1
                out["imports"].append(name)
                if kind == 0:  # function: type index
                    _, j = _leb(body, j)
                elif kind == 1:  # table: reftype, limits
                    j += 1
                    flags, j = body[j], j + 1
                    _, j = _leb(body, j)
                    if flags & 1:
                        _, j = _leb(body, j)
                elif kind == 2:  # memory: limits
                    flags, j = body[j], j + 1
                    _, j = _leb(body, j)
                    if flags & 1:
                        _, j = _leb(body, j)
                else:  # global: valtype, mutability
                    j += 2
        elif sid == 7:
            count, j = _leb(body, 0)
            for _ in range(count):
                name, j = _name(body, j)
                _, j = _leb(body, j + 1)
                out["exports"].append(name)
    return out


def test_gemm_wasm_is_a_freestanding_side_module():
    summary = wasm_summary(WASM.read_bytes())
    # dylink.0 is what makes ctypes.CDLL (Emscripten's dlopen) accept it.
    assert "dylink.0" in summary["custom"]
    assert EXPORTS <= set(summary["exports"])
    assert set(summary["imports"]) <= ALLOWED_IMPORTS, summary["imports"]
    # Packing buffers come from the caller: no megabytes of static zeros
    # (the float32 and quantized kernels together are about 67 KB of code).
    assert WASM.stat().st_size < 96 * 1024


def test_gemm_wasm_ships_in_the_package_data():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "native/gemm.wasm" in config["tool"]["setuptools"]["package-data"]["wasm_rt"]


def test_gemm_wasm_is_in_the_site_wheel(tmp_path):
    from wasm_rt.site.wheel import make_wheel

    with zipfile.ZipFile(make_wheel(tmp_path)) as zf:
        assert zf.read("wasm_rt/native/gemm.wasm") == WASM.read_bytes()


def _clang_or_skip() -> None:
    missing = [t for t in ("clang", "wasm-ld") if shutil.which(t) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed (apt-get install -y clang lld)"
        if IN_CI:
            pytest.fail(f"{reason}; CI must rebuild gemm.wasm", pytrace=False)
        pytest.skip(reason)


def test_build_script_reproduces_the_committed_wasm(tmp_path):
    _clang_or_skip()
    subprocess.run(
        ["bash", str(REPO / "scripts" / "build_native.sh"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    built = (tmp_path / "gemm.wasm").read_bytes()
    assert built == WASM.read_bytes(), (
        "scripts/build_native.sh builds a different gemm.wasm than the committed "
        "one: rebuild and commit it (or check the clang version: committed with "
        "Debian clang 14)"
    )


def test_desktop_uses_numpy():
    status = native.status()
    assert not status["native"] and "not in Pyodide" in status["reason"]
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 5), dtype=np.float32)
    b = rng.standard_normal((5, 2), dtype=np.float32)
    np.testing.assert_array_equal(native.matmul(a, b), np.matmul(a, b))


def _qgemm(a_dtype=np.uint8, a_zp=0, k_b=3, b_zp=0):
    a, b = np.zeros((2, 3), a_dtype), np.zeros((k_b, 2), np.uint8)
    return native.qgemm_i32(a, a_zp, b, b_zp)


def _nbits(a_dtype=np.float32, b_bytes=24, n_scales=3, zp=None, bits=4, block=16):
    a = np.zeros((1, 40), a_dtype)
    b, scales = np.zeros(b_bytes, np.uint8), np.ones(n_scales, np.float32)
    return native.matmul_nbits(
        a, b, scales, zp, bits=bits, block_size=block, k=40, n=1
    )


def test_desktop_quantized_products_return_none():
    # None tells the MatMulInteger / MatMulNBits kernels to use numpy.
    assert _qgemm(b_zp=np.zeros(2, np.int64)) is None
    assert _nbits(zp=np.zeros(2, np.uint8)) is None


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: _qgemm(k_b=4), "inner dimensions differ"),
        (lambda: _qgemm(a_dtype=np.int32), "uint8/int8"),
        (lambda: _qgemm(a_dtype=np.int8, a_zp=128), "range of int8 [-128, 127]"),
        (lambda: _qgemm(b_zp=0.5), "integer zero point"),
        (lambda: _qgemm(b_zp=np.zeros(3, np.uint8)), "one value or shape (2,)"),
        (lambda: _nbits(b_bytes=20), "b_packed of uint8 with 24 values"),
        (lambda: _nbits(n_scales=2), "scales of float32 with 3 values"),
        (lambda: _nbits(zp=np.zeros(1, np.uint8)), "zero_points of uint8 with 2"),
        (lambda: _nbits(a_dtype=np.float64), "float32 A of shape [M, 40]"),
        (lambda: _nbits(block=24), "power-of-two block_size"),
        (lambda: _nbits(bits=2), "bits 4 or 8"),
    ],
)
def test_quantized_wrappers_validate_their_inputs(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_quantized_outputs_are_checked_against_the_memory_limit():
    from wasm_rt.errors import MemoryLimitError
    from wasm_rt.limits import memory_limit

    a = np.zeros((1000, 1), np.uint8)
    with memory_limit(1000), pytest.raises(MemoryLimitError, match="qgemm_i32"):
        native.qgemm_i32(a, 0, np.zeros((1, 1000), np.uint8), 0)
