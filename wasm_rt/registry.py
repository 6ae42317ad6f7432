"""The one place operators are registered.

A kernel is a plain function: tensor inputs positional (``None`` for an
omitted optional input), attributes keyword-only with the ONNX defaults in the
signature, and a return value that is one output or a tuple of outputs::

    @register("Softmax", since=13)
    def softmax(x, *, axis=-1):
        ...

Kernels that need more than their inputs (subgraphs, the number of outputs the
node asks for, the node's name for errors) take a :class:`KernelContext` as
their first argument and register with ``context=True``.

Each op also has a shape inference rule, registered next to its kernel
either with the kernel (``@register("Relu", since=14, shape=same_shape)``) or
with :func:`shape_rule`; :mod:`wasm_rt.shape_rules` holds the shared helpers
(``same_shape``, ``broadcast``, ``reduce`` ...) and the rule protocol: a rule
takes a :class:`wasm_rt.shape_inference.RuleContext` and returns the output
types.

Lookup picks the newest implementation whose ``since`` is not above the
model's opset for the op's domain, which is how ONNX versions operators: an
op keeps its semantics until a newer version is defined.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import RuntimeException

ONNX_DOMAIN = ""
ML_DOMAIN = "ai.onnx.ml"


def normalize_domain(domain: str) -> str:
    """'ai.onnx' and '' name the same default domain."""
    return "" if domain in ("", "ai.onnx") else domain


@dataclass(frozen=True)
class KernelDef:
    """One registered implementation of (domain, op_type) valid from ``since``."""

    domain: str
    op_type: str
    since: int
    fn: Callable[..., Any]
    context: bool
    attributes: frozenset[str] = field(default=frozenset())
    accepts_any_attribute: bool = False
    max_inputs: int | None = None

    @property
    def qualified_name(self) -> str:
        dom = self.domain or "ai.onnx"
        return f"{dom}::{self.op_type}-{self.since}"


_KERNELS: dict[tuple[str, str], list[KernelDef]] = {}


def _signature_facts(fn, context: bool):
    """Attribute names (keyword-only params) and the positional-input limit."""
    params = list(inspect.signature(fn).parameters.values())
    if context:
        params = params[1:]
    attrs = frozenset(p.name for p in params if p.kind is p.KEYWORD_ONLY)
    any_attr = any(p.kind is p.VAR_KEYWORD for p in params)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
    return attrs, any_attr, None if variadic else len(positional)


def register(op_type: str, since: int, domain: str = ONNX_DOMAIN, *, context: bool = False,
             shape: Callable[..., Any] | None = None):
    """Register the decorated function as the kernel of ``op_type`` from opset ``since``;
    ``shape`` is the op's shape inference rule from the same opset."""
    domain = normalize_domain(domain)
    if shape is not None:
        add_shape_rule(op_type, since, domain, shape)

    def deco(fn):
        attrs, any_attr, max_inputs = _signature_facts(fn, context)
        kdef = KernelDef(domain, op_type, since, fn, context, attrs, any_attr, max_inputs)
        versions = _KERNELS.setdefault((domain, op_type), [])
        if any(k.since == since for k in versions):
            raise RuntimeException(f"kernel {kdef.qualified_name} registered twice")
        versions.append(kdef)
        versions.sort(key=lambda k: k.since)
        return fn

    return deco


def lookup(domain: str, op_type: str, opset: int) -> KernelDef | None:
    """The newest kernel for (domain, op_type) with ``since <= opset``, or None."""
    versions = _KERNELS.get((normalize_domain(domain), op_type), ())
    best = None
    for k in versions:
        if k.since <= opset:
            best = k
    return best


_RULES: dict[tuple[str, str], list[tuple[int, Callable[..., Any]]]] = {}


def add_shape_rule(op_type: str, since: int, domain: str, rule: Callable[..., Any]) -> None:
    """Make ``rule`` the shape inference rule of (domain, op_type) from opset ``since``."""
    versions = _RULES.setdefault((normalize_domain(domain), op_type), [])
    versions[:] = [v for v in versions if v[0] != since]
    versions.append((since, rule))
    versions.sort(key=lambda v: v[0])


def shape_rule(op_type: str | tuple[str, ...], since: int = 1, domain: str = ONNX_DOMAIN):
    """Register the decorated function as the shape rule of ``op_type`` (or of each
    op of a tuple) from opset ``since``."""

    def deco(rule):
        for op in (op_type,) if isinstance(op_type, str) else op_type:
            add_shape_rule(op, since, domain, rule)
        return rule

    return deco


def lookup_rule(domain: str, op_type: str, opset: int) -> Callable[..., Any] | None:
    """The newest shape rule for (domain, op_type) with ``since <= opset``, or None."""
    _load_ops()
    best = None
    for since, rule in _RULES.get((normalize_domain(domain), op_type), ()):
        if since <= opset:
            best = rule
    return best


def ops_without_rules() -> list[tuple[str, str]]:
    """Registered kernels that have no shape rule."""
    _load_ops()
    return sorted(k for k in _KERNELS if k not in _RULES)


def registered_ops() -> dict[tuple[str, str], list[int]]:
    """Every registered (domain, op_type) with the opset versions implemented."""
    _load_ops()
    return {key: [k.since for k in ks] for key, ks in sorted(_KERNELS.items())}


_loaded = False


def _load_ops() -> None:
    """Import the kernel modules once; their decorators fill the table."""
    global _loaded
    if not _loaded:
        _loaded = True
        from . import (
            ops,  # noqa: F401
            shape_rules,  # noqa: F401
        )


def resolve(domain: str, op_type: str, opset: int) -> KernelDef | None:
    """`lookup` after making sure every kernel module is imported."""
    _load_ops()
    return lookup(domain, op_type, opset)


@dataclass
class KernelContext:
    """What a ``context=True`` kernel may use besides its inputs."""

    node_name: str
    op_type: str
    opset: int
    num_outputs: int
    output_names: tuple[str, ...]
    # Runs a subgraph attribute: (graph, list of inputs) -> list of outputs.
    run_subgraph: Callable[[Any, list], list] | None = None
