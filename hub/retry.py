"""How long to wait before the next delivery attempt."""

from __future__ import annotations

import random

from hub.config import RetryPolicy


def next_delay(policy: RetryPolicy, attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``attempts`` failed attempts (1-based).

    Exponential: ``initial * multiplier ** (attempts - 1)``, capped at
    ``max_delay_seconds``, then scaled by a random factor in ``[1 - jitter, 1]``
    so that partners recovering from an outage are not hit by every retry at once.
    """
    base = min(policy.max_delay_seconds, policy.initial_seconds * policy.multiplier ** max(0, attempts - 1))
    factor = 1.0 - policy.jitter * (rng or random).random()
    return base * factor


def should_dead_letter(policy: RetryPolicy, attempts: int, retryable: bool) -> bool:
    """True when no further attempt should be made."""
    return not retryable or attempts >= policy.max_attempts
