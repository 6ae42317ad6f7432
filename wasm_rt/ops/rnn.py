"""Recurrent layers: RNN, GRU, LSTM.

The input projection ``X @ W^T + Wb`` of every time step is one matmul up
front; only the recurrence ``H @ R^T`` runs in a Python loop over time steps.
Each batch entry may have its own length (``sequence_lens``): past its end the
state is frozen and ``Y`` stays zero, and the reverse direction walks each
sequence back from its own last valid step, which is what onnxruntime does.
"""

from __future__ import annotations

import numpy as np

from ..limits import check_alloc
from ..registry import register, shape_rule
from ..shape_inference import RuleContext
from ..shape_rules import T


def _sigmoid(x):
    # exp(-x) overflows to inf for very negative x, which still gives the right 0.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _scaled_tanh(x, a, b):
    return a * np.tanh(b * x)


# name -> (function of (x, alpha, beta), default alpha or None, default beta or None);
# a None default means the function takes no such parameter from the attribute lists.
_ACTIVATIONS = {
    "relu": (lambda x, a, b: np.maximum(x, 0), None, None),
    "tanh": (lambda x, a, b: np.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: _sigmoid(x), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: np.where(x >= 0, x, a * x), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: np.where(x > a, x, 0), 1.0, None),
    "scaledtanh": (_scaled_tanh, 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: np.clip(a * x + b, 0, 1), 0.2, 0.5),
    "elu": (lambda x, a, b: np.where(x >= 0, x, a * (np.exp(np.minimum(x, 0)) - 1)), 1.0, None),
    "softsign": (lambda x, a, b: x / (1 + np.abs(x)), None, None),
    "softplus": (lambda x, a, b: np.logaddexp(0, x), None, None),
}


def _activation_fns(names, alphas, betas, clip, dtype):
    """Bind each activation name to its alpha/beta (taken in order from the lists)."""
    alphas, betas = list(alphas or []), list(betas or [])
    fns = []
    for name in names:
        key = name.decode() if isinstance(name, bytes) else name
        try:
            f, da, db = _ACTIVATIONS[key.lower()]
        except KeyError:
            raise ValueError(f"unsupported activation {key!r}; expected one of {sorted(_ACTIVATIONS)}") from None
        a = alphas.pop(0) if da is not None and alphas else da
        b = betas.pop(0) if db is not None and betas else db
        a = dtype.type(a) if a is not None else None
        b = dtype.type(b) if b is not None else None

        def fn(x, f=f, a=a, b=b):
            if clip is not None:
                x = np.clip(x, -clip, clip)
            return f(x, a, b).astype(dtype, copy=False)

        fns.append(fn)
    return fns


