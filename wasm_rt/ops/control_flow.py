"""If, Loop and Scan: ops whose bodies are subgraphs run by the executor.

Bodies see outer-scope values through ``ctx.run_subgraph``; iteration is a
Python loop over trip counts, never over tensor elements.
"""

from __future__ import annotations

import numpy as np

from ..cancel import checkpoint
from ..errors import InvalidArgument
from ..limits import check_alloc
from ..registry import KernelContext, register
from ._common import normalize_axis


@register("If", since=1, context=True)
def if_(ctx: KernelContext, cond, *, then_branch, else_branch):
    if np.asarray(cond).size != 1:
        raise ValueError(f"If condition must hold one element, got shape {np.shape(cond)}")
    branch = then_branch if bool(np.asarray(cond).reshape(-1)[0]) else else_branch
    outputs = ctx.run_subgraph(branch, [])
    if len(outputs) != ctx.num_outputs:
        raise ValueError(
            f"the taken branch '{branch.name}' produced {len(outputs)} outputs, "
            f"the If node has {ctx.num_outputs}"
        )
    return tuple(outputs)


def _check_stacked(values: list, count: int, what: str) -> None:
    """The stacked size of ``count`` per-iteration outputs like the last one, against
    the memory limit, checked as the stack grows (not after it is built)."""
    last = values[-1] if values else None
    if isinstance(last, np.ndarray):
        check_alloc((count,) + last.shape, last.dtype, what)


def _check_num_scan_inputs(num_scan_inputs, n_inputs: int, n_body_inputs: int) -> None:
    if not isinstance(num_scan_inputs, int) or not 0 < num_scan_inputs <= n_inputs:
        raise InvalidArgument(
            f"Scan: num_scan_inputs must be between 1 and the {n_inputs} inputs given, "
            f"got {num_scan_inputs!r}"
        )
    if n_body_inputs != n_inputs:
        raise InvalidArgument(
            f"Scan: the body takes {n_body_inputs} inputs, the node gives {n_inputs} "
            "(states + scan inputs)"
        )


def _stack(values: list, like=None):
    """Stack per-iteration scan outputs; sequences of tensors stay lists."""
    if values and isinstance(values[0], list):
        return [v for seq in values for v in seq]
    if not values:
        return np.empty((0,), dtype=np.float32) if like is None else np.empty((0,) + like.shape, like.dtype)
    return np.stack([np.asarray(v) for v in values])


@register("Loop", since=1, context=True)
def loop(ctx: KernelContext, max_trip_count, cond, *initial, body):
    n_carried = len(initial)
    n_scan = len(body.outputs) - 1 - n_carried
    if n_scan < 0:
        raise ValueError(
            f"Loop body has {len(body.outputs)} outputs, needs at least {1 + n_carried} "
            "(condition + loop-carried values)"
        )
    trip_limit = None if max_trip_count is None else int(np.asarray(max_trip_count).reshape(-1)[0])
    keep_going = True if cond is None else bool(np.asarray(cond).reshape(-1)[0])
    carried = list(initial)
    scans: list[list] = [[] for _ in range(n_scan)]
    i = 0
    while keep_going and (trip_limit is None or i < trip_limit):
        # RunOptions.terminate / time limit: also stops bodies that run no nodes.
        checkpoint(lambda k=i: f"iteration {k} of Loop node '{ctx.node_name}'")
        cond_in = np.array(keep_going) if cond is not None else np.array(True)
        out = ctx.run_subgraph(body, [np.array(i, dtype=np.int64), cond_in] + carried)
        if cond is not None:
            keep_going = bool(np.asarray(out[0]).reshape(-1)[0])
        carried = list(out[1 : 1 + n_carried])
        for k in range(n_scan):
            scans[k].append(out[1 + n_carried + k])
            _check_stacked(scans[k], len(scans[k]), f"Loop scan output {k}")
        i += 1
    return tuple(carried) + tuple(_stack(s) for s in scans)


