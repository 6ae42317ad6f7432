"""The onnxruntime-compatible API: a thin layer over loader, planner and executor."""

from __future__ import annotations

import bisect
import copy
import datetime
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from . import dtypes, lowprec, maps, session_config
from .cancel import RunControl, run_control
from .environment import ExecutionMode, ExecutionOrder
from .errors import Fail, InvalidArgument
from .errors import NotImplemented as NotImplementedErr
from .executor import Executor, Planner, Profiler
from .iobinding import IOBinding
from .ir import DEFAULT_MAX_INLINED_NODES, Graph, ValueInfo, build_model_graph
from .limits import DEFAULT_MEMORY_LIMIT, check_alloc, memory_limit
from .model import ModelMetadata, load
from .model_writer import write_optimized_model
from .optimizer import GraphOptimizationLevel, PassContext, optimize
from .shape_inference import Inference, node_arg_fields, session_inference
from .ortvalue import OrtValue, cpu_memory_info, feed_value
from .providers import (
    PROVIDER_ALIASES,
    ExecutionProvider,
    NumpyExecutionProvider,
    available_providers,
)

try:
    from numpy.lib.array_utils import byte_bounds as _byte_bounds  # numpy >= 2
except ImportError:  # pragma: no cover - numpy 1.x
    _byte_bounds = np.byte_bounds


# Session config keys onnxruntime documents whose values wasm_rt reads; any other key is
# kept (get_session_config_entry returns it) and has no effect here.
_CONFIG_KEY_MAX, _CONFIG_VALUE_MAX = 1024, 4096


def _config_entry(kind: str, store: dict[str, str], key, value) -> None:
    if not isinstance(key, str) or not isinstance(value, str):
        raise InvalidArgument(f"{kind} config entries are str -> str, got "
                              f"{type(key).__name__} -> {type(value).__name__}")
    if not key or len(key) > _CONFIG_KEY_MAX:
        raise InvalidArgument(f"Config key is empty or longer than maximum length {_CONFIG_KEY_MAX}")
    if len(value) > _CONFIG_VALUE_MAX:
        raise InvalidArgument(f"Config value is longer than maximum length: {_CONFIG_VALUE_MAX}")
    store[key] = value


