"""A wall clock that never goes back within one process: the delivery worker's time for leases and retries.

The wall clock can be stepped back (an NTP correction, a virtual machine resumed from an old snapshot). A retry due
at 10:00:05 that was scheduled at 10:00:04 would then wait for the clock to reach 10:00:05 again: an hour late after
a step back of an hour, and a lease extended before the step would be held as long. ``ForwardClock`` answers the
wall clock's time, except that after a step back it goes on from the last time it answered, by the time that has
passed since (the monotonic clock, which no step moves), until the wall clock has caught up. So the times one
worker schedules and the times it compares them with stay in step whatever the wall clock does.

A step forward is taken as it is: the wall clock cannot be told from time that passed, and a later time is what
every other process (the pathway's timers, other workers, the partners) reads too. A worker started after a step
back reads the wall clock from its start, as every process does; what an earlier worker scheduled under the later
time waits for that time (docs/reliability.md, the clock stepped).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ForwardClock:
    """``time.time()`` that never answers less than it answered before (see module docstring); thread-safe."""

    def __init__(self, wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._wall, self._monotonic = wall, monotonic
        self._lock = threading.Lock()
        self._last, self._last_monotonic = wall(), monotonic()

    def __call__(self) -> float:
        with self._lock:
            wall, elapsed = self._wall(), self._monotonic()
            now = max(wall, self._last + max(0.0, elapsed - self._last_monotonic))
            self._last, self._last_monotonic = now, elapsed
            return now

    def ahead_of_wall(self) -> float:
        """How far this clock is ahead of the wall clock now (0 unless the wall clock was stepped back)."""
        return max(0.0, self() - self._wall())
