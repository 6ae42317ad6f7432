"""Elementwise ops as tables: op -> WGSL expression.

In an expression ``a``, ``b``, ``c`` are the inputs (converted to their WGSL
storage types), ``p0``/``p1`` float attributes from the uniform block (so an
attribute value never forces a new pipeline) and ``T`` the element type.
"""

from __future__ import annotations

import math

import numpy as np

from ..program import GTensor, Unsupported, host_value
from . import gpu_op
from ._common import FLOATS, broadcast_layout, dtype_of, require_float, shape_of

# op -> (expression, {attribute: (param slot, default)})
UNARY = {
    "Abs": ("abs(a)", {}),
    "Neg": ("-a", {}),
    "Exp": ("exp(a)", {}),
    "Log": ("log(a)", {}),
    "Sqrt": ("sqrt(a)", {}),
    "Reciprocal": ("T(1) / a", {}),
    "Floor": ("floor(a)", {}),
    "Ceil": ("ceil(a)", {}),
    "Round": ("round(a)", {}),
    "Sign": ("sign(a)", {}),
    "Sin": ("sin(a)", {}),
    "Cos": ("cos(a)", {}),
    "Tan": ("tan(a)", {}),
    "Asin": ("asin(a)", {}),
    "Acos": ("acos(a)", {}),
    "Atan": ("atan(a)", {}),
    "Sinh": ("sinh(a)", {}),
    "Cosh": ("cosh(a)", {}),
    "Asinh": ("asinh(a)", {}),
    "Acosh": ("acosh(a)", {}),
    "Atanh": ("atanh(a)", {}),
    "Tanh": ("tanh(clamp(a, T(-10), T(10)))", {}),
    "Sigmoid": ("T(1) / (T(1) + exp(-a))", {}),
    "Relu": ("max(a, T(0))", {}),
    "LeakyRelu": ("select(a * T(p0), a, a >= T(0))", {"alpha": 0.01}),
    "Elu": ("select(T(p0) * (exp(a) - T(1)), a, a >= T(0))", {"alpha": 1.0}),
    "Selu": (
        "T(p1) * select(T(p0) * (exp(a) - T(1)), a, a > T(0))",
        {"alpha": 1.6732632423543772, "gamma": 1.0507009873554805},
    ),
    "Celu": ("max(T(0), a) + min(T(0), T(p0) * (exp(a / T(p0)) - T(1)))", {"alpha": 1.0}),
    "ThresholdedRelu": ("select(T(0), a, a > T(p0))", {"alpha": 1.0}),
    "HardSigmoid": ("clamp(T(p0) * a + T(p1), T(0), T(1))", {"alpha": 0.2, "beta": 0.5}),
    "HardSwish": ("a * clamp(a / T(6) + T(0.5), T(0), T(1))", {}),
    "Softplus": ("max(a, T(0)) + log(T(1) + exp(-abs(a)))", {}),
    "Softsign": ("a / (T(1) + abs(a))", {}),
    "Mish": ("a * tanh(clamp(max(a, T(0)) + log(T(1) + exp(-abs(a))), T(-10), T(10)))", {}),
    "Erf": ("T(erf_f32(f32(a)))", {}),
    "Identity": ("a", {}),
    "Dropout": ("a", {}),
}
GELU = {
    "none": "T(0.5 * f32(a) * (1.0 + erf_f32(f32(a) * 0.70710678118654752)))",
    "tanh": "T(0.5 * f32(a) * (1.0 + tanh(clamp(0.7978845608028654 * (f32(a) + 0.044715 * f32(a) * f32(a) * f32(a)), -10.0, 10.0))))",
}
POW = (
    "select(select(pow(a, b), pow(abs(a), b) * select(T(1), T(-1), abs(b) % T(2) == T(1)),"
    " a < T(0) && b == round(b)), T(1), b == T(0))"
)
BINARY = {
    "Add": "a + b",
    "Sub": "a - b",
    "Mul": "a * b",
    "Div": "a / b",
    "Pow": POW,
    "Max": "max(a, b)",
    "Min": "min(a, b)",
    "PRelu": "select(a * b, a, a >= T(0))",
}
COMPARE = {
    "Equal": "select(0u, 1u, a == b)",
    "Less": "select(0u, 1u, a < b)",
    "Greater": "select(0u, 1u, a > b)",
    "LessOrEqual": "select(0u, 1u, a <= b)",
    "GreaterOrEqual": "select(0u, 1u, a >= b)",
}
LOGIC = {"And": "a & b", "Or": "a | b", "Xor": "a ^ b"}


