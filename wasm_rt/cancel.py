"""Stopping a run from outside: ``RunOptions.terminate``, a time limit, a JS flag.

The session installs a :class:`RunControl` in a context variable for the
duration of a run (as :mod:`wasm_rt.limits` does for the memory limit), so the
executor, subgraph runs and the Loop/Scan kernels all reach it without passing
it through every call. :func:`checkpoint` is called between nodes and between
loop iterations; it raises :class:`RunCancelled` (or :class:`RunTimeout`).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable
from typing import Any

from .errors import InvalidArgument, RunCancelled, RunTimeout

# Polling a JS flag crosses the FFI; between two polls at most this much time passes.
POLL_INTERVAL_S = 0.002


class RunControl:
    """What may stop one run: ``options.terminate`` (read live, so another thread
    may set it), ``options.time_limit`` seconds from the start, and
    ``options.cancel_check``, a callable returning true once the caller wants the
    run stopped (in the browser: the page's AbortSignal, through a
    SharedArrayBuffer flag); it is polled at most every POLL_INTERVAL_S."""

    def __init__(self, options: Any = None):
        self.options = options
        self.poll = getattr(options, "cancel_check", None)
        if self.poll is not None and not callable(self.poll):
            raise InvalidArgument(
                f"RunOptions.cancel_check must be a callable or None, got {type(self.poll).__name__}"
            )
        self.start = time.monotonic()
        limit = getattr(options, "time_limit", None)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                                  or not limit > 0):
            raise InvalidArgument(
                f"RunOptions.time_limit must be a positive number of seconds or None, got {limit!r}"
            )
        self.deadline = None if limit is None else self.start + float(limit)
        self._next_poll = 0.0
        self._polled = False

    def check(self, where: str | Callable[[], str]) -> None:
        """Raise if the run must stop; ``where`` (or what it returns: the message is
        built only when the run stops) says what would have run next."""
        if getattr(self.options, "terminate", False):
            _stop(lambda w: RunCancelled(
                f"run cancelled: RunOptions.terminate was set to True (onnxruntime: Exiting due "
                f"to terminate flag being set to true.); stopped before {w}"
            ), where)
        if self.deadline is None and self.poll is None:
            return
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            _stop(lambda w: RunTimeout(
                f"run stopped: RunOptions.time_limit of {self.options.time_limit} s passed "
                f"({now - self.start:.3f} s elapsed); stopped before {w}"
            ), where)
        if self.poll is not None and (now >= self._next_poll or self._polled):
            self._next_poll = now + POLL_INTERVAL_S
            if self._polled or self.poll():
                self._polled = True
                _stop(lambda w: RunCancelled(f"run cancelled: the caller aborted it; stopped "
                                             f"before {w}"), where)


def _stop(make: Callable[[str], RunCancelled], where) -> None:
    # Inside a subgraph, the enclosing If/Loop/Scan node's step adds its own name
    # to the message (the executor wraps errors once, keeping their class).
    raise make(where() if callable(where) else where)


_current: contextvars.ContextVar[RunControl | None] = contextvars.ContextVar(
    "wasm_rt_run_control", default=None
)


def current() -> RunControl | None:
    return _current.get()


@contextlib.contextmanager
def run_control(control: RunControl | None):
    """Make ``control`` the current run's control for the block."""
    token = _current.set(control)
    try:
        yield control
    finally:
        _current.reset(token)


def checkpoint(where: str | Callable[[], str]) -> None:
    """Stop here if the current run was cancelled or timed out (no-op outside runs)."""
    control = _current.get()
    if control is not None:
        control.check(where)
