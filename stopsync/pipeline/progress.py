"""Progress of a long step (a download in bytes, a parse in rows) with rate and ETA.

On a terminal the reporter keeps one line on stderr up to date; elsewhere (logs, CI, a
container) it writes a log event at most every ``log_interval_s``. Either way an optional
``on_update`` callback receives the state, so that a status store can show it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

log = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]

_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_amount(amount: float, unit: str) -> str:
    if unit != "bytes":
        return f"{amount:,.0f} {unit}"
    value = float(amount)
    for suffix in _BYTE_UNITS:
        if value < 1024 or suffix == _BYTE_UNITS[-1]:
            return f"{value:.0f} {suffix}" if suffix == "B" else f"{value:.1f} {suffix}"
        value /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts ``done`` towards an optional ``total``; throttled to ``max_per_s`` updates."""

    def __init__(
        self,
        phase: str,
        source: str,
        *,
        total: int | None = None,
        unit: str = "bytes",
        on_update: ProgressCallback | None = None,
        stream: TextIO | None = None,
        max_per_s: float = 5.0,
        log_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.phase = phase
        self.source = source
        self.total = total if total is None or total >= 0 else None
        self.unit = unit
        self.done = 0
        self.on_update = on_update
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = _is_tty(self.stream)
        self.min_interval_s = 1.0 / max_per_s if max_per_s > 0 else 0.0
        self.log_interval_s = log_interval_s
        self.clock = clock
        self.started = clock()
        self._last_update = float("-inf")
        self._last_log = self.started
        self._line_width = 0
        self.finished = False

    def state(self) -> dict[str, Any]:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        eta_s: float | None = None
        if self.total is not None and rate > 0:
            eta_s = round(max(self.total - self.done, 0) / rate, 1)
        return {
            "phase": self.phase,
            "source": self.source,
            "done": self.done,
            "total": self.total,
            "unit": self.unit,
            "rate": round(rate, 1),
            "eta_s": eta_s,
        }

    def advance(self, amount: int) -> None:
        self.done += amount
        now = self.clock()
        if now - self._last_update < self.min_interval_s:
            return
        self._last_update = now
        self._emit(self.state(), now)

    def finish(self) -> None:
        """Report the final state once, whatever the throttle says."""
        if self.finished:
            return
        self.finished = True
        state = self.state()
        state["eta_s"] = 0.0 if self.total is None or self.done >= self.total else state["eta_s"]
        if self.on_update is not None:
            self.on_update(state)
        if self.interactive:
            self._write_line(self.describe(state))
            self.stream.write("\n")
            self.stream.flush()
        elif self.clock() - self.started >= self.log_interval_s:
            # Short steps stay silent in logs; a long one closes with its totals.
            log.info("progress finished", extra=state)

    def describe(self, state: dict[str, Any]) -> str:
        done = human_amount(state["done"], self.unit)
        text = f"{self.phase} {self.source}: {done}"
        if state["total"]:
            share = min(state["done"] / state["total"], 1.0)
            text += f" of {human_amount(state['total'], self.unit)} ({share:.0%})"
        text += f", {human_amount(state['rate'], self.unit)}/s"
        if state["eta_s"] is not None and not self.finished:
            text += f", ETA {human_duration(state['eta_s'])}"
        return text

    def _emit(self, state: dict[str, Any], now: float) -> None:
        if self.on_update is not None:
            self.on_update(state)
        if self.interactive:
            self._write_line(self.describe(state))
        elif now - self._last_log >= self.log_interval_s:
            self._last_log = now
            log.info("progress", extra=state)

    def _write_line(self, text: str) -> None:
        padding = " " * max(self._line_width - len(text), 0)
        self._line_width = len(text)
        self.stream.write("\r" + text + padding)
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish()
        elif self.interactive and self._line_width:
            self.stream.write("\n")  # keep the error message off the progress line
            self.stream.flush()


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
