"""Progress of long steps in the Dagster log: done / total, the rate and the time left, at a
steady pace (every `PROGRESS_EVERY_S` seconds and at the end), not per row or per chunk."""

from __future__ import annotations

import time
from typing import Any

PROGRESS_EVERY_S = 10.0


class Progress:
    """Logs `done / total` items with the rate and the time left, at most every `every_s` seconds."""

    def __init__(self, log: Any, what: str, total: int, every_s: float = PROGRESS_EVERY_S):
        self.log, self.what, self.total, self.every_s = log, what, total, every_s
        self.done = 0
        self.started = self._last = time.perf_counter()

    def advance(self, items: int) -> None:
        self.done += items
        now = time.perf_counter()
        if now - self._last >= self.every_s or self.done >= self.total:
            self._last = now
            rate = self.done / max(now - self.started, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 else float("inf")
            self.log.info(f"{self.what}: {self.done:,} / {self.total:,} ({rate:,.2f}/s, about {left:,.0f} s left)")

    def update(self, done: int, total: int) -> None:
        """`done` of `total` so far (a callback for work that counts its own total), logged as `advance` logs."""
        self.total = total
        self.advance(done - self.done)
