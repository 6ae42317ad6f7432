"""Plans and runs graphs.

Planning (once per session) picks a kernel for every node, including nodes of
subgraphs, so unsupported ops are all reported before anything runs, and works
out after which step each intermediate value is dead.  Running walks the plan,
frees dead values as it goes (peak memory follows live tensors, not all
tensors) and wraps kernel failures with the node that failed.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from . import cancel, input_checks
from .alloc_checks import compile_check
from .errors import Fail, InvalidArgument, InvalidGraph, MemoryLimitError, NotImplemented, WasmRtError
from .ir import Graph, Node
from .providers.base import ExecutionProvider
from .lowprec_ops import call_kernel
from .registry import KernelContext, KernelDef


@dataclass
class Step:
    node: Node
    kernel: KernelDef
    provider: str
    opset: int
    num_outputs: int
    release: list[str] = field(default_factory=list)


@dataclass
class Plan:
    graph: Graph
    steps: list[Step]
    # Values dead before the first step: feeds nobody reads.
    release_at_start: list[str] = field(default_factory=list)


class _Unsupported:
    """Collects every problem found while planning, to report them in one error."""

    def __init__(self):
        self.ops: dict[tuple[str, str, int], list[str]] = collections.defaultdict(list)
        self.other: list[str] = []

    def raise_if_any(self) -> None:
        lines = []
        # str keys: a name that is not text must not break the report it belongs to.
        for (domain, op, opset), nodes in sorted(self.ops.items(), key=lambda kv: repr(kv[0])):
            shown = ", ".join(repr(n) for n in nodes[:5]) + (f" and {len(nodes) - 5} more" if len(nodes) > 5 else "")
            lines.append(f"  {op} (domain '{domain or 'ai.onnx'}', opset {opset}): nodes {shown}")
        lines.extend(f"  {msg}" for msg in self.other)
        if lines:
            raise NotImplemented(
                f"the model uses {len(lines)} unsupported operator(s)/feature(s):\n" + "\n".join(lines)
            )


def _num_outputs(node: Node) -> int:
    n = len(node.outputs)
    while n and not node.outputs[n - 1]:
        n -= 1
    return n


class _Scope:
    """Names defined in one graph, falling back to the enclosing graph's scope."""

    __slots__ = ("names", "parent")

    def __init__(self, names: set[str], parent: _Scope | None):
        self.names, self.parent = names, parent

    def __contains__(self, name: str) -> bool:
        scope = self
        while scope is not None:
            if name in scope.names:
                return True
            scope = scope.parent
        return False


