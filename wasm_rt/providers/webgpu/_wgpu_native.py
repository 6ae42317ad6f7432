"""Optional desktop backend: the same WGSL kernels through wgpu-py (wgpu-native).

Not used in the browser. ``init_desktop()`` makes the process-wide device a
wgpu-native one (e.g. Mesa's lavapipe on a machine without a GPU), so the
provider, its kernels and the browser tests' cases also run under plain
pytest. It implements the same small device interface as ``_js.JsDevice``.
"""

from __future__ import annotations

import numpy as np


class WgpuDevice:
    """A wgpu-py device behind the interface the segment runner uses."""

    def __init__(self, adapter, device):
        import wgpu

        self._wgpu = wgpu
        self._dev = device
        info = adapter.info
        self.vendor = str(info.get("vendor", ""))
        self.architecture = str(info.get("architecture", "") or info.get("device", ""))
        self.f16 = "shader-f16" in device.features
        self.max_binding = int(device.limits["max-storage-buffer-binding-size"])
        self.max_buffer = int(device.limits["max-buffer-size"])
        self._live: dict[int, tuple[object, int]] = {}

    def describe(self) -> str:
        return f"wgpu-native adapter {self.vendor}/{self.architecture}"

    @property
    def live_buffers(self) -> int:
        return len(self._live)

    @property
    def live_bytes(self) -> int:
        return sum(n for _, n in self._live.values())

    def _track(self, buf, nbytes):
        self._live[id(buf)] = (buf, nbytes)
        return buf

    def create_buffer(self, nbytes: int):
        u = self._wgpu.BufferUsage
        return self._track(self._dev.create_buffer(size=nbytes, usage=u.STORAGE | u.COPY_DST | u.COPY_SRC), nbytes)

    def create_staging(self, nbytes: int):
        u = self._wgpu.BufferUsage
        return self._track(self._dev.create_buffer(size=nbytes, usage=u.MAP_READ | u.COPY_DST), nbytes)

    def destroy(self, buf) -> None:
        self._live.pop(id(buf), None)
        buf.destroy()

    def write(self, buf, arr: np.ndarray) -> None:
        self._dev.queue.write_buffer(buf, 0, arr)

    async def pipeline(self, code: str, label: str):
        from .runtime import Fail

        try:
            module = self._dev.create_shader_module(code=code, label=label)
            return self._dev.create_compute_pipeline(
                layout="auto", compute={"module": module, "entry_point": "main"}, label=label)
        except Exception as e:
            raise Fail(f"WGSL of {label} does not compile: {e}") from None

    def record(self, entries, params: bytes):
        u = self._wgpu.BufferUsage
        size = max(256, len(params))
        uniform = self._track(self._dev.create_buffer(size=size, usage=u.UNIFORM | u.COPY_DST), size)
        if params:
            self._dev.queue.write_buffer(uniform, 0, params)
        recorded = []
        for i, (pipeline, bufs, x, y, z) in enumerate(entries):
            layout = pipeline.get_bind_group_layout(0)
            items = [{"binding": 0, "resource": {"buffer": uniform, "offset": i * 256, "size": 256}}]
            items += [{"binding": j + 1, "resource": {"buffer": b, "offset": 0, "size": b.size}}
                      for j, b in enumerate(bufs)]
            recorded.append((pipeline, self._dev.create_bind_group(layout=layout, entries=items), x, y, z))
        return uniform, recorded

    def submit(self, uploads, recorded, reads) -> None:
        for buf, arr in uploads:
            self._dev.queue.write_buffer(buf, 0, arr)
        enc = self._dev.create_command_encoder()
        if recorded:
            cp = enc.begin_compute_pass()
            for p, bg, x, y, z in recorded:
                cp.set_pipeline(p)
                cp.set_bind_group(0, bg)
                cp.dispatch_workgroups(x, y, z)
            cp.end()
        for src, staging, n in reads:
            if n == 0:
                continue
            enc.copy_buffer_to_buffer(src, 0, staging, 0, (n + 3) // 4 * 4)
        self._dev.queue.submit([enc.finish()])

    async def readback(self, reads) -> None:
        for staging, out in reads:
            if out.nbytes == 0:
                continue
            staging.map_sync(self._wgpu.MapMode.READ)
            data = staging.read_mapped(0, (out.nbytes + 3) // 4 * 4, copy=True)
            staging.unmap()
            out.reshape(-1).view(np.uint8)[:] = np.frombuffer(data, np.uint8)[: out.nbytes]

    async def time_each(self, recorded) -> list[float]:
        import time

        ms = []
        for entry in recorded:
            t0 = time.perf_counter()
            self.submit([], [entry], [])
            self._dev.queue.on_submitted_work_done_sync()
            ms.append((time.perf_counter() - t0) * 1000)
        return ms

    async def done(self) -> None:
        self._dev.queue.on_submitted_work_done_sync()


def request_desktop_device() -> WgpuDevice | str:
    """A wgpu-native device, or the reason there is none."""
    try:
        import wgpu
    except ImportError:
        return "the desktop backend needs wgpu-py (pip install wgpu)"
    try:
        adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    except Exception as e:  # no Vulkan/Metal/DX12 driver
        return f"wgpu found no adapter: {e}"
    if adapter is None:
        return "wgpu found no adapter"
    features = ["shader-f16"] if "shader-f16" in adapter.features else []
    limits = {k: adapter.limits[k] for k in ("max-storage-buffer-binding-size", "max-buffer-size",
                                               "max-storage-buffers-per-shader-stage")}
    device = adapter.request_device_sync(required_features=features, required_limits=limits)
    return WgpuDevice(adapter, device)
