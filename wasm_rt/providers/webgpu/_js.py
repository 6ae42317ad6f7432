"""All JavaScript interop of the WebGPU provider, and nothing else.

Every ``import js`` / ``pyodide`` of wasm_rt sits behind the ``IN_PYODIDE``
gate in this module, so the package imports on desktop CPython. JS objects
(device, buffers, pipelines, bind groups) stay opaque handles owned here; the
rest of the provider passes them around without touching their attributes.

Costs we design for (see ENVIRONMENT.md): a Python -> JS call costs 1.5-7 us,
so per-dispatch work is recorded once into a JS array and replayed by one JS
call that encodes and submits a whole segment; uploads go straight from the
wasm heap (``HEAPU8`` at ``arr.ctypes.data``); readbacks copy mapped ranges
into preallocated numpy arrays from JS.
"""

from __future__ import annotations

import sys

import numpy as np

IN_PYODIDE = sys.platform == "emscripten" or "pyodide" in sys.modules

_HELPERS_SRC = r"""
(Module) => {
  const STORAGE = 0x80 | 0x8 | 0x4;  // STORAGE | COPY_DST | COPY_SRC
  const h = {
    errors: [],
    async requestDevice() {
      if (!globalThis.navigator || !navigator.gpu) return "navigator.gpu is missing (no WebGPU in this browser or context)";
      let adapter;
      try { adapter = await navigator.gpu.requestAdapter(); } catch (e) { return "requestAdapter failed: " + e; }
      if (!adapter) return "navigator.gpu.requestAdapter() returned null (no adapter; in Chromium pass --enable-unsafe-webgpu)";
      const lim = adapter.limits;
      const want = ["maxBufferSize", "maxStorageBufferBindingSize", "maxStorageBuffersPerShaderStage",
                    "maxComputeWorkgroupStorageSize", "maxComputeInvocationsPerWorkgroup"];
      const requiredLimits = {};
      for (const k of want) requiredLimits[k] = lim[k];
      const requiredFeatures = adapter.features.has("shader-f16") ? ["shader-f16"] : [];
      const device = await adapter.requestDevice({requiredLimits, requiredFeatures});
      device.addEventListener("uncapturederror", (ev) => { h.errors.push(String(ev.error.message)); });
      let info = adapter.info || {};
      return {device, f16: requiredFeatures.length > 0, vendor: String(info.vendor || ""),
              architecture: String(info.architecture || ""), maxBufferSize: Number(lim.maxBufferSize),
              maxBinding: Number(lim.maxStorageBufferBindingSize)};
    },
    createBuffer(device, size) {
      return device.createBuffer({size, usage: STORAGE});
    },
    createUniform(device, size) {
      return device.createBuffer({size, usage: 0x40 | 0x8});  // UNIFORM | COPY_DST
    },
    createStaging(device, size) {
      return device.createBuffer({size, usage: 0x1 | 0x8});  // MAP_READ | COPY_DST
    },
    async createPipeline(device, code, label) {
      const module = device.createShaderModule({code, label});
      const info = await module.getCompilationInfo();
      const errs = info.messages.filter((m) => m.type === "error");
      if (errs.length) {
        throw new Error("WGSL of " + label + " does not compile: " +
          errs.map((m) => m.lineNum + ":" + m.linePos + " " + m.message).join("; "));
      }
      return await device.createComputePipelineAsync({layout: "auto", label, compute: {module, entryPoint: "main"}});
    },
    write(device, buf, ptr, nbytes) {
      device.queue.writeBuffer(buf, 0, Module.HEAPU8, ptr, nbytes);
    },
    writeBytes(device, buf, offset, ptr, nbytes) {
      device.queue.writeBuffer(buf, offset, Module.HEAPU8, ptr, nbytes);
    },
    // entries: [pipeline, [buffers...], uniformOffset, x, y, z] -> recorded [pipeline, bindGroup, x, y, z]
    record(device, uniform, entries) {
      const out = [];
      for (const [pipeline, bufs, off, x, y, z] of entries) {
        const layout = pipeline.getBindGroupLayout(0);
        const list = [{binding: 0, resource: {buffer: uniform, offset: off, size: 256}}];
        bufs.forEach((b, i) => list.push({binding: i + 1, resource: {buffer: b}}));
        out.push([pipeline, device.createBindGroup({layout, entries: list}), x, y, z]);
      }
      return out;
    },
    // uploads: flat [buf, ptr, nbytes, ...]; reads: flat [src, staging, nbytes, ...]
    submit(device, uploads, recorded, reads) {
      const heap = Module.HEAPU8;
      for (let i = 0; i < uploads.length; i += 3) {
        device.queue.writeBuffer(uploads[i], 0, heap, uploads[i + 1], uploads[i + 2]);
      }
      const enc = device.createCommandEncoder();
      if (recorded.length) {
        const pass = enc.beginComputePass();
        for (const [p, bg, x, y, z] of recorded) {
          pass.setPipeline(p);
          pass.setBindGroup(0, bg);
          pass.dispatchWorkgroups(x, y, z);
        }
        pass.end();
      }
      for (let i = 0; i < reads.length; i += 3) {
        enc.copyBufferToBuffer(reads[i], 0, reads[i + 1], 0, reads[i + 2]);
      }
      device.queue.submit([enc.finish()]);
    },
    // reads: flat [staging, ptr, nbytes, ...]: map all, copy into the wasm heap
    async readback(reads) {
      const maps = [];
      for (let i = 0; i < reads.length; i += 3) maps.push(reads[i].mapAsync(1));
      await Promise.all(maps);
      for (let i = 0; i < reads.length; i += 3) {
        const n = reads[i + 2];
        if (n > 0) {
          const src = new Uint8Array(reads[i].getMappedRange(0, (n + 3) & ~3), 0, n);
          Module.HEAPU8.set(src, reads[i + 1]);
        }
        reads[i].unmap();
      }
      if (h.errors.length) {
        const e = h.errors.join("; ");
        h.errors.length = 0;
        throw new Error("WebGPU error: " + e);
      }
    },
    async done(device) {
      await device.queue.onSubmittedWorkDone();
      if (h.errors.length) {
        const e = h.errors.join("; ");
        h.errors.length = 0;
        throw new Error("WebGPU error: " + e);
      }
    },
    // Profiling: submit each recorded dispatch alone and time it to completion.
    async timeEach(device, recorded) {
      const ms = [];
      for (const [p, bg, x, y, z] of recorded) {
        const t0 = performance.now();
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        pass.setPipeline(p);
        pass.setBindGroup(0, bg);
        pass.dispatchWorkgroups(x, y, z);
        pass.end();
        device.queue.submit([enc.finish()]);
        await device.queue.onSubmittedWorkDone();
        ms.push(performance.now() - t0);
      }
      return ms;
    },
    destroy(buf) { buf.destroy(); },
  };
  return h;
}
"""