class Planner:
    def __init__(self, opsets: Mapping[str, int], providers: Sequence[ExecutionProvider]):
        self.opsets = opsets
        self.providers = providers
        self.unsupported = _Unsupported()
        self.plans: dict[int, Plan] = {}

    def plan(self, graph: Graph, outer_scope: _Scope | None = None) -> Plan:
        # The names visible here: this graph's, chained to the enclosing graphs' (never
        # copied, so planning stays linear in the graph's size).
        defined = _Scope({vi.name for vi in graph.inputs} | set(graph.initializers), outer_scope)
        known = input_checks.static_types(graph, top_level=outer_scope is None)
        steps: list[Step] = []
        for node in graph.nodes:
            for name in node.inputs:
                if name and name not in defined:
                    raise InvalidGraph(
                        f"{node.describe()} reads '{name}', which no node produces and which is "
                        "not a graph input or initializer"
                    )
            # A subgraph is planned now, so it sees exactly the names defined before its node.
            for g in node.subgraphs():
                self.plans[id(g)] = self.plan(g, defined)
            step = self._step(node, known)
            if step is not None:
                steps.append(step)
            defined.names.update(o for o in node.outputs if o)
        for vi in graph.outputs:
            if vi.name not in defined:
                raise InvalidGraph(f"graph '{graph.name}': output '{vi.name}' is never produced")
        plan = Plan(graph, steps)
        _compute_releases(plan)
        return plan

    def _step(self, node: Node, known: Mapping[str, Any] | None = None) -> Step | None:
        opset = self.opsets.get(node.domain)
        if opset is None:
            self.unsupported.other.append(
                f"{node.describe()}: domain '{node.domain}' is not imported by the model "
                "(missing opset_import) or is not supported"
            )
            return None
        for provider in self.providers:
            kernel = provider.kernel_for(node, opset)
            if kernel is not None:
                break
        else:
            self.unsupported.ops[(node.domain, node.op_type, opset)].append(node.name)
            return None
        bad = [a for a in node.attrs if a not in kernel.attributes]
        if bad and not kernel.accepts_any_attribute:
            self.unsupported.other.append(
                f"{node.describe()}: attribute(s) {', '.join(sorted(bad))} not supported by "
                f"kernel {kernel.qualified_name}"
            )
        if kernel.max_inputs is not None and len(node.inputs) > kernel.max_inputs:
            self.unsupported.other.append(
                f"{node.describe()}: {len(node.inputs)} inputs given, kernel "
                f"{kernel.qualified_name} takes at most {kernel.max_inputs}"
            )
        # Input count, required inputs, attributes and known types against the op's schema.
        input_checks.check_static(node, opset, known)
        return Step(node, kernel, provider.name, opset, _num_outputs(node))


def _compute_releases(plan: Plan) -> None:
    """Mark, on each step, the local values that no later step (or output) needs."""
    keep = {vi.name for vi in plan.graph.outputs} | set(plan.graph.initializers)
    last_use: dict[str, int] = {}
    for i, step in enumerate(plan.steps):
        reads = {n for n in step.node.inputs if n}
        for g in step.node.subgraphs():
            reads |= g.outer_refs()
        for name in reads:
            last_use[name] = i
        for name in step.node.outputs:
            if name and name not in last_use:
                last_use[name] = i  # produced but (so far) never read
    for name, i in last_use.items():
        if name not in keep:
            plan.steps[i].release.append(name)
    plan.release_at_start = [
        vi.name for vi in plan.graph.inputs if vi.name not in last_use and vi.name not in keep
    ]


class Profiler:
    """Per-node timings in the Chrome trace event format onnxruntime writes."""

    def __init__(self):
        self.events: list[dict[str, Any]] = []
        self.start_ns = time.perf_counter_ns()
        self.pid = os.getpid()
        self.tid = threading.get_ident() % 2**31

    def now_us(self) -> float:
        return (time.perf_counter_ns() - self.start_ns) / 1000

    def record(self, cat: str, name: str, start_us: float, args: dict[str, Any]) -> None:
        self.events.append(
            {"cat": cat, "pid": self.pid, "tid": self.tid, "dur": round(self.now_us() - start_us),
             "ts": round(start_us), "ph": "X", "name": name, "args": args}
        )