class SessionOptions:
    """Options of a session, named as in onnxruntime.

    Thread counts, ``execution_mode``/``execution_order`` and the memory-arena switches
    are accepted and kept but change nothing: wasm_rt runs nodes one after another on
    one thread and numpy allocates memory.
    """

    def __init__(self):
        self.graph_optimization_level: GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.enable_profiling: bool = False
        self.profile_file_prefix: str = "onnxruntime_profile_"
        self.log_severity_level: int = -1
        self.log_verbosity_level: int = 0
        self.logid: str = ""
        self.intra_op_num_threads: int = 0
        self.inter_op_num_threads: int = 0
        self.execution_mode: ExecutionMode = ExecutionMode.ORT_SEQUENTIAL
        self.execution_order: ExecutionOrder = ExecutionOrder.DEFAULT
        self.enable_cpu_mem_arena: bool = True
        self.enable_mem_pattern: bool = True
        self.enable_mem_reuse: bool = True
        self.use_deterministic_compute: bool = False
        self.use_per_session_threads: bool = True
        self.optimized_model_filepath: str = ""
        # wasm_rt's own: the largest single tensor a model or its inputs may make us allocate.
        self.memory_limit: int = DEFAULT_MEMORY_LIMIT
        # wasm_rt's own: the most nodes inlining model-local functions may create.
        self.max_inlined_nodes: int = DEFAULT_MAX_INLINED_NODES
        self._config: dict[str, str] = {}
        self._dims_by_name: dict[str, int] = {}
        self._dims_by_denotation: dict[str, int] = {}
        self._initializers: dict[str, Any] = {}
        self._external_initializers: dict[str, Any] = {}
        self._external_files: dict[str, bytes] = {}

    def _copy(self) -> SessionOptions:
        """A copy a session keeps (and may complete from the model's own config)."""
        new = copy.copy(self)
        for name in ("_config", "_dims_by_name", "_dims_by_denotation", "_initializers",
                     "_external_initializers", "_external_files"):
            setattr(new, name, dict(getattr(self, name)))
        return new

    def add_session_config_entry(self, key: str, value: str) -> None:
        _config_entry("session", self._config, key, value)

    def get_session_config_entry(self, key: str) -> str:
        if key not in self._config:
            raise Fail(f"SessionOptions does not have configuration with key: {key}")
        return self._config[key]

    def add_free_dimension_override_by_name(self, dim_name: str, dim_value: int) -> None:
        """Fix the symbolic input dimension ``dim_name`` to ``dim_value`` at session creation."""
        self._dims_by_name[str(dim_name)] = _dim_value(dim_value)

    def add_free_dimension_override_by_denotation(self, dim_denotation: str, dim_value: int) -> None:
        """Fix every input dimension with this denotation (e.g. 'DATA_BATCH') to ``dim_value``."""
        self._dims_by_denotation[str(dim_denotation)] = _dim_value(dim_value)

    def add_initializer(self, name: str, ort_value) -> None:
        """Use ``ort_value`` (an OrtValue) for the model's initializer ``name``."""
        self._initializers[str(name)] = _ortvalue_arg(ort_value, name)

    def add_external_initializers(self, names: Sequence[str], ort_values: Sequence) -> None:
        """Supply initializers the model stores externally, by name, instead of their files."""
        if len(names) != len(ort_values):
            raise InvalidArgument("add_external_initializers: names and values differ in length")
        for name, value in zip(names, ort_values):
            self._external_initializers[str(name)] = _ortvalue_arg(value, name)

    def add_external_initializers_from_files_in_memory(self, file_names: Sequence[str],
                                                       buffers: Sequence, lengths: Sequence[int]) -> None:
        """Supply the contents of external-data files (by the name the model uses) from memory."""
        if not len(file_names) == len(buffers) == len(lengths):
            raise InvalidArgument("add_external_initializers_from_files_in_memory: file names, "
                                  "buffers and lengths differ in length")
        for name, buf, length in zip(file_names, buffers, lengths):
            data = memoryview(buf).cast("B")
            if not 0 <= int(length) <= len(data):
                raise InvalidArgument(f"external file '{name}': length {length} is outside its "
                                      f"{len(data)}-byte buffer")
            self._external_files[str(name)] = bytes(data[: int(length)])

    def register_custom_ops_library(self, library_path: str) -> None:
        raise NotImplementedErr(
            f"register_custom_ops_library('{library_path}'): wasm_rt is pure Python and cannot "
            "load native custom-operator libraries"
        )