class JsError(RuntimeError):
    """A WebGPU/JS call failed; the message is the JS error's."""


class JsDevice:
    """A WebGPU device seen from Python: buffers, pipelines, recorded segments."""

    def __init__(self, helpers, info):
        self._h = helpers
        self._dev = info.device
        self.f16 = bool(info.f16)
        self.vendor = str(info.vendor)
        self.architecture = str(info.architecture)
        self.max_buffer = int(info.maxBufferSize)
        self.max_binding = int(info.maxBinding)
        self._to_js = _to_js
        self._live: dict[int, int] = {}  # id(buffer proxy) -> bytes, for memory checks

    @property
    def live_buffers(self) -> int:
        return len(self._live)

    @property
    def live_bytes(self) -> int:
        return sum(self._live.values())

    def _track(self, buf, nbytes):
        self._live[id(buf)] = nbytes
        return buf

    def describe(self) -> str:
        return f"WebGPU adapter {self.vendor or '?'}/{self.architecture or '?'}"

    def create_buffer(self, nbytes: int):
        if nbytes > self.max_binding:
            raise MemoryError(f"buffer of {nbytes} bytes exceeds maxStorageBufferBindingSize {self.max_binding}")
        return self._track(self._h.createBuffer(self._dev, nbytes), nbytes)

    def create_staging(self, nbytes: int):
        return self._track(self._h.createStaging(self._dev, nbytes), nbytes)

    def destroy(self, buf) -> None:
        self._live.pop(id(buf), None)
        self._h.destroy(buf)

    def write(self, buf, arr: np.ndarray) -> None:
        """Upload a C-contiguous array (4-byte multiple) from the wasm heap, no copy."""
        self._h.write(self._dev, buf, arr.ctypes.data, arr.nbytes)

    async def pipeline(self, code: str, label: str):
        try:
            return await self._h.createPipeline(self._dev, code, label)
        except Exception as e:  # JsException
            raise JsError(str(e)) from None

    def record(self, entries, params: bytes):
        """Bind groups for [(pipeline, [buffers], x, y, z)] with per-dispatch uniforms."""
        uniform = self._track(self._h.createUniform(self._dev, max(256, len(params))), max(256, len(params)))
        arr = np.frombuffer(params, np.uint8)
        self._h.writeBytes(self._dev, uniform, 0, arr.ctypes.data, arr.nbytes)
        js_entries = self._to_js([[p, self._to_js(list(bufs)), i * 256, x, y, z]
                                  for i, (p, bufs, x, y, z) in enumerate(entries)])
        return uniform, self._h.record(self._dev, uniform, js_entries)

    def submit(self, uploads, recorded, reads) -> None:
        """uploads [(buf, array)], reads [(src, staging, nbytes)]: one encoder, one submit."""
        flat_up = []
        for buf, arr in uploads:
            flat_up += [buf, arr.ctypes.data, arr.nbytes]
        flat_rd = []
        for src, staging, n in reads:
            flat_rd += [src, staging, (n + 3) // 4 * 4]
        if recorded is None:
            recorded = self._to_js([])
        self._h.submit(self._dev, self._to_js(flat_up), recorded, self._to_js(flat_rd))

    async def readback(self, reads) -> None:
        """reads [(staging, out array)]: map and copy into the arrays' memory."""
        flat = []
        for staging, out in reads:
            flat += [staging, out.ctypes.data, out.nbytes]
        try:
            await self._h.readback(self._to_js(flat))
        except Exception as e:
            raise JsError(str(e)) from None

    async def time_each(self, recorded) -> list[float]:
        """Milliseconds of each recorded dispatch, run one by one (profiling only)."""
        return [float(v) for v in (await self._h.timeEach(self._dev, recorded)).to_py()]

    async def done(self) -> None:
        try:
            await self._h.done(self._dev)
        except Exception as e:
            raise JsError(str(e)) from None


def _to_js(v):
    from pyodide.ffi import to_js

    return to_js(v)


_device = None
_device_reason = ""


async def request_device():
    """The process-wide device (created once), or None; see :func:`unavailable_reason`."""
    global _device, _device_reason
    if _device is not None or _device_reason:
        return _device
    if not IN_PYODIDE:
        _device_reason = "not running in Pyodide (the browser WebGPU backend needs Pyodide)"
        return None
    import pyodide_js
    from pyodide.code import run_js

    helpers = run_js(_HELPERS_SRC)(pyodide_js._module)
    try:
        info = await helpers.requestDevice()
    except Exception as e:
        _device_reason = f"requesting a WebGPU device failed: {e}"
        return None
    if isinstance(info, str):
        _device_reason = info
        return None
    _device = JsDevice(helpers, info)
    return _device


def use_device(device) -> None:
    """Make ``device`` the process-wide device (the desktop backend uses this)."""
    global _device, _device_reason
    _device, _device_reason = device, ""


def wasm_heap_bytes() -> int:
    """Size of the wasm linear memory (grows, never shrinks)."""
    import pyodide_js

    return int(pyodide_js._module.HEAPU8.length)


def current_device():
    return _device


def unavailable_reason() -> str:
    return _device_reason


def has_navigator_gpu() -> bool:
    if not IN_PYODIDE:
        return False
    import js

    nav = getattr(js, "navigator", None)
    return nav is not None and getattr(nav, "gpu", None) is not None


def can_run_sync() -> bool:
    """True when a coroutine can be awaited synchronously (JSPI stack switching)."""
    if not IN_PYODIDE:
        return False
    try:
        from pyodide.ffi import can_run_sync as crs
    except ImportError:
        return False
    return bool(crs())


def run_sync(coro):
    from pyodide.ffi import run_sync as rs

    return rs(coro)