class Executor:
    def __init__(self, plans: dict[int, Plan], profiler: Profiler | None = None):
        self.plans = plans
        self.profiler = profiler

    def run(self, plan: Plan, feeds: dict[str, Any], outer: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run ``plan`` on ``feeds``; returns the graph's outputs by name."""
        local: dict[str, Any] = dict(feeds)
        scopes = [local, plan.graph.initializers] + ([outer] if outer is not None else [])
        env = collections.ChainMap(*scopes)
        for name in plan.release_at_start:
            local.pop(name, None)
        control = cancel.current()  # RunOptions.terminate / time limit, checked between nodes
        for i, step in enumerate(plan.steps):
            if control is not None:
                control.check(lambda s=step, k=i: f"{s.node.describe()}, step {k + 1} of "
                              f"{len(plan.steps)} of graph '{plan.graph.name}'")
            self.run_step(step, env, local)
            for name in step.release:
                local.pop(name, None)
        return {vi.name: env[vi.name] for vi in plan.graph.outputs}

    def run_subgraph(self, graph: Graph, inputs: list, outer: Mapping[str, Any]) -> list:
        plan = self.plans[id(graph)]
        if len(inputs) != len(graph.inputs):
            raise InvalidArgument(
                f"subgraph '{graph.name}' takes {len(graph.inputs)} inputs, got {len(inputs)}"
            )
        feeds = {vi.name: v for vi, v in zip(graph.inputs, inputs)}
        out = self.run(plan, feeds, outer)
        return [out[vi.name] for vi in graph.outputs]

    def run_step(self, step: Step, env: Mapping[str, Any], local: dict[str, Any]) -> None:
        """Run one step's kernel, reading ``env`` and writing its outputs into ``local``."""
        node = step.node
        args = [env[n] if n else None for n in node.inputs]
        start = self.profiler.now_us() if self.profiler else 0.0
        # The size check compiled once per step (None for ops that cannot grow).
        check = step.__dict__.get("alloc_check", _UNCOMPILED)
        if check is _UNCOMPILED:
            check = step.alloc_check = compile_check(node, step.opset)
        # The input check too, at the step's first run (None for ops without a schema).
        input_check = step.__dict__.get("input_check", _UNCOMPILED)
        if input_check is _UNCOMPILED:
            input_check = step.input_check = input_checks.compile_check(node, step.opset)
        if input_check is not None:
            input_check(args)  # dtypes / tensor vs sequence against the op's schema
        try:
            if check is not None:
                check(args)  # output sizes against the memory limit, before allocating
            if step.kernel.context:
                ctx = KernelContext(
                    node_name=node.name,
                    op_type=node.op_type,
                    opset=step.opset,
                    num_outputs=step.num_outputs,
                    output_names=tuple(node.outputs),
                    run_subgraph=lambda g, inputs: self.run_subgraph(g, inputs, env),
                )
                prefix: tuple = (ctx,)
            else:
                prefix = ()
            # Low-precision inputs (bfloat16, float8 ...) are handled, or refused,
            # as wasm_rt.lowprec_ops declares for the op.
            result = call_kernel(
                node.domain, node.op_type, step.kernel.fn, args, node.attrs, prefix
            )
        except WasmRtError as e:
            if getattr(e, "node", None):
                raise
            raise _wrap(type(e), step, e) from e
        except MemoryError as e:
            raise _wrap(MemoryLimitError, step, e) from e
        except Exception as e:
            raise _wrap(Fail, step, e) from e
        results = result if isinstance(result, tuple) else (result,)
        if len(results) < step.num_outputs:
            raise Fail(
                f"{node.describe()}: kernel {step.kernel.qualified_name} returned "
                f"{len(results)} output(s), the node expects {step.num_outputs}"
            )
        for name, value in zip(node.outputs, results):
            if name:
                local[name] = value
        if self.profiler:
            self.profiler.record(
                "Node",
                f"{node.name}_kernel_time",
                start,
                {"op_name": node.op_type, "provider": step.provider, "node_index": node.name,
                 "output_type_shape": [_shape_of(v) for v in results]},
            )


_UNCOMPILED = object()


def _wrap(cls: type, step: Step, cause: BaseException) -> WasmRtError:
    """An error of class ``cls`` that names the failing node; ``.node`` marks it
    so an enclosing If/Loop node does not wrap it a second time."""
    node = step.node
    detail = str(cause) if isinstance(cause, WasmRtError) else f"{type(cause).__name__}: {cause}"
    err = cls(
        f"{node.describe()} failed (kernel {step.kernel.qualified_name}, opset {step.opset}, "
        f"provider {step.provider}): {detail}"
    )
    err.node = node.name
    return err


def _shape_of(v) -> Any:
    shape = getattr(v, "shape", None)
    return {"shape": list(shape)} if shape is not None else {"type": type(v).__name__}