def _dim_value(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InvalidArgument(f"a free dimension override must be an int >= 0, got {value!r}")
    return int(value)


def _ortvalue_arg(value, name: str):
    from .ortvalue import OrtValue

    if not isinstance(value, OrtValue) or not value.is_tensor():
        raise InvalidArgument(f"initializer '{name}': expected a tensor OrtValue, got "
                              f"{type(value).__name__}")
    return value


class RunOptions:
    def __init__(self):
        self.log_severity_level: int = -1
        self.log_verbosity_level: int = 0
        self.logid: str = ""
        self.run_tag: str = ""
        self.terminate: bool = False  # set from another thread: the run stops between nodes
        # wasm_rt's own: stop the run (RunTimeout) once it has taken this many seconds.
        self.time_limit: float | None = None
        # wasm_rt's own: polled between nodes (at most every 2 ms); a true result cancels.
        self.cancel_check = None
        self.only_execute_path_to_fetches: bool = False
        self._config: dict[str, str] = {}
        self._adapters: list = []

    def add_run_config_entry(self, key: str, value: str) -> None:
        """Run config entries are kept; wasm_rt has no memory arena, so e.g.
        'memory.enable_memory_arena_shrinkage' has nothing to shrink."""
        _config_entry("run", self._config, key, value)

    def get_run_config_entry(self, key: str) -> str:
        if key not in self._config:
            raise Fail(f"RunOptions does not have configuration with key: {key}")
        return self._config[key]

    def add_active_adapter(self, adapter) -> None:
        """Runs with these options feed the LoraAdapter's parameters as inputs."""
        from .lora import LoraAdapter

        if not isinstance(adapter, LoraAdapter):
            raise InvalidArgument(f"expected a LoraAdapter, got {type(adapter).__name__}")
        self._adapters.append(adapter)



@dataclass
class NodeArg:
    """An input or output description: ``name``, ``type`` ('tensor(float)'), ``shape``."""

    name: str
    type: str
    shape: list[int | str | None] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"NodeArg(name='{self.name}', type='{self.type}', shape={self.shape})"


# The name onnxruntime uses for the provider wasm_rt's numpy provider stands in for.
PROVIDER_ALIAS_OF = {"NumpyExecutionProvider": "CPUExecutionProvider"}


def get_available_providers() -> list[str]:
    """Providers usable here, best first; the numpy provider under onnxruntime's name for the
    CPU provider (NumpyExecutionProvider is accepted as well)."""
    return [PROVIDER_ALIAS_OF.get(n, n) for n in available_providers()]


def _node_arg(vi: ValueInfo, inferred: Inference | None = None) -> NodeArg:
    return NodeArg(vi.name, *node_arg_fields(vi, inferred))


def _make_providers(providers, provider_options) -> tuple[list[ExecutionProvider], dict[str, str]]:
    """The providers to run with, and the name each is reported under: the name it was
    requested by (CPUExecutionProvider stays CPUExecutionProvider, as in onnxruntime)."""
    if not providers:
        return [NumpyExecutionProvider()], {NumpyExecutionProvider.name: NumpyExecutionProvider.name}
    if isinstance(providers, str) or not isinstance(providers, Sequence):
        raise InvalidArgument(f"providers must be a list of names, got {type(providers).__name__}")
    options_list = list(provider_options or [{}] * len(providers))
    if len(options_list) != len(providers):
        raise InvalidArgument("provider_options must have one entry per provider")
    made: list[ExecutionProvider] = []
    names: dict[str, str] = {}
    for entry, opts in zip(providers, options_list):
        requested, opts = (entry if isinstance(entry, (tuple, list)) else (entry, opts))
        name = PROVIDER_ALIASES.get(requested, requested)
        if name == NumpyExecutionProvider.name:
            provider: ExecutionProvider = NumpyExecutionProvider(opts)
        elif name == "WebGpuExecutionProvider":
            from .providers.webgpu import WebGpuExecutionProvider

            # Without a device it warns (naming why) and the session runs on numpy,
            # as the provider list then shows; with strict=True it raises instead.
            provider = WebGpuExecutionProvider(opts)
            if provider.runner is None:
                continue
        else:
            raise InvalidArgument(
                f"Unknown Provider Type: {name} (unknown or unavailable here); available: "
                f"{', '.join(available_providers())} (CPUExecutionProvider is accepted as an "
                "alias of NumpyExecutionProvider)"
            )
        if all(p.name != provider.name for p in made):
            made.append(provider)
            names[provider.name] = str(requested)
    # Every node must run somewhere: the numpy provider is the fallback of last resort.
    if all(p.name != NumpyExecutionProvider.name for p in made):
        made.append(NumpyExecutionProvider())
        names[NumpyExecutionProvider.name] = NumpyExecutionProvider.name
    return made, names


class InferenceSession:
    """Loads a model and runs it; mirrors ``onnxruntime.InferenceSession``.

    ``path_or_bytes`` is a path, ``bytes``/``bytearray``/``memoryview`` or a
    binary file object.  ``external_data`` maps the ``location`` of externally
    stored tensors to their bytes, for models given as bytes (the browser has no
    file system); with a path, external files are read from the model's folder.
    """

    def __init__(
        self,
        path_or_bytes: Any,
        sess_options: SessionOptions | None = None,
        providers: Sequence[Any] | None = None,
        provider_options: Sequence[dict] | None = None,
        *,
        external_data: Mapping[str, bytes] | None = None,
        **kwargs: Any,
    ):
        if kwargs:
            raise InvalidArgument(f"unexpected argument(s) to InferenceSession: {', '.join(kwargs)}")
        # The session keeps its own copy, completed from the model's embedded config.
        self._options = (sess_options or SessionOptions())._copy()
        session_config.check_config(self._options)
        t0 = time.perf_counter()
        with memory_limit(self._options.memory_limit):
            if self._options._external_files:
                external_data = {**self._options._external_files, **(external_data or {})}
            loaded = load(path_or_bytes, external_data)
            session_config.apply_model_config(self._options, loaded.proto)
            self._profiler = Profiler() if self._options.enable_profiling else None
            self._model_path = loaded.source
            self._metadata = loaded.metadata
            self._opsets = loaded.opsets
            session_config.replace_external_initializers(self._options, loaded.proto)
            graph = build_model_graph(loaded.proto, loaded.ext, _max_inlined_nodes(self._options))
            session_config.apply_initializers(self._options, graph)
            session_config.apply_free_dimensions(self._options, loaded.proto, graph)
            ir_version = loaded.proto.ir_version
            original = loaded.proto if self._options.optimized_model_filepath else None
            del loaded
            self._providers, self._provider_names = _make_providers(providers, provider_options)
            self._graph = graph
            # From IR 4 an initializer listed as a graph input is a default the caller
            # may override; before IR 4 every initializer had to be listed there and is
            # a constant (onnxruntime makes the same distinction).
            overridable = frozenset(
                vi.name for vi in graph.inputs if vi.name in graph.initializers and ir_version >= 4
            )
            self._inputs = [vi for vi in graph.inputs if vi.name not in graph.initializers]
            self._overridable = [vi for vi in graph.inputs if vi.name in overridable]
            self._outputs = list(graph.outputs)
            self.applied_optimizations = optimize(
                graph,
                int(self._options.graph_optimization_level),
                PassContext(self._opsets, self._providers, overridable),
            )
            planner = Planner(self._opsets, self._providers)
            self._plan = planner.plan(graph)
            planner.unsupported.raise_if_any()
            self._executor = Executor(planner.plans, self._profiler)
            # Types and shapes of every value; disagreements with the model's declarations
            # are kept in shape_problems (and logged), never fatal.
            self.shape_inference = session_inference(graph, self._opsets)
            self.shape_problems: list[str] = self.shape_inference.problems
            self._state_memory = _MemoryIndex(_state_arrays(graph))
            if original is not None:
                write_optimized_model(self._options.optimized_model_filepath, graph, original,
                                      self._opsets, self._options._config)
        if self._profiler:
            self._profiler.record("Session", "session_initialization", 0.0, {})
        self.load_seconds = time.perf_counter() - t0

    # --- introspection -------------------------------------------------------

    def get_inputs(self) -> list[NodeArg]:
        return [_node_arg(vi, self.shape_inference) for vi in self._inputs]

    def get_outputs(self) -> list[NodeArg]:
        return [_node_arg(vi, self.shape_inference) for vi in self._outputs]

    def get_overridable_initializers(self) -> list[NodeArg]:
        return [_node_arg(vi) for vi in self._overridable]

    def get_providers(self) -> list[str]:
        """The providers in use, each under the name it was requested by."""
        return [self._provider_names.get(p.name, p.name) for p in self._providers]

    def get_provider_options(self) -> dict[str, dict]:
        return {self._provider_names.get(p.name, p.name): {str(k): str(v) for k, v in p.options.items()}
                for p in self._providers}

    def set_providers(self, providers: Sequence[Any] | None = None,
                      provider_options: Sequence[dict] | None = None) -> None:
        """Run with other providers from now on (the optimized graph is planned again)."""
        try:
            made, names = _make_providers(providers or get_available_providers(), provider_options)
        except InvalidArgument as e:
            raise Fail(str(e)) from None
        planner = Planner(self._opsets, made)
        plan = planner.plan(self._graph)
        planner.unsupported.raise_if_any()
        for p in self._providers:
            if p not in made:
                p.release()
        self._providers, self._provider_names = made, names
        self._plan, self._executor = plan, Executor(planner.plans, self._profiler)

    def get_input_memory_infos(self) -> list:
        """Where each input is expected: host memory (onnxruntime's CPU arena) for all."""
        return [cpu_memory_info() for _ in self._inputs]

    def get_output_memory_infos(self) -> list:
        return [cpu_memory_info() for _ in self._outputs]

    def get_input_epdevices(self) -> list:
        """One entry per input; None, as no plug-in execution-provider device is in use."""
        return [None for _ in self._inputs]

    def get_provider_graph_assignment_info(self) -> list:
        """The nodes each provider runs; needs 'session.record_ep_graph_assignment_info' = '1'."""
        return session_config.graph_assignment(self._options, self._plan, self._provider_names)

    def get_profiling_start_time_ns(self) -> int:
        """When profiling started (time.perf_counter_ns clock); 0 without profiling."""
        return self._profiler.start_ns if self._profiler else 0

    def get_session_options(self) -> SessionOptions:
        return self._options

    def get_modelmeta(self) -> ModelMetadata:
        return self._metadata

    def node_placement(self) -> list[tuple[str, str, str]]:
        """(node name, op type, provider) for every top-level node, in execution order."""
        return [(s.node.name, s.node.op_type, s.provider) for s in self._plan.steps]

    # --- running -------------------------------------------------------------

    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any], run_options: RunOptions | None = None) -> list:
        """Run the model; returns the requested outputs (all if ``output_names`` is None).

        With the WebGPU provider inside Pyodide this must wait for the GPU, which
        works only where Pyodide can stack-switch (JSPI); elsewhere use run_async.
        """
        input_feed = self._prepare_feeds(input_feed, run_options)
        names, feeds, start = self._begin_run(output_names, input_feed)
        control = RunControl(run_options) if run_options is not None else None
        with memory_limit(self._options.memory_limit), run_control(control):
            runner = self._plan_runner()
            if runner is None:
                results = self._executor.run(self._plan, feeds)
            else:
                results = runner.run_plan(self._executor, self._plan, feeds)
        return self._end_run(names, results, start, feeds)

    def run_async(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any],
                  callback=None, user_data: Any = None, run_options: RunOptions | None = None):
        """onnxruntime's form: ``run_async(output_names, feed, callback, user_data)`` runs on
        another thread (inline where there are none, as in Pyodide) and calls
        ``callback(results, user_data, err)`` (``err`` '' on success; on failure ``results``
        is [] and ``err`` the message). Without a callback it returns ``run_awaitable``'s
        coroutine, for ``await sess.run_async(None, feeds)``.
        """
        if callback is None or isinstance(callback, RunOptions):
            return self.run_awaitable(output_names, input_feed, run_options or callback)
        if not callable(callback):
            raise InvalidArgument(f"run_async: callback must be callable, got {type(callback).__name__}")
        input_feed = self._prepare_feeds(input_feed, run_options)

        def work():
            try:
                results, err = self.run(output_names, input_feed, run_options), ""
            except Exception as e:  # noqa: BLE001 - reported to the callback, as onnxruntime does
                results, err = [], str(e) or type(e).__name__
            callback(results, user_data, err)

        try:
            threading.Thread(target=work, name="wasm_rt-run_async", daemon=True).start()
        except RuntimeError:  # no threads (Pyodide): run now, the callback still reports
            work()

    async def run_awaitable(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any], run_options: RunOptions | None = None) -> list:
        """``run`` as a coroutine: always works, including WebGPU inside Pyodide."""
        input_feed = self._prepare_feeds(input_feed, run_options)
        names, feeds, start = self._begin_run(output_names, input_feed)
        control = RunControl(run_options) if run_options is not None else None
        with memory_limit(self._options.memory_limit), run_control(control):
            runner = self._plan_runner()
            if runner is None:
                results = self._executor.run(self._plan, feeds)
            else:
                results = await runner.run_plan_async(self._executor, self._plan, feeds)
        return self._end_run(names, results, start, feeds)

    def run_with_ort_values(self, output_names: Sequence[str] | None,
                            input_dict_ort_values: Mapping[str, Any],
                            run_options: RunOptions | None = None) -> list[OrtValue]:
        """``run`` taking and returning OrtValues."""
        values = self.run(output_names, input_dict_ort_values, run_options)
        return [OrtValue(lowprec.internal_value(v)) for v in values]

    def io_binding(self) -> IOBinding:
        return IOBinding(self)

    def run_with_iobinding(self, iobinding: IOBinding, run_options: RunOptions | None = None) -> None:
        """Run with the inputs and outputs bound in ``iobinding`` (see IOBinding)."""
        if not isinstance(iobinding, IOBinding) or iobinding._session is not self:
            raise InvalidArgument("IOBinding must be used with the session that created it.")
        iobinding._run(run_options)

    def _feedable_names(self) -> list[str]:
        return [vi.name for vi in self._inputs + self._overridable]

    def _prepare_feeds(self, input_feed, run_options=None):
        """Feeds converted as onnxruntime's Python layer converts them (OrtValues, lists,
        scalars; see ortvalue.feed_value), after its check that no required input is missing;
        the parameters of the run's active LoRA adapters are added."""
        if not isinstance(input_feed, Mapping):
            return input_feed  # _check_feeds names the problem
        for adapter in getattr(run_options, "_adapters", ()):
            clash = sorted(set(adapter.feeds()) & set(input_feed))
            if clash:
                raise InvalidArgument(f"input(s) {clash} are both fed and set by an active adapter")
            input_feed = {**input_feed, **adapter.feeds()}
        missing = [vi.name for vi in self._inputs
                   if vi.name not in input_feed and vi.kind != "optional"]
        if missing:
            raise InvalidArgument(
                f"Required inputs ({missing}) are missing from input feed ({list(input_feed)})."
            )
        declared = {vi.name: vi for vi in self._inputs + self._overridable}
        return {name: feed_value(value, declared[name].elem_type, declared[name].kind)
                if name in declared else value for name, value in input_feed.items()}

    def _begin_run(self, output_names, input_feed) -> tuple[list[str], dict[str, Any], float]:
        names = self._check_output_names(output_names)
        feeds = self._check_feeds(input_feed)
        return names, feeds, self._profiler.now_us() if self._profiler else 0.0

    def _end_run(self, names: list[str], results: dict[str, Any], start: float, feeds) -> list:
        if self._profiler:
            self._profiler.record("Session", "model_run", start, {})
        feed_arrays = [v for v in feeds.values() if isinstance(v, np.ndarray)]
        # Low-precision outputs leave as ml_dtypes arrays when ml_dtypes is importable.
        return [lowprec.public_value(self._unalias(results[n], feed_arrays)) for n in names]

    def _unalias(self, value: Any, feeds: list[np.ndarray]) -> Any:
        """``value``, copied if it shares memory with session state or a feed.

        Identity, Reshape, Split ... return views; an output that is a view of an
        initializer or constant would let the caller change later runs, and one of
        a feed would change when the caller reuses its buffer (onnxruntime copies
        too).  Other outputs are returned as they are.
        """
        if isinstance(value, list):
            return [self._unalias(v, feeds) for v in value]
        if not isinstance(value, np.ndarray) or value.size == 0:
            return value
        if self._state_memory.overlaps(value) or any(np.may_share_memory(value, f) for f in feeds):
            return value.copy()
        return value

    def _plan_runner(self):
        """The provider that drives whole plans (WebGPU: segments), or None for the executor."""
        return next((p for p in self._providers if hasattr(p, "run_plan_async")), None)

    def placement_report(self) -> dict[str, Any]:
        """Where each node runs (after the first run: where it ran, run-time fallbacks
        included), with the share of nodes and of FLOPs per provider."""
        runner = self._plan_runner()
        if runner is not None:
            return runner.placement_report(self._plan)
        rows = [{"node": n, "op": op, "provider": p, "flops": 0} for n, op, p in self.node_placement()]
        return {"nodes": rows, "gpu_nodes": 0, "total_nodes": len(rows), "node_share": 0.0,
                "flop_share": 0.0, "fallback_ops": {}}

    def _check_output_names(self, output_names) -> list[str]:
        known = [vi.name for vi in self._outputs]
        if output_names is None or len(output_names) == 0:
            return known
        if isinstance(output_names, str):
            raise InvalidArgument("output_names must be a list of names (or None), not a string")
        unknown = [n for n in output_names if n not in known]
        if unknown:
            raise InvalidArgument(f"unknown output name(s) {unknown}; the model's outputs are {known}")
        return list(output_names)

    def _check_feeds(self, input_feed: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(input_feed, Mapping):
            raise InvalidArgument(f"input_feed must be a dict of name -> numpy array, got {type(input_feed).__name__}")
        declared = {vi.name: vi for vi in self._inputs + self._overridable}
        unknown = [n for n in input_feed if n not in declared]
        if unknown:
            raise InvalidArgument(
                f"unknown input name(s) {unknown}; the model's inputs are {[vi.name for vi in self._inputs]}"
            )
        missing = [vi.name for vi in self._inputs if vi.name not in input_feed]
        if missing:
            raise InvalidArgument(f"missing required input(s) {missing}")
        feeds = {}
        for name, value in input_feed.items():
            # ml_dtypes arrays (bfloat16, float8 ...) enter as wasm_rt's structured dtypes.
            feeds[name] = self._check_value(declared[name], lowprec.internal_value(value))
        return feeds

    def _check_value(self, vi: ValueInfo, value: Any):
        if vi.kind == "map":
            return maps.convert_map(value, vi.name, vi.type_string)
        if vi.kind in ("sequence", "optional", "unknown"):
            return value  # containers are checked by the kernels that read them
        if not isinstance(value, np.ndarray):
            if isinstance(value, (np.generic, int, float, bool, list, tuple)):
                try:
                    value = np.asarray(value)
                except (ValueError, TypeError) as e:
                    raise InvalidArgument(
                        f"input '{vi.name}': expected {vi.type_string}, got a "
                        f"{type(value).__name__} that is not a rectangular array (rows of "
                        f"different lengths?): {e}"
                    ) from None
            else:
                raise InvalidArgument(
                    f"input '{vi.name}': expected a numpy array of type {vi.type_string}, "
                    f"got {type(value).__name__}"
                )
        expected_type = vi.elem_type
        if value.dtype.kind in "US" and expected_type == dtypes.STRING:
            value = value.astype(object)  # numpy fixed-width strings hold the same text
        elif expected_type != dtypes.UNDEFINED and dtypes.from_numpy_or_none(value.dtype) != expected_type:
            raise InvalidArgument(
                f"input '{vi.name}': expected {vi.type_string}, got tensor({_np_name(value.dtype)}) "
                f"(numpy {value.dtype}); convert with .astype(...) before feeding"
            )
        if vi.shape is not None:
            if value.ndim != len(vi.shape):
                raise InvalidArgument(
                    f"input '{vi.name}': expected rank {len(vi.shape)} (shape {vi.shape}), "
                    f"got rank {value.ndim} (shape {list(value.shape)})"
                )
            for axis, (want, got) in enumerate(zip(vi.shape, value.shape)):
                if isinstance(want, int) and want >= 0 and want != got:
                    raise InvalidArgument(
                        f"input '{vi.name}': dimension {axis} must be {want} (shape {vi.shape}), "
                        f"got {got} (shape {list(value.shape)})"
                    )
        check_alloc(value.shape, value.dtype, f"input '{vi.name}'")
        return value

    # --- profiling -----------------------------------------------------------

    def end_profiling(self) -> str:
        """Write the profile (Chrome trace JSON) and return its file name; '' if profiling is off."""
        if not self._profiler:
            return ""
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        path = f"{self._options.profile_file_prefix}{stamp}.json"
        with open(path, "w") as f:
            json.dump(self._profiler.events, f)
        self._profiler.events = []
        return path

    def profile_events(self) -> list[dict]:
        """The profile events recorded so far (what end_profiling would write)."""
        return list(self._profiler.events) if self._profiler else []

    def release(self) -> None:
        for p in self._providers:
            p.release()


def _max_inlined_nodes(options: SessionOptions) -> int:
    """SessionOptions.max_inlined_nodes, or the session config key
    "session.max_inlined_nodes" when it is set (it wins, as config entries do)."""
    text = getattr(options, "_config", {}).get("session.max_inlined_nodes")
    if text is None:
        return int(options.max_inlined_nodes)
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise InvalidArgument(
            f"session config 'session.max_inlined_nodes' must be a non-negative integer, got {text!r}"
        )
    return int(text)


def _state_arrays(graph: Graph) -> list[np.ndarray]:
    """Every array a session holds: initializers and attribute tensors (Constant values),
    of the graph and of all its subgraphs."""
    found, todo = [], [graph]
    while todo:
        g = todo.pop()
        found.extend(v for v in g.initializers.values() if isinstance(v, np.ndarray))
        for node in g.nodes:
            for v in node.attrs.values():
                items = v if isinstance(v, list) else [v]
                found.extend(a for a in items if isinstance(a, np.ndarray))
            todo.extend(node.subgraphs())
    return found


class _MemoryIndex:
    """The memory ranges of a set of arrays, merged and sorted, so whether an output
    overlaps any of them costs one binary search instead of a pass over all of them."""

    def __init__(self, arrays: list[np.ndarray]):
        spans = sorted(_byte_bounds(a) for a in arrays if a.size)
        merged: list[list[int]] = []
        for low, high in spans:
            if merged and low <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        self.lows = [m[0] for m in merged]
        self.highs = [m[1] for m in merged]

    def overlaps(self, a: np.ndarray) -> bool:
        low, high = _byte_bounds(a)
        i = bisect.bisect_left(self.lows, high) - 1  # the last range starting below ``high``
        return i >= 0 and self.highs[i] > low


def _np_name(dtype) -> str:
    code = dtypes.from_numpy_or_none(dtype)
    return dtypes.type_name(code) if code is not None else str(dtype)
