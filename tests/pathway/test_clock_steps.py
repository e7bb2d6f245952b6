"""The wall clock stepped forward and back by an hour with milestones pending (an NTP correction, a VM resumed).

The pathway reads the time through the clock it is given (``PathwayService(clock=...)``, ``time.time`` in a running
hub); here that clock is stepped by an hour in either direction over a real store (SQLite and PostgreSQL), with the
embedded scheduler, while milestones are pending. What must hold:

- stepped forward, exactly the timers whose time the clock passed fire, each once, each with one notice sent (the
  notices are stored when the milestones open, scheduled; a worker's claim of one fires its timer);
- stepped back, nothing fires again and nothing fires early; a milestone already reminded or breached stays so;
- stepped forward again over the same hour, nothing fires a second time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from contract.stores import BACKENDS, T0, open_test_store
from pathway.service_kit import discharge, pathway_service

from hub.config import PathwaySettings
from hub.defaults.embedded_scheduler import EmbeddedScheduler
from hub.services.pathway import NOTICE_TYPE, PathwayService

HOUR = 3600.0


class SteppedClock:
    """A wall clock a test sets and steps."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=sorted(BACKENDS))
def pathway(request: pytest.FixtureRequest, tmp_path: Path) -> PathwayService:
    store = open_test_store(tmp_path, request.param)
    request.addfinalizer(store.close)
    return pathway_service(store, EmbeddedScheduler(), SteppedClock(T0), PathwaySettings())


def at(service: PathwayService, moment: float) -> tuple[int, dict[str, str]]:
    """Set the clock to ``moment``, run one round and one worker's claim at that time; the notices sent so far
    (their deliveries claimed), and each timer's state.

    The notices are stored, scheduled, when their milestones open; a claim of one at its time fires its timer
    (``hub.store.notice_claims``): sent is what the clock passed, each once."""
    clock: SteppedClock = service.clock  # type: ignore[assignment]
    clock.now = moment
    service.step()
    asyncio.run(service.store.claim(100, moment, 30))
    notices = 0
    for stored in service.store.list_messages(limit=1000, message_type=NOTICE_TYPE):
        view = service.store.message_view(stored["id"]) or {}
        notices += sum(d["attempts"] > 0 for d in view["deliveries"])
    timers = {t["id"]: t["state"] for m in service.store.milestones() for t in m["timers"]}
    return notices, timers


def fired(timers: dict[str, str]) -> set[str]:
    return {timer for timer, state in timers.items() if state == "fired"}


def test_the_clock_stepped_forward_and_back_by_an_hour_fires_each_timer_once(pathway: PathwayService) -> None:
    # three people discharged 20 minutes apart: reminders due at +48 h, +48 h 20 min and +48 h 40 min
    for offset in (0.0, 20 * 60, 40 * 60):
        discharge(pathway, T0 + offset)
    notices, timers = at(pathway, T0 + 48 * HOUR - 30 * 60)
    assert (notices, fired(timers)) == (0, set()) and len(timers) == 6, timers
    # forward an hour: the two reminders whose time the clock passed fire, once each, with one notice each
    notices, timers = at(pathway, T0 + 48 * HOUR + 30 * 60)
    reminded = fired(timers)
    assert notices == 2 and len(reminded) == 2 and all(t.endswith(".remind") for t in reminded), timers
    # back an hour: nothing fires again, nothing fires early, the reminded stay reminded
    notices, timers = at(pathway, T0 + 47 * HOUR + 30 * 60)
    assert (notices, fired(timers)) == (2, reminded)
    states = {m["id"]: m["state"] for m in pathway.store.milestones()}
    assert sorted(states.values()) == ["open", "reminded", "reminded"], states
    # forward over the same hour again: still once each; then on to the third reminder's time
    notices, timers = at(pathway, T0 + 48 * HOUR + 30 * 60)
    assert (notices, fired(timers)) == (2, reminded)
    notices, timers = at(pathway, T0 + 48 * HOUR + 45 * 60)
    assert notices == 3 and len(fired(timers)) == 3
    # the due timers, over a step back and forward across their time
    notices, timers = at(pathway, T0 + 72 * HOUR + 10 * 60)
    assert notices == 4 and len(fired(timers)) == 4
    notices, timers = at(pathway, T0 + 71 * HOUR + 10 * 60)
    assert (notices, len(fired(timers))) == (4, 4)
    assert sorted(m["state"] for m in pathway.store.milestones()) == ["breached", "reminded", "reminded"]
    notices, timers = at(pathway, T0 + 73 * HOUR)
    assert notices == 6 and len(fired(timers)) == 6
    assert {m["state"] for m in pathway.store.milestones()} == {"breached"}
    notices, timers = at(pathway, T0 + 72 * HOUR)  # back again after everything fired: nothing more
    assert (notices, len(fired(timers))) == (6, 6)