class _Setup:
    """Inputs normalized to time-major layout and the accumulation dtype."""

    def __init__(self, op, x, w, r, b, sequence_lens, initial_states, *, gates, direction, hidden_size, layout, activations, defaults, alphas, betas, clip):
        if direction not in ("forward", "reverse", "bidirectional"):
            raise ValueError(f"{op}: direction must be forward, reverse or bidirectional, got {direction!r}")
        for name, v in (("X", x), ("W", w), ("R", r)):
            if v.ndim != 3:
                raise ValueError(f"{op}: {name} must have rank 3, got shape {v.shape}")
        self.num_dirs = 2 if direction == "bidirectional" else 1
        self.reverse = [False, True] if self.num_dirs == 2 else [direction == "reverse"]
        self.out_dtype = x.dtype
        self.dt = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
        self.layout = layout
        if layout:
            x = np.swapaxes(x, 0, 1)
        self.x = x.astype(self.dt, copy=False)
        seq, batch, _ = self.x.shape
        self.seq, self.batch = seq, batch
        hidden = hidden_size if hidden_size is not None else r.shape[-1]
        self.hidden = hidden
        if w.shape[:2] != (self.num_dirs, gates * hidden) or r.shape != (self.num_dirs, gates * hidden, hidden):
            raise ValueError(
                f"{op}: W {w.shape} / R {r.shape} do not match {self.num_dirs} direction(s) "
                f"of {gates} gates x hidden_size {hidden}"
            )
        self.w = w.astype(self.dt, copy=False)
        self.r = r.astype(self.dt, copy=False)
        self.b = (
            np.zeros((self.num_dirs, 2 * gates * hidden), self.dt) if b is None else b.astype(self.dt, copy=False)
        )
        check_alloc((seq, self.num_dirs, batch, hidden), self.dt, f"{op} Y")
        check_alloc((seq, batch, gates * hidden), self.dt, f"{op} input projection")
        lens = np.full(batch, seq, np.int64) if sequence_lens is None else np.asarray(sequence_lens, np.int64)
        if lens.shape != (batch,) or np.any((lens < 0) | (lens > seq)):
            raise ValueError(f"{op}: sequence_lens {lens.tolist()} must be {batch} lengths in [0, {seq}]")
        self.lens = lens
        self.states = []
        for s in initial_states:
            if s is None:
                s = np.zeros((self.num_dirs, batch, hidden), self.dt)
            elif layout:
                s = np.swapaxes(s, 0, 1)
            self.states.append(s.astype(self.dt, copy=False))
        names = list(activations) if activations else defaults * self.num_dirs
        per_dir = len(defaults)
        if len(names) != per_dir * self.num_dirs:
            if len(names) == per_dir:
                names = names * self.num_dirs
            else:
                raise ValueError(f"{op}: expected {per_dir * self.num_dirs} activations, got {names}")
        fns = _activation_fns(names, alphas, betas, clip, self.dt)
        self.acts = [fns[d * per_dir : (d + 1) * per_dir] for d in range(self.num_dirs)]

    def steps(self, d):
        """(time index per batch entry, valid mask) for each step of direction ``d``."""
        for s in range(self.seq):
            valid = s < self.lens
            t = (self.lens - 1 - s) if self.reverse[d] else np.full(self.batch, s)
            yield np.where(valid, t, 0), valid

    def input_projection(self, d):
        wb = self.b[d, : self.b.shape[1] // 2]
        return self.x @ self.w[d].T + wb

    def outputs(self, y, *finals):
        """Back to the requested layout and dtype: Y, then the final states."""
        if self.layout:
            y = y.transpose(2, 0, 1, 3)
            finals = [np.swapaxes(f, 0, 1) for f in finals]
        return tuple(v.astype(self.out_dtype, copy=False) for v in (y, *finals))


def _run(setup: _Setup, cell):
    """Drive ``cell(d, x_proj_t, states) -> new states`` over every direction."""
    y = np.zeros((setup.seq, setup.num_dirs, setup.batch, setup.hidden), setup.dt)
    rows = np.arange(setup.batch)
    finals = [s.copy() for s in setup.states]
    for d in range(setup.num_dirs):
        xp = setup.input_projection(d)
        states = [s[d] for s in setup.states]
        for t, valid in setup.steps(d):
            new = cell(d, xp[t, rows], states)
            keep = valid[:, None]
            states = [np.where(keep, n, s) for n, s in zip(new, states)]
            y[t[valid], d, rows[valid]] = new[0][valid]
        for f, s in zip(finals, states):
            f[d] = s
    return y, finals


def _rnn(x, w, r, b, sequence_lens, initial_h, *, activation_alpha, activation_beta, activations, clip, direction, hidden_size, layout=0):
    st = _Setup(
        "RNN", x, w, r, b, sequence_lens, [initial_h], gates=1, direction=direction,
        hidden_size=hidden_size, layout=layout, activations=activations, defaults=["Tanh"],
        alphas=activation_alpha, betas=activation_beta, clip=clip,
    )
    rt = [st.r[d].T for d in range(st.num_dirs)]
    rb = [st.b[d, st.hidden :] for d in range(st.num_dirs)]

    def cell(d, xp, states):
        return [st.acts[d][0](xp + states[0] @ rt[d] + rb[d])]

    y, (h,) = _run(st, cell)
    return st.outputs(y, h)


def _gru(x, w, r, b, sequence_lens, initial_h, *, activation_alpha, activation_beta, activations, clip, direction, hidden_size, linear_before_reset=0, layout=0):
    st = _Setup(
        "GRU", x, w, r, b, sequence_lens, [initial_h], gates=3, direction=direction,
        hidden_size=hidden_size, layout=layout, activations=activations,
        defaults=["Sigmoid", "Tanh"], alphas=activation_alpha, betas=activation_beta, clip=clip,
    )
    hs = st.hidden

    def cell(d, xp, states):
        f, g = st.acts[d]
        h = states[0]
        r_w, rb = st.r[d], st.b[d, 3 * hs :]
        # Gate order in W/R/B is z, r, h.
        zr = xp[:, : 2 * hs] + h @ r_w[: 2 * hs].T + rb[: 2 * hs]
        z, rr = f(zr[:, :hs]), f(zr[:, hs:])
        if linear_before_reset:
            cand = g(xp[:, 2 * hs :] + rr * (h @ r_w[2 * hs :].T + rb[2 * hs :]))
        else:
            cand = g(xp[:, 2 * hs :] + (rr * h) @ r_w[2 * hs :].T + rb[2 * hs :])
        return [(1 - z) * cand + z * h]

    y, (h,) = _run(st, cell)
    return st.outputs(y, h)


def _lstm(x, w, r, b, sequence_lens, initial_h, initial_c, p, *, activation_alpha, activation_beta, activations, clip, direction, hidden_size, input_forget=0, layout=0):
    st = _Setup(
        "LSTM", x, w, r, b, sequence_lens, [initial_h, initial_c], gates=4, direction=direction,
        hidden_size=hidden_size, layout=layout, activations=activations,
        defaults=["Sigmoid", "Tanh", "Tanh"], alphas=activation_alpha, betas=activation_beta,
        clip=clip,
    )
    hs = st.hidden
    peep = np.zeros((st.num_dirs, 3 * hs), st.dt) if p is None else p.astype(st.dt, copy=False)

    def cell(d, xp, states):
        f, g, hf = st.acts[d]
        h, c = states
        # Gate order in W/R/B is i, o, f, c; peepholes are i, o, f.
        gates = xp + h @ st.r[d].T + st.b[d, 4 * hs :]
        pi, po, pf = peep[d, :hs], peep[d, hs : 2 * hs], peep[d, 2 * hs :]
        i = f(gates[:, :hs] + pi * c)
        if input_forget:
            fg = 1 - i
        else:
            fg = f(gates[:, 2 * hs : 3 * hs] + pf * c)
        c_new = fg * c + i * g(gates[:, 3 * hs :])
        o = f(gates[:, hs : 2 * hs] + po * c_new)
        return [o * hf(c_new), c_new]

    y, (h, c) = _run(st, cell)
    return st.outputs(y, h, c)


# Opset 1 has ``output_sequence`` (Y is produced whenever the node asks for it,
# so it changes nothing here); opset 14 adds ``layout``.

@register("RNN", since=1)
def rnn_1(x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, output_sequence=0):
    return _rnn(x, w, r, b, sequence_lens, initial_h, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations, clip=clip, direction=direction, hidden_size=hidden_size)


@register("RNN", since=7)
def rnn_7(x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None):
    return _rnn(x, w, r, b, sequence_lens, initial_h, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations, clip=clip, direction=direction, hidden_size=hidden_size)


@register("RNN", since=14)
def rnn_14(x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, layout=0):
    return _rnn(x, w, r, b, sequence_lens, initial_h, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations, clip=clip, direction=direction, hidden_size=hidden_size, layout=layout)


@register("GRU", since=1)
def gru_1(x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, output_sequence=0):
    return _gru(x, w, r, b, sequence_lens, initial_h, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations, clip=clip, direction=direction, hidden_size=hidden_size)


@register("GRU", since=3)
def gru_3(x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, linear_before_reset=0, output_sequence=0):
    return _gru(x, w, r, b, sequence_lens, initial_h, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations, clip=clip, direction=direction, hidden_size=hidden_size, linear_before_reset=linear_before_reset)


@register("GRU", since=7)
def gru_7(x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, linear_before_reset=0):
    return _gru(x, w, r, b, sequence_lens, initial_h, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations, clip=clip, direction=direction, hidden_size=hidden_size, linear_before_reset=linear_before_reset)


@register("GRU", since=14)
def gru_14(x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, linear_before_reset=0, layout=0):
    return _gru(x, w, r, b, sequence_lens, initial_h, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations, clip=clip, direction=direction, hidden_size=hidden_size, linear_before_reset=linear_before_reset, layout=layout)


@register("LSTM", since=1)
def lstm_1(x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None, *, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, input_forget=0, output_sequence=0):
    return _lstm(x, w, r, b, sequence_lens, initial_h, initial_c, p, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations, clip=clip, direction=direction, hidden_size=hidden_size, input_forget=input_forget)


@register("LSTM", since=7)
def lstm_7(x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None, *, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, input_forget=0):
    return _lstm(x, w, r, b, sequence_lens, initial_h, initial_c, p, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations, clip=clip, direction=direction, hidden_size=hidden_size, input_forget=input_forget)


@register("LSTM", since=14)
def lstm_14(x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None, *, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, input_forget=0, layout=0):
    return _lstm(x, w, r, b, sequence_lens, initial_h, initial_c, p, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations, clip=clip, direction=direction, hidden_size=hidden_size, input_forget=input_forget, layout=layout)


# --- shape rules -----------------------------------------------------------


@shape_rule(("RNN", "GRU", "LSTM"))
def _rnn_shape(ctx: RuleContext):
    x = ctx.shape(0)
    elem = ctx.elem(0)
    hidden = ctx.attr("hidden_size")
    dirs = 2 if ctx.attr("direction", "forward") == "bidirectional" else 1
    if x is None:
        return [T(elem, None)] * 3
    if hidden is None:
        w = ctx.shape(2)
        hidden = w[2] if w is not None else ctx.fresh()
    if ctx.attr("layout", 0):
        batch, seq = x[0], x[1]
        y = (batch, seq, dirs, hidden)
        h = (batch, dirs, hidden)
    else:
        seq, batch = x[0], x[1]
        y = (seq, dirs, batch, hidden)
        h = (dirs, batch, hidden)
    return [T(elem, y), T(elem, h), T(elem, h)]
