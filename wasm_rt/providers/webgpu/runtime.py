"""Runs a planned graph with GPU segments: builds, caches and replays them.

A *segment* is a maximal run of consecutive steps placed on the WebGPU
provider. The first run with given input shapes turns a segment into a
:class:`SegmentProgram` (by calling the GPU op functions), assigns buffers,
compiles pipelines and records bind groups; later runs replay it with one
upload per host input, one submit and one readback of the values numpy nodes
or the caller need. Values read only by later GPU segments stay on the GPU.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import cancel
from ...errors import Fail
from ...lowprec_ops import call_kernel
from . import shaders
from .gpu_ops import GPU_OPS
from .planner import assign_buffers
from .program import Emitter, GTensor, SegmentProgram, Unsupported, storage_dtype, storage_nbytes

PLANS_PER_SEGMENT = 4
# Kernels with an $ACT epilogue that a following Relu can be folded into.
FUSABLE_KERNELS = {"linalg/matmul", "linalg/matmul_reg", "linalg/matmul_vec4", "linalg/gemv", "conv/conv_gemm",
                   "conv/conv_direct", "norm/batchnorm"}
# Deterministic ops whose outputs are constants when every input is: their
# dispatches run once per plan (light models make all weights this way).
CONSTANT_FOLDABLE = {"ConstantOfShape", "Unsqueeze", "Reshape", "Squeeze", "Flatten", "Identity",
                     "Cast", "Transpose", "Mul", "Add", "Sub", "Div", "Sqrt", "Concat", "Expand"}  # distinct input signatures kept per segment start


@dataclass(eq=False)
class GpuValue:
    """A tensor left on the GPU by a segment, readable by later segments."""

    buffer: Any
    shape: tuple[int, ...]
    dtype: np.dtype
    owner: "SegmentPlan"


@dataclass(eq=False)
class SegmentPlan:
    start: int
    end: int  # steps [start, end) run on the GPU; steps[end] falls back when fallback
    fallback: str = ""
    program: SegmentProgram | None = None
    buffers: list = field(default_factory=list)  # owned GPU buffers
    uniforms: list = field(default_factory=list)
    slot_buffers: list = field(default_factory=list)
    uniform: Any = None
    recorded: Any = None
    once: set = field(default_factory=set)
    prologue: Any = None  # dispatches of constant-only nodes: run on the first execution only
    uploads: list = field(default_factory=list)  # (slot, name)
    host_outputs: list = field(default_factory=list)  # (name, GTensor, staging)
    gpu_outputs: list = field(default_factory=list)  # (name, GTensor)
    host_values: list = field(default_factory=list)  # (name, array) computed at plan time
    nodes: list = field(default_factory=list)

    def release(self, device) -> None:
        for b in self.buffers:
            device.destroy(b)
        for _, _, staging in self.host_outputs:
            if staging is not None:
                device.destroy(staging)
        for u in [self.uniform] + self.uniforms:
            if u is not None:
                device.destroy(u)
        self.uniforms = []
        self.buffers, self.host_outputs, self.uniform, self.recorded = [], [], None, None


class SegmentRunner:
    """Owns the device-side state of one session: constants, pipelines, plans."""

    def __init__(self, device, provider_name: str, tiling: str = "auto", strict: bool = False):
        self.device = device
        self.strict = strict  # a claimed node the GPU cannot take is an error, not a fallback
        if tiling == "auto":
            tiling = "registers" if "swiftshader" in device.architecture.lower() else "workgroup"
        self.tiling = tiling
        self.name = provider_name
        self.pipelines: dict[tuple, Any] = {}
        self.constants: dict[str, tuple[Any, np.ndarray]] = {}  # name -> (buffer, source array)
        self.plans: dict[int, collections.OrderedDict] = {}
        self.placement: dict[str, str] = {}  # node name -> where it last ran
        self.flops: dict[str, tuple[str, int]] = {}
        # When set, each dispatch is submitted and timed alone (accumulated in dispatch_ms).
        self.time_dispatches = False
        self.dispatch_ms: dict[tuple[str, str], float] = {}

    # --- running -------------------------------------------------------------

    async def run(self, executor, plan, feeds: dict[str, Any]) -> dict[str, Any]:
        steps = plan.steps
        graph = plan.graph
        local: dict[str, Any] = dict(feeds)
        env = collections.ChainMap(local, graph.initializers)
        gpu_env: dict[str, GpuValue] = {}
        for name in plan.release_at_start:
            local.pop(name, None)
        outputs = {vi.name for vi in graph.outputs}
        i = 0
        control = cancel.current()  # RunOptions.terminate / time limit, as the executor checks
        while i < len(steps):
            step = steps[i]
            if control is not None:
                control.check(lambda s=step, k=i: f"{s.node.describe()}, step {k + 1} of {len(steps)} "
                              f"of graph '{graph.name}' (WebGPU plan)")
            if step.provider != self.name:
                await self._host_step(executor, step, env, local, gpu_env)
                i += 1
                continue
            end = i
            while end < len(steps) and steps[end].provider == self.name:
                end += 1
            prof = getattr(executor, "profiler", None)
            t0 = prof.now_us() if prof else 0.0
            seg = await self._segment(plan, i, end, env, gpu_env, outputs)
            await self._execute(seg, env, local, gpu_env)
            if prof:
                self._profile(prof, plan, seg, t0)
            for k in range(seg.start, seg.end):
                self._release(steps[k], local, gpu_env)
            i = seg.end
            if seg.fallback:
                if control is not None:
                    control.check(lambda k=i: f"{steps[k].node.describe()}, step {k + 1} of "
                                  f"{len(steps)} of graph '{graph.name}' (WebGPU fallback)")
                self.placement[steps[i].node.name] = f"numpy (fallback: {seg.fallback})"
                await self._host_step(executor, steps[i], env, local, gpu_env, fallback=True)
                i += 1
        for name in outputs:
            if name in gpu_env and name not in local:
                await self._download(name, env, local, gpu_env)
        return {vi.name: env[vi.name] for vi in graph.outputs}

    def _profile(self, prof, plan, seg, t0):
        """One event per segment (GPU time is per submit), one per node naming the provider."""
        names = [s.node.name for s in plan.steps[seg.start:seg.end]]
        prof.record("Segment", f"webgpu_segment_{seg.start}", t0,
                    {"provider": self.name, "nodes": names, "dispatches":
                     len(seg.program.dispatches) if seg.program else 0})
        for step in plan.steps[seg.start:seg.end]:
            prof.events.append({"cat": "Node", "pid": prof.pid, "tid": prof.tid, "dur": 0,
                                "ts": round(t0), "ph": "X", "name": f"{step.node.name}_kernel_time",
                                "args": {"op_name": step.node.op_type, "provider": self.name,
                                         "segment": f"webgpu_segment_{seg.start}"}})

    async def _host_step(self, executor, step, env, local, gpu_env, fallback=False):
        for name in step.node.inputs:
            if name and name in gpu_env and name not in local:
                await self._download(name, env, local, gpu_env)
        executor.run_step(step, env, local)
        node = step.node
        self.flops[node.name] = (node.op_type, _flops(
            node, [env.get(n) if n else None for n in node.inputs],
            [local.get(n) for n in node.outputs if n]))
        if not fallback:
            self.placement[step.node.name] = step.provider
        self._release(step, local, gpu_env)

    def _release(self, step, local, gpu_env):
        for name in step.release:
            local.pop(name, None)
            gpu_env.pop(name, None)

    async def _download(self, name, env, local, gpu_env):
        v = gpu_env[name]
        local[name] = (await self._read([(v.buffer, v.shape, v.dtype)]))[0]

    async def _read(self, items):
        """[(buffer, shape, dtype)] -> numpy arrays, one submit and one wait."""
        stagings, outs, reads = [], [], []
        for buf, shape, dtype in items:
            nbytes = storage_nbytes(shape, dtype)
            staging = self.device.create_staging(nbytes)
            out = np.empty(shape, storage_dtype(dtype))
            stagings.append(staging)
            outs.append(out)
            reads.append((buf, staging, nbytes))
        self.device.submit([], None, reads)
        await self.device.readback([(s, o) for s, o in zip(stagings, outs)])
        for s in stagings:
            self.device.destroy(s)
        return [_from_storage(o, dtype) for o, (_, _, dtype) in zip(outs, items)]

    async def _execute(self, seg: SegmentPlan, env, local, gpu_env):
        if seg.program is None:
            for name, v in seg.host_values:
                local[name] = v
            return
        uploads = []
        for slot, name in seg.uploads:
            arr = _to_storage(np.asarray(env[name]))
            if arr.nbytes:
                uploads.append((seg.slot_buffers[slot], arr))
        reads = [(seg.slot_buffers[t.slot], st, storage_nbytes(t.shape, t.dtype))
                 for _, t, st in seg.host_outputs if st is not None]
        if seg.prologue is not None:
            self.device.submit([], seg.prologue, [])
            seg.prologue = None
        if self.time_dispatches:
            self.device.submit(uploads, None, [])
            ms = await self.device.time_each(seg.recorded)
            main = [d for i, d in enumerate(seg.program.dispatches) if i not in seg.once]
            for d, t in zip(main, ms):
                key = (d.node, d.kernel)
                self.dispatch_ms[key] = self.dispatch_ms.get(key, 0.0) + t
            self.device.submit([], None, reads)
        else:
            self.device.submit(uploads, seg.recorded, reads)
        outs = []
        for name, t, st in seg.host_outputs:
            outs.append((name, t, st, np.empty(t.shape, storage_dtype(t.dtype))))
        if reads:
            await self.device.readback([(st, o) for _, _, st, o in outs if st is not None])
        for name, t, _, o in outs:
            local[name] = _from_storage(o, t.dtype)
        for name, t in seg.gpu_outputs:
            gpu_env[name] = GpuValue(seg.slot_buffers[t.slot], t.shape, t.dtype, seg)
        for name, v in seg.host_values:
            local[name] = v

    # --- building ------------------------------------------------------------

    def _signature(self, plan, start, end, env, gpu_env):
        produced, sig = set(), []
        for step in plan.steps[start:end]:
            for name in step.node.inputs:
                if not name or name in produced:
                    continue
                if name in gpu_env:
                    v = gpu_env[name]
                    sig.append((name, "gpu", v.shape, v.dtype.str, id(v.owner), id(v.buffer)))
                elif name in env:
                    a = env[name]
                    shape = tuple(np.shape(a))
                    dt = np.asarray(a).dtype
                    small = dt.kind in "iub" and np.size(a) <= 64
                    sig.append((name, shape, dt.str, np.asarray(a).tobytes() if small else None))
            produced.update(o for o in step.node.outputs if o)
        return tuple(sig)

    def _fuse_activation(self, node, values, producers, readers, outputs, program) -> bool:
        """Relu right after Conv/MatMul/Gemm/BatchNormalization: applied in that kernel."""
        if node.op_type != "Relu" or not node.inputs or node.inputs[0] not in producers:
            return False
        src = node.inputs[0]
        if readers[src] != 1 or src in outputs:
            return False
        d = program.dispatches[producers[src]]
        if d.defines.get("ACT", "v") != "v":
            return False
        d.defines["ACT"] = "max(v, 0.0)"
        values[node.outputs[0]] = values[src]
        del producers[src]
        return True

    async def _segment(self, plan, start, end, env, gpu_env, outputs) -> SegmentPlan:
        key = self._signature(plan, start, end, env, gpu_env)
        cache = self.plans.setdefault(start, collections.OrderedDict())
        seg = cache.get(key)
        if seg is not None:
            cache.move_to_end(key)
            for name in seg.nodes:
                self.placement[name] = self.name
            return seg
        seg = await self._build(plan, start, end, env, gpu_env, outputs)
        cache[key] = seg
        while len(cache) > PLANS_PER_SEGMENT:
            _, old = cache.popitem(last=False)
            old.release(self.device)
        return seg

    async def _build(self, plan, start, end, env, gpu_env, outputs) -> SegmentPlan:
        steps = plan.steps
        program = SegmentProgram()
        e = Emitter(program)
        e.tiling = self.tiling
        e.f16 = self.device.f16
        values: dict[str, Any] = {}
        imports: dict[str, GTensor] = {}
        uploads: dict[str, GTensor] = {}
        anon: list[tuple[int, np.ndarray]] = []
        by_id: dict[int, str] = {}
        initializers = plan.graph.initializers

        def upload(arr: np.ndarray) -> GTensor:
            name = by_id.get(id(arr))
            if name is not None and name in uploads:
                return uploads[name]
            t = GTensor(tuple(arr.shape), arr.dtype, len(program.slot_bytes))
            program.slot_bytes.append(storage_nbytes(arr.shape, arr.dtype))
            if name is None:
                anon.append((t.slot, arr))
                program.constants[t.slot] = ("", t.slot)
            elif name in initializers and initializers[name] is arr:
                program.constants[t.slot] = name
                uploads[name] = t
            else:
                program.uploads[t.slot] = name
                uploads[name] = t
            return t

        e.upload = upload
        seg = SegmentPlan(start, end)
        producers: dict[str, int] = {}  # value -> index of the dispatch that wrote it last
        readers = collections.Counter(n for st in steps for n in st.node.inputs if n)
        # Host values fixed for this plan: initializers, small integer inputs (their
        # bytes are in the plan's key) and what is computed from them alone.
        static = set(initializers) - set(getattr(env, "maps", [{}])[0])
        for step in steps[start:end]:
            for name in step.node.inputs:
                if name and name not in gpu_env and name in env:
                    a = np.asarray(env[name])
                    if a.dtype.kind in "iub" and a.size <= 64:
                        static.add(name)
        const_names = set(initializers) - set(env.maps[0] if hasattr(env, "maps") else ())
        n_const_dispatches = []  # indices of dispatches made by constant-only nodes
        k = start
        while k < end:
            step = steps[k]
            node = step.node
            args = []
            for name in node.inputs:
                if not name:
                    args.append(None)
                elif name in values:
                    args.append(values[name])
                elif name in gpu_env:
                    if name not in imports:
                        v = gpu_env[name]
                        t = GTensor(v.shape, v.dtype, len(program.slot_bytes))
                        program.slot_bytes.append(storage_nbytes(v.shape, v.dtype))
                        program.imports[t.slot] = v
                        imports[name] = t
                    args.append(imports[name])
                else:
                    a = env[name]
                    by_id[id(a)] = name
                    args.append(a)
            mark = (len(program.slot_bytes), len(program.dispatches), dict(program.uploads),
                    dict(program.constants), dict(uploads), len(anon))
            e.node_name = node.name
            e.act_dispatch = None
            if self._fuse_activation(node, values, producers, readers, outputs, program):
                seg.nodes.append(node.name)
                self.placement[node.name] = self.name
                self.flops[node.name] = (node.op_type, 0)
                k += 1
                continue
            try:
                if _foldable(node, step, args, static):
                    outs = _fold(step, args)
                    static.update(o for o in node.outputs if o)
                else:
                    fn = GPU_OPS[node.op_type]
                    outs = fn(e, node, args, step.opset)
                    if node.op_type in ("Shape", "Size", "Constant"):
                        static.update(o for o in node.outputs if o)
            except Exception as exc:  # Unsupported, or a shape the op cannot take
                if self.strict:
                    raise Fail(
                        f"{node.describe()} (opset {step.opset}) cannot run on the GPU: {exc}; strict "
                        "mode forbids falling back to numpy (drop strict to allow it)") from exc
                n_slots, n_disp, up, consts, ups, n_anon = mark
                del program.slot_bytes[n_slots:]
                del program.dispatches[n_disp:]
                program.uploads, program.constants = up, consts
                uploads.clear()
                uploads.update(ups)
                del anon[n_anon:]
                seg.end = k
                seg.fallback = f"{type(exc).__name__}: {exc}" if not isinstance(exc, Unsupported) else str(exc)
                break
            for name, out in zip(node.outputs, outs):
                if name:
                    values[name] = out
            if len(program.dispatches) > mark[1] and node.outputs and isinstance(values.get(node.outputs[0]), GTensor):
                idx = e.act_dispatch if e.act_dispatch is not None else len(program.dispatches) - 1
                last = program.dispatches[idx]
                if last.kernel in FUSABLE_KERNELS and (
                        e.act_dispatch is not None or last.slots[-1] == values[node.outputs[0]].slot):
                    producers[node.outputs[0]] = idx
            if node.op_type in CONSTANT_FOLDABLE and all(not n or n in const_names for n in node.inputs):
                const_names.update(o for o in node.outputs if o)
                n_const_dispatches.extend(range(mark[1], len(program.dispatches)))
            seg.nodes.append(node.name)
            self.placement[node.name] = self.name
            self.flops[node.name] = (node.op_type, _flops(node, args, outs))
            k += 1
        if seg.end == start and not seg.nodes:
            return seg
        # Who reads each value produced here, after the segment?
        host_readers, gpu_readers = set(), set()
        for step in steps[seg.end:]:
            for name in step.node.inputs:
                if name in values:
                    (gpu_readers if step.provider == self.name else host_readers).add(name)
        host_readers |= {n for n in outputs if n in values}
        if seg.fallback:
            host_readers |= {n for n in steps[seg.end].node.inputs if n in values}
        pinned = {values[n].slot for n in host_readers | gpu_readers if isinstance(values[n], GTensor)}
        for i in n_const_dispatches:  # constants live as long as the plan
            pinned.update(program.dispatches[i].slots)
        assignment = assign_buffers(program, pinned)
        dev = self.device
        seg.program = program
        seg.buffers = [dev.create_buffer(n) for n in assignment.buffer_bytes]
        slot_buffers = []
        const_arrays = dict(anon)
        for slot, b in enumerate(assignment.slot_to_buffer):
            if slot in program.imports:
                slot_buffers.append(program.imports[slot].buffer)
            elif slot in program.constants:
                ref = program.constants[slot]
                if isinstance(ref, tuple):  # an array made by an op function
                    buf = dev.create_buffer(program.slot_bytes[slot])
                    seg.buffers.append(buf)
                    dev.write(buf, _to_storage(const_arrays[slot]))
                else:
                    buf = self._constant(ref, initializers[ref])
                slot_buffers.append(buf)
            else:
                slot_buffers.append(seg.buffers[b] if b >= 0 else None)
        seg.slot_buffers = slot_buffers
        seg.uploads = sorted(program.uploads.items())
        once = seg.once = set(n_const_dispatches)
        entries = ([], [])
        params = (bytearray(), bytearray())
        for i, d in enumerate(program.dispatches):
            pipeline = await self._pipeline(d)
            which = 0 if i in once else 1
            entries[which].append((pipeline, [slot_buffers[s] for s in d.slots], *d.groups))
            params[which].extend(d.params)
        if entries[0]:
            seg.uniforms.append(None)
            seg.uniforms[-1], seg.prologue = dev.record(entries[0], bytes(params[0]))
        seg.uniform, seg.recorded = dev.record(entries[1], bytes(params[1]))
        for name in sorted(host_readers):
            t = values[name]
            if isinstance(t, GTensor):
                staging = dev.create_staging(storage_nbytes(t.shape, t.dtype))
                seg.host_outputs.append((name, t, staging))
        for name in sorted(gpu_readers | host_readers):
            t = values[name]
            if isinstance(t, GTensor):
                if name in gpu_readers:
                    seg.gpu_outputs.append((name, t))
            else:  # a host value computed at plan time (shape math, constants)
                seg.host_values.append((name, t))
        return seg

    def _constant(self, name, arr):
        entry = self.constants.get(name)
        if entry is None or entry[1] is not arr:
            if entry is not None:
                self.device.destroy(entry[0])
            buf = self.device.create_buffer(storage_nbytes(arr.shape, arr.dtype))
            data = _to_storage(arr)
            if data.nbytes:
                self.device.write(buf, data)
            entry = self.constants[name] = (buf, arr)
        return entry[0]

    async def _pipeline(self, d):
        key = shaders.cache_key(d.kernel, d.dtype, d.defines)
        p = self.pipelines.get(key)
        if p is None:
            if d.dtype == "float16" and not self.device.f16:
                raise Fail("float16 kernels need the adapter feature shader-f16")
            code = shaders.render(d.kernel, d.dtype, d.defines)
            p = self.pipelines[key] = await self.device.pipeline(code, f"{d.kernel}:{d.dtype}")
        return p

    def release(self) -> None:
        for cache in self.plans.values():
            for seg in cache.values():
                seg.release(self.device)
        self.plans.clear()
        for buf, _ in self.constants.values():
            self.device.destroy(buf)
        self.constants.clear()


def _foldable(node, step, args, static) -> bool:
    """All inputs are plan-fixed host values: run the numpy kernel once, at plan time."""
    if step.kernel is None or step.kernel.context:
        return False
    if any(isinstance(a, GTensor) for a in args):
        return False
    if any(n and n not in static for n in node.inputs):
        return False
    return sum(np.size(a) for a in args if a is not None) <= 4096


def _fold(step, args):
    node = step.node  # low-precision inputs are handled as the executor does
    res = call_kernel(node.domain, node.op_type, step.kernel.fn, args, node.attrs)
    return list(res) if isinstance(res, tuple) else [res]


def _to_storage(arr: np.ndarray) -> np.ndarray:
    """The bytes a GPU buffer holds for ``arr``: contiguous, 4-byte padded."""
    arr = np.ascontiguousarray(arr, dtype=storage_dtype(arr.dtype))
    if arr.nbytes % 4:
        padded = np.zeros(arr.size + 1, arr.dtype)
        padded[: arr.size] = arr.reshape(-1)
        return padded
    return arr


def _from_storage(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return out if out.dtype == dtype else out.astype(dtype)


def _flops(node, args, outs) -> int:
    """Rough floating-point operations of a node (2 per multiply-add)."""
    def shp(v):
        return tuple(getattr(v, "shape", np.shape(v)))

    out = [o for o in outs if o is not None]
    n_out = sum(math.prod(shp(o)) for o in out)
    op = node.op_type
    if op == "Conv":
        w = shp(args[1])
        return 2 * n_out * math.prod(w[1:])
    if op in ("MatMul", "Gemm"):
        a = shp(args[0])
        k = a[0] if op == "Gemm" and node.attrs.get("transA", 0) else a[-1]
        return 2 * n_out * k
    return n_out