def emit_unary(e, x, expr, p0=0.0, p1=0.0, out_dtype=None):
    x = e.gpu(x)
    y = e.new(x.shape, out_dtype or x.dtype)
    e.dispatch(
        "elementwise/unary", x.dtype if x.dtype in FLOATS else y.dtype, [x.size, float(p0), float(p1)], [x, y],
        defines={"TA": x.storage, "TY": y.storage, "EXPR": expr}, threads=x.size,
    )
    return y


def emit_broadcast(e, inputs, expr, out_dtype, p0=0.0, p1=0.0, t_dtype=None):
    """y = expr(a, b[, c]) with numpy broadcasting over 2 or 3 inputs."""
    xs = [e.gpu(x) for x in inputs]
    out_shape = tuple(np.broadcast_shapes(*[x.shape for x in xs]))
    dims, strides = broadcast_layout(out_shape, [x.shape for x in xs])
    if len(dims) > 8:
        raise Unsupported(f"broadcast of rank {len(dims)} > 8")
    y = e.new(out_shape, out_dtype)
    while len(xs) < 3:  # the kernel always reads c: bind a as a stand-in
        xs.append(xs[0])
        strides.append([0] * len(dims))
    rank = len(dims)
    params = [y.size, float(p0), float(p1), 0] + dims + [1] * (8 - rank)
    for s in strides:
        params += s + [0] * (8 - rank)
    defines = {"RANK": rank, "TA": xs[0].storage, "TB": xs[1].storage, "TC": xs[2].storage,
               "TY": y.storage, "EXPR": expr}
    e.dispatch("elementwise/broadcast", t_dtype or xs[0].dtype, params, xs + [y],
               defines=defines, threads=y.size)
    return y


def _attr_params(node, attrs):
    values = [float(node.attrs.get(name, default)) for name, default in attrs.items()]
    return values + [0.0] * (2 - len(values))


@gpu_op(*UNARY)
def unary(e, node, inputs, opset):
    if node.op_type == "Dropout":
        if len(inputs) > 2 and inputs[2] is not None and bool(np.asarray(host_value(inputs[2], "training_mode"))):
            raise Unsupported("Dropout in training mode")
    x = inputs[0]
    if node.op_type in ("Identity", "Dropout"):
        x = e.gpu(x)  # a view: same buffer
        if node.op_type == "Dropout" and len(node.outputs) > 1 and node.outputs[1]:
            mask = e.new(x.shape, np.bool_)
            e.dispatch("data/fill", "bool", [x.size], [mask], defines={"TY": "u32", "VALUE": "1u"},
                       threads=x.size)
            return [x, mask]
        return [x]
    require_float(x)
    expr, attrs = UNARY[node.op_type]
    return [emit_unary(e, x, expr, *_attr_params(node, attrs))]


@gpu_op("Gelu")
def gelu(e, node, inputs, opset):
    require_float(inputs[0])
    approx = node.attrs.get("approximate", "none")
    if isinstance(approx, bytes):
        approx = approx.decode()
    return [emit_unary(e, inputs[0], GELU[approx])]


@gpu_op(*BINARY, "Sum", "Mean")
def binary(e, node, inputs, opset):
    dtype = require_float(*inputs)
    op = node.op_type
    if op in ("Sum", "Mean", "Max", "Min"):
        expr = BINARY.get(op, "a + b")
        acc = inputs[0]
        for x in inputs[1:]:
            acc = emit_broadcast(e, [acc, x], expr, dtype)
        acc = e.gpu(acc)
        if op == "Mean" and len(inputs) > 1:
            acc = emit_unary(e, acc, "a * T(p0)", 1.0 / len(inputs))
        return [acc]
    if op == "PRelu" and not _unidirectional(shape_of(inputs[0]), shape_of(inputs[1])):
        raise Unsupported("PRelu slope not broadcastable to X")
    return [emit_broadcast(e, inputs[:2], BINARY[op], dtype)]


