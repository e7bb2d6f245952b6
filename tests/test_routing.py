"""Route conditions and the retry schedule, checked without a server."""

from __future__ import annotations

import random

import pytest

from hub.config import RetryPolicy
from hub.retry import next_delay, should_dead_letter
from hub.routes import Condition

MESSAGE = {"type": "DischargeNotice", "payload": {"housing": {"situation": "no_fixed_abode"}, "n": 3}}


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (Condition("payload.housing.situation", "equals", "no_fixed_abode"), True),
        (Condition("payload.housing.situation", "not_equals", "housed"), True),
        (Condition("payload.housing.situation", "in", ["no_fixed_abode", "threatened_within_56_days"]), True),
        (Condition("payload.housing.situation", "not_in", ["no_fixed_abode"]), False),
        (Condition("payload.housing", "exists", True), True),
        (Condition("payload.employment", "exists", True), False),
        (Condition("payload.employment", "exists", False), True),
        (Condition("payload.employment.wants_work", "equals", True), False),
        (Condition("payload.employment.wants_work", "not_equals", True), True),
    ],
)
def test_conditions(condition: Condition, holds: bool) -> None:
    assert condition.holds(MESSAGE) is holds


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(initial_seconds=1, multiplier=2, max_delay_seconds=30, jitter=0.5, max_attempts=10)
    rng = random.Random(7)
    for attempt, base in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 30), (9, 30)]:
        delays = [next_delay(policy, attempt, rng) for _ in range(200)]
        assert all(base * 0.5 <= d <= base for d in delays)
        assert max(delays) - min(delays) > base * 0.3  # jitter spreads retries out


def test_dead_letter_after_the_last_attempt_or_an_unretryable_failure() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert not should_dead_letter(policy, 2, retryable=True)
    assert should_dead_letter(policy, 3, retryable=True)
    assert should_dead_letter(policy, 1, retryable=False)
