"""Timing a stretch of a run: when it began (Unix time, to place it among the run's other
phases: `harness bench` reads the gaps from it) and how long it took (a monotonic clock)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stopwatch:
    at: float = field(default_factory=time.time)  # Unix time it started
    _clock: float = field(default_factory=time.monotonic, repr=False)

    def seconds(self) -> float:
        """Seconds since it started, to a tenth."""
        return round(time.monotonic() - self._clock, 1)
