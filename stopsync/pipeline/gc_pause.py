"""Pausing the cyclic garbage collector around bulk work (a run's parse, match and publish)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a run builds its million long-lived objects.

    A national run allocates records, tag dicts, candidate tables and links that all live to
    the end of the run; with the collector on, its full collections walk that growing heap
    again and again and take about a third of the engine's time (5.4 of 14.3 s, measured in
    ``docs/performance.md``) without ever finding garbage: the pipeline frees its temporaries
    by reference counting. Whatever cycles a run does leave are collected once it is over.
    Nested use is fine: only the outermost pause switches the collector back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