def _unidirectional(x_shape, s_shape):
    return tuple(np.broadcast_shapes(x_shape, s_shape)) == tuple(x_shape)


@gpu_op("Mod")
def mod(e, node, inputs, opset):
    dtype = require_float(*inputs)
    if not node.attrs.get("fmod", 0):
        raise Unsupported("Mod on floats needs fmod=1")
    return [emit_broadcast(e, inputs, "a - b * trunc(a / b)", dtype)]


@gpu_op(*COMPARE)
def compare(e, node, inputs, opset):
    require_float(*inputs)
    return [emit_broadcast(e, inputs, COMPARE[node.op_type], np.dtype(bool))]


@gpu_op(*LOGIC)
def logic(e, node, inputs, opset):
    if any(dtype_of(x) != np.bool_ for x in inputs):
        raise Unsupported("logic ops take bool")
    return [emit_broadcast(e, inputs, LOGIC[node.op_type], np.dtype(bool), t_dtype="bool")]


@gpu_op("Not")
def not_(e, node, inputs, opset):
    if dtype_of(inputs[0]) != np.bool_:
        raise Unsupported("Not takes bool")
    return [emit_unary(e, inputs[0], "1u - min(a, 1u)")]


@gpu_op("Where")
def where(e, node, inputs, opset):
    cond, x, y = inputs
    if dtype_of(cond) != np.bool_:
        raise Unsupported("Where condition must be bool")
    dtype = require_float(x, y)
    return [emit_broadcast(e, [cond, x, y], "select(c, b, a != 0u)", dtype, t_dtype=dtype)]


@gpu_op("Clip")
def clip(e, node, inputs, opset):
    dtype = require_float(inputs[0])
    big = 65504.0 if dtype == np.float16 else 3.4028234663852886e38
    if opset < 11:
        lo, hi = node.attrs.get("min", -big), node.attrs.get("max", big)
    else:
        lo_v = host_value(inputs[1] if len(inputs) > 1 else None, "Clip min")
        hi_v = host_value(inputs[2] if len(inputs) > 2 else None, "Clip max")
        lo = float(lo_v) if lo_v is not None else -big
        hi = float(hi_v) if hi_v is not None else big
    return [emit_unary(e, inputs[0], "min(max(a, T(p0)), T(p1))", max(lo, -big), min(hi, big))]


CAST_TYPES = {"float32", "float16", "int32", "int64", "bool"}
ONNX_TO_NP = {1: "float32", 10: "float16", 6: "int32", 7: "int64", 9: "bool"}


@gpu_op("Cast")
def cast(e, node, inputs, opset):
    x = inputs[0]
    src = dtype_of(x)
    dst = ONNX_TO_NP.get(node.attrs.get("to"))
    if dst is None or src.name not in CAST_TYPES:
        raise Unsupported(f"Cast {src} -> {node.attrs.get('to')}")
    dst = np.dtype(dst)
    if dst == np.bool_:
        expr = "select(0u, 1u, a != TA(0))"
    else:
        expr = "TY(a)"
    x = e.gpu(x)
    if x.storage == GTensor((), dst, 0).storage and src != np.bool_:
        return [e.view(x, x.shape) if src == dst else _retype(e, x, dst)]
    return [emit_unary(e, x, expr.replace("TA", x.storage).replace("TY", GTensor((), dst, 0).storage), out_dtype=dst)]


def _retype(e, x, dtype):
    """Same storage type (int32 <-> int64): a view with the new logical dtype."""
    return GTensor(x.shape, np.dtype(dtype), x.slot)


@gpu_op("ConstantOfShape")
def constant_of_shape(e, node, inputs, opset):
    shape = [int(d) for d in host_value(inputs[0], "ConstantOfShape shape").reshape(-1)]
    value = node.attrs.get("value")
    value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    y = e.new(shape, value.dtype)
    v = value[0]
    lit = {"bool": f"{int(bool(v))}u", "int32": f"{int(v)}i", "int64": f"{int(v)}i"}.get(
        value.dtype.name, "T(pf(1u))")
    e.dispatch("data/fill", value.dtype, [math.prod(shape), float(v) if value.dtype in FLOATS else 0],
               [y], defines={"TY": y.storage, "VALUE": lit}, threads=math.prod(shape))
    return [y]
