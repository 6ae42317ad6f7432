"""Shape rules of the ops with subgraphs (If, Loop, Scan, SequenceMap), of the
sequence and optional ops, and of the generators and signal/detection/text ops."""

from __future__ import annotations

from .registry import shape_rule
from .shape_inference import RuleContext, ValueType
from .shape_rules import INT64, T, norm_axis

# --- control flow ---------------------------------------------------------------


def _join(
    a: ValueType | None, b: ValueType | None, ctx: RuleContext
) -> ValueType | None:
    """The type both branches agree on: unequal dims become fresh symbols."""
    if a is None or b is None:
        return a or b
    elem = (
        a.elem_type
        if a.elem_type == b.elem_type
        else (a.elem_type if b.elem_type == "unknown" else b.elem_type)
    )
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        return ValueType(elem, None)
    return ValueType(
        elem, tuple(x if x == y else ctx.fresh() for x, y in zip(a.shape, b.shape))
    )


@shape_rule("If")
def _if(ctx: RuleContext):
    then = ctx.infer_subgraph(ctx.attr("then_branch"), [])
    other = ctx.infer_subgraph(ctx.attr("else_branch"), [])
    return [_join(a, b, ctx) for a, b in zip(then, other)]


def _scalar(elem: str) -> ValueType:
    return ValueType(elem, ())


@shape_rule("Loop")
def _loop(ctx: RuleContext):
    body = ctx.attr("body")
    carried = [ctx.input(i) for i in range(2, len(ctx.inputs))]
    outs = ctx.infer_subgraph(body, [_scalar(INT64), _scalar("bool")] + carried)
    n_carried = len(carried)
    result = []
    for k in range(n_carried):
        got = outs[1 + k] if 1 + k < len(outs) else None
        result.append(_join(carried[k], got, ctx) if carried[k] is not None else got)
    trips = None
    m = ctx.ints(0) if ctx.has(0) else None
    if m is not None and not ctx.has(1):
        trips = m[0]
    for vt in outs[1 + n_carried :]:
        n = trips if trips is not None else ctx.fresh()
        if vt is None or vt.shape is None:
            result.append(ValueType(vt.elem_type if vt else "unknown", None))
        elif not vt.is_tensor:
            result.append(vt)
        else:
            result.append(ValueType(vt.elem_type, (n,) + vt.shape))
    return result


@shape_rule("Scan", since=9)
def _scan(ctx: RuleContext):
    body = ctx.attr("body")
    n_scan = ctx.attr("num_scan_inputs")
    n_state = len(ctx.inputs) - n_scan
    states = [ctx.input(i) for i in range(n_state)]
    scans = [ctx.input(i) for i in range(n_state, len(ctx.inputs))]
    in_axes = ctx.attr("scan_input_axes") or [0] * n_scan
    seq = None
    sliced = []
    for vt, ax in zip(scans, in_axes):
        if vt is None or vt.shape is None:
            sliced.append(vt)
            continue
        a = norm_axis(ax, len(vt.shape))
        seq = vt.shape[a] if seq is None or not isinstance(seq, int) else seq
        sliced.append(ValueType(vt.elem_type, vt.shape[:a] + vt.shape[a + 1 :]))
    outs = ctx.infer_subgraph(body, states + sliced)
    result = [_join(s, o, ctx) if s is not None else o for s, o in zip(states, outs)]
    out_axes = ctx.attr("scan_output_axes") or [0] * (len(outs) - n_state)
    for vt, ax in zip(outs[n_state:], out_axes):
        if vt is None or vt.shape is None:
            result.append(vt)
            continue
        a = norm_axis(ax, len(vt.shape) + 1)
        shape = list(vt.shape)
        shape.insert(a, seq if seq is not None else ctx.fresh())
        result.append(ValueType(vt.elem_type, tuple(shape)))
    return result


@shape_rule("Scan", since=8)
def _scan_8(ctx: RuleContext):
    body = ctx.attr("body")
    n_scan = ctx.attr("num_scan_inputs")
    inputs = [ctx.input(i) for i in range(1, len(ctx.inputs))]
    n_state = len(inputs) - n_scan

    def drop(vt, k):
        if vt is None or vt.shape is None or len(vt.shape) <= k:
            return vt
        return ValueType(vt.elem_type, vt.shape[k + 1 :])

    states = [drop(v, 0) for v in inputs[:n_state]]
    scans = [drop(v, 1) for v in inputs[n_state:]]
    first = inputs[0] if inputs else None
    batch = first.shape[0] if first is not None and first.shape else ctx.fresh()
    sv = inputs[n_state] if n_scan else None
    seq = (
        sv.shape[1]
        if sv is not None and sv.shape and len(sv.shape) > 1
        else ctx.fresh()
    )
    outs = ctx.infer_subgraph(body, states + scans)
    result = []
    for k, vt in enumerate(outs):
        if vt is None or vt.shape is None:
            result.append(vt)
        elif k < n_state:
            result.append(ValueType(vt.elem_type, (batch,) + vt.shape))
        else:
            result.append(ValueType(vt.elem_type, (batch, seq) + vt.shape))
    return result


# --- generators ---------------------------------------------------------------------


# --- detection, loss, training ------------------------------------------------------


# --- strings ----------------------------------------------------------------------


@shape_rule("ImageDecoder", since=20)
def _image_decoder(ctx: RuleContext):
    channels = 1 if ctx.attr("pixel_format", "RGB") == "Grayscale" else 3
    return T("uint8", (ctx.fresh(), ctx.fresh(), channels))
