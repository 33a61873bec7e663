"""Memory tuning of the fetch: the cyclic GC paused while answers are parsed, free C heap
pages given back between the assembly's big steps.

Both matter only at scale (10,000 containers over 14 days, docs/scaling.md); neither changes a
number the fetch writes.
"""

from __future__ import annotations

import ctypes
import gc
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["GC_PAUSED", "GcPause", "bound_malloc_arenas", "release_free_memory"]


class GcPause:
    """Pauses the cyclic garbage collector while any thread is inside (re-entrant, counted).

    Parsing an answer allocates hundreds of thousands of dicts, lists and strings, and every
    few hundred allocations start a collection that walks the whole live heap (the answers
    folded so far), which costs several times the parse itself (docs/scaling.md). JSON has no
    reference cycles, so
    nothing collectable piles up while paused; the collector resumes when the last thread
    leaves (and is left alone if the caller had disabled it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._inside == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._inside += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0 and self._was_enabled:
                gc.enable()


#: The one pause every fetch thread shares.
GC_PAUSED = GcPause()


def _glibc(name: str, *argtypes: Any) -> Callable[..., int] | None:
    """The C library's function ``name`` returning an int, or None where there is none (musl,
    macOS, Windows)."""
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (AttributeError, OSError):
        return None
    function.argtypes = list(argtypes)
    function.restype = ctypes.c_int
    return function


_MALLOC_TRIM = _glibc("malloc_trim", ctypes.c_size_t)

#: glibc's mallopt parameters (malloc.h).
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def bound_malloc_arenas(arenas: int = 2, mmap_threshold_bytes: int = 1 << 20) -> bool:
    """Bound glibc's malloc for a fetch at scale: at most ``arenas`` heaps, and blocks from
    ``mmap_threshold_bytes`` up mapped on their own (so freeing one gives it back at once).

    By default glibc gives every thread that allocates its own arena (up to 8 per core) and
    raises the mmap threshold up to 32 MB as large blocks are freed: the worker threads' parsed
    answers and the assembly's arrays then leave freed pages scattered over many heaps, which
    ``malloc_trim`` cannot all give back. A process-wide setting, so the CLI's ``fetch`` calls
    it before any worker thread starts, and a library caller may; it changes no number the
    fetch writes (docs/scaling.md has the measurement). Gives True where glibc took both.
    """
    mallopt = _glibc("mallopt", ctypes.c_int, ctypes.c_int)
    if mallopt is None:
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas)) and bool(
        mallopt(_M_MMAP_THRESHOLD, mmap_threshold_bytes)
    )


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim``).

    The worker threads parse answers in their own malloc arenas, and numpy arrays past the
    (dynamic, up to 32 MB) mmap threshold come from the heap too: what they free stays
    resident, and the main thread's assembly cannot reuse another arena's free chunks, so
    without the trim the fetch holds that memory twice.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
