"""``ForwardClock``: the wall clock's time, never less than it answered before, going on by the monotonic clock after
a step back until the wall clock catches up (hub/services/forward_clock.py)."""

from __future__ import annotations

from hub.services.forward_clock import ForwardClock


class Clocks:
    """A wall clock and a monotonic clock the test sets."""

    def __init__(self) -> None:
        self.wall, self.monotonic = 1_000_000.0, 50.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.monotonic += seconds


def test_it_follows_the_wall_clock_and_its_steps_forward() -> None:
    clocks = Clocks()
    clock = ForwardClock(lambda: clocks.wall, lambda: clocks.monotonic)
    assert clock() == 1_000_000.0
    clocks.advance(2.5)
    assert clock() == 1_000_002.5
    clocks.wall += 3600  # stepped forward: taken as it is
    assert clock() == 1_003_602.5 and clock.ahead_of_wall() == 0


def test_after_a_step_back_it_goes_on_by_the_time_passed_until_the_wall_clock_catches_up() -> None:
    clocks = Clocks()
    clock = ForwardClock(lambda: clocks.wall, lambda: clocks.monotonic)
    clocks.advance(10)
    assert clock() == 1_000_010.0
    clocks.wall -= 3600  # stepped back an hour
    assert clock() == 1_000_010.0 and clock.ahead_of_wall() == 3600
    clocks.advance(5)
    assert clock() == 1_000_015.0
    clocks.wall += 3600  # corrected forward again: the wall clock is the time once more
    clocks.advance(1)
    assert clock() == 1_000_016.0 and clock.ahead_of_wall() == 0