def _scan_core(ctx, states, scan_inputs, body, in_axes, in_dirs, out_axes, out_dirs):
    n_out_scan = len(body.outputs) - len(states)
    lengths = {x.shape[ax] for x, ax in zip(scan_inputs, in_axes)}
    if len(lengths) > 1:
        raise ValueError(f"Scan inputs disagree on the sequence length: {sorted(lengths)}")
    steps = lengths.pop() if lengths else 0
    per_iter: list[list] = [[] for _ in range(n_out_scan)]
    for t in range(steps):
        checkpoint(lambda k=t: f"iteration {k} of Scan node '{ctx.node_name}'")
        slices = [
            np.take(x, steps - 1 - t if d else t, axis=ax)
            for x, ax, d in zip(scan_inputs, in_axes, in_dirs)
        ]
        out = ctx.run_subgraph(body, list(states) + slices)
        states = out[: len(states)]
        for k in range(n_out_scan):
            per_iter[k].append(out[len(states) + k])
            if t == 0:  # every iteration's output has the first one's shape
                _check_stacked(per_iter[k], steps, f"Scan scan output {k}")
    results = []
    for k, vals in enumerate(per_iter):
        if out_dirs[k]:
            vals = vals[::-1]
        stacked = np.stack(vals) if vals else np.empty((0,), np.float32)
        results.append(np.moveaxis(stacked, 0, out_axes[k]) if vals else stacked)
    return list(states), results


@register("Scan", since=9, context=True)
def scan(
    ctx: KernelContext,
    *inputs,
    body,
    num_scan_inputs,
    scan_input_axes=None,
    scan_input_directions=None,
    scan_output_axes=None,
    scan_output_directions=None,
):
    _check_num_scan_inputs(num_scan_inputs, len(inputs), len(body.inputs))
    n_state = len(inputs) - num_scan_inputs
    states, scan_in = list(inputs[:n_state]), [np.asarray(x) for x in inputs[n_state:]]
    n_out_scan = len(body.outputs) - n_state
    in_axes = [normalize_axis(a, x.ndim) for a, x in zip(scan_input_axes or [0] * len(scan_in), scan_in)]
    in_dirs = scan_input_directions or [0] * len(scan_in)
    out_dirs = scan_output_directions or [0] * n_out_scan
    # Output axes are relative to the stacked output, one rank above a body output.
    ranks = [len(vi.shape) + 1 if vi.shape is not None else 1 for vi in body.outputs[n_state:]]
    out_axes = [a % r if r else 0 for a, r in zip(scan_output_axes or [0] * n_out_scan, ranks)]
    states, results = _scan_core(ctx, states, scan_in, body, in_axes, in_dirs, out_axes, out_dirs)
    return tuple(states) + tuple(results)


@register("Scan", since=8, context=True)
def scan_8(ctx: KernelContext, sequence_lens, *inputs, body, num_scan_inputs, directions=None):
    """Opset 8: a leading batch axis on every input, sequences along axis 1."""
    _check_num_scan_inputs(num_scan_inputs, len(inputs), len(body.inputs))
    n_state = len(inputs) - num_scan_inputs
    batch = np.asarray(inputs[0]).shape[0]
    dirs = directions or [0] * num_scan_inputs
    n_out_scan = len(body.outputs) - n_state
    per_batch = []
    for b in range(batch):
        states = [np.asarray(x)[b] for x in inputs[:n_state]]
        scan_in = [np.asarray(x)[b] for x in inputs[n_state:]]
        if sequence_lens is not None:
            length = int(np.asarray(sequence_lens).reshape(-1)[b])
            scan_in = [x[:length] for x in scan_in]
        per_batch.append(
            _scan_core(ctx, states, scan_in, body, [0] * len(scan_in), dirs, [0] * n_out_scan, [0] * n_out_scan)
        )
    states = [np.stack([pb[0][k] for pb in per_batch]) for k in range(n_state)]
    outs = [np.stack([pb[1][k] for pb in per_batch]) for k in range(n_out_scan)]
    return tuple(states) + tuple(outs)
