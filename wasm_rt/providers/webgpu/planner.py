"""Segment planning without a GPU: which nodes form segments, which buffers
are shared. Pure Python, tested on the host.
"""

from __future__ import annotations

from dataclasses import dataclass

from .program import SegmentProgram


def segments(step_providers: list[str], gpu_name: str) -> list[tuple[int, int]]:
    """Maximal runs [start, end) of consecutive steps placed on ``gpu_name``."""
    runs, start = [], None
    for i, p in enumerate(step_providers + [""]):
        if p == gpu_name and start is None:
            start = i
        elif p != gpu_name and start is not None:
            runs.append((start, i))
            start = None
    return runs


@dataclass
class BufferAssignment:
    slot_to_buffer: list[int]  # -1 for slots not backed by a segment buffer
    buffer_bytes: list[int]


def assign_buffers(program: SegmentProgram, pinned: set[int]) -> BufferAssignment:
    """Map logical slots onto reusable buffers by liveness.

    A slot's buffer returns to the pool after the last dispatch reading it, so
    a dispatch never writes a buffer it also reads. Pinned slots (segment
    outputs read later, uploads) and slots backed elsewhere (constants,
    imports) are never reused.
    """
    external = set(program.constants) | set(program.imports)
    n = len(program.slot_bytes)
    last_use = [-1] * n
    for i, d in enumerate(program.dispatches):
        for s in d.slots:
            last_use[s] = i
    first_def = [None] * n
    for i, d in enumerate(program.dispatches):
        out = d.slots[-1]
        if first_def[out] is None:
            first_def[out] = i
    slot_to_buffer = [-1] * n
    sizes: list[int] = []
    free: dict[int, list[int]] = {}
    # Pinned and upload slots, and slots never written by a dispatch: own buffers.
    for s in range(n):
        if s in external:
            continue
        if s in pinned or s in program.uploads or first_def[s] is None:
            slot_to_buffer[s] = len(sizes)
            sizes.append(program.slot_bytes[s])
    releases: dict[int, list[int]] = {}
    for s in range(n):
        if slot_to_buffer[s] == -1 and s not in external and last_use[s] >= 0:
            releases.setdefault(last_use[s], []).append(s)
    for i, d in enumerate(program.dispatches):
        out = d.slots[-1]
        if slot_to_buffer[out] == -1 and out not in external:
            size = program.slot_bytes[out]
            pool = free.get(size)
            if pool:
                slot_to_buffer[out] = pool.pop()
            else:
                slot_to_buffer[out] = len(sizes)
                sizes.append(size)
        for s in releases.get(i, ()):
            if slot_to_buffer[s] >= 0 and s != out:
                free.setdefault(program.slot_bytes[s], []).append(slot_to_buffer[s])
    return BufferAssignment(slot_to_buffer, sizes)
