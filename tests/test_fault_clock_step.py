"""A running ``hub serve`` whose system clock is stepped back and forward by an hour, with milestones pending and
deliveries retrying and in flight (the fault matrix's clock step, on either store).

The hub runs under libfaketime (Debian's ``libfaketime``: ``LD_PRELOAD``), which offsets the wall clock
(``time.time()``, ``datetime.now()``) of that process only by what a control file says; the test rewrites the file to
step the clock, as an NTP correction or a resumed virtual machine would. The monotonic clock is left alone
(``FAKETIME_DONT_FAKE_MONOTONIC``), as in a real step. The partner simulators, the store's PostgreSQL and the test
itself keep the real time. What must hold:

- milestones (embedded scheduler): stepped forward, exactly the timers whose time the hub's clock passed fire, each
  once with one notice; stepped back, nothing fires again or early; forward again over the same hour, nothing fires a
  second time; every timer fires once in the end, at or after its time on the hub's clock;
- a retry scheduled before a step back is not held for the size of the step: it is delivered, once, while the
  clock stands back (the delivery worker's ``ForwardClock``); nothing is lost;
- deliveries in flight when the clock steps forward: their leases look expired, so some are sent again (with the
  same ``Idempotency-Key``: at-least-once); every message is delivered, none is lost or dead-lettered.

``HUB_FAULTS_CLOCK_WATCH`` (3 s in ``make test``, 15 in ``make faults``) is how long the test watches, after each
step back, that nothing fires. Each case prints its figures (``pytest -s``); docs/reliability.md keeps them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from pathway.kit import PathwayWorld, milestone_toml, wait_until, write_pathway_settings

from hub.auth import generate_token, hash_token
from hub.testing.messages import discharge_notice, housing_request
from hub.testing.world import HubWorld, build_world

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
HOUR = 3600
WATCH = float(os.environ.get("HUB_FAULTS_CLOCK_WATCH", "3"))


class SteppedHub:
    """A test world whose ``hub serve`` reads its wall clock through libfaketime and a control file."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pathways: str | None = None,
                 settings: dict[str, Any] | None = None) -> None:  # fmt: skip
        if not LIBFAKETIME.exists():
            if os.environ.get("HUB_REQUIRE_SERVICES"):
                pytest.fail(f"{LIBFAKETIME} is missing: apt-get install libfaketime (the Makefile does)")
            pytest.skip(f"{LIBFAKETIME} is missing: apt-get install libfaketime")
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.control = tmp_path / "faketime"
        self.offset = 0
        self.step_to(0)
        self.token = generate_token()
        self.world = build_world(tmp_path / "config", settings=settings, start=False)
        if pathways is not None:
            write_pathway_settings(self.world.config_dir, "embedded", {}, hash_token(self.token))
            (self.world.config_dir / "pathways.toml").write_text(pathways)
        with monkeypatch.context() as env:  # only the hub's process is given the stepped clock
            env.setenv("LD_PRELOAD", str(LIBFAKETIME))
            env.setenv("FAKETIME_TIMESTAMP_FILE", str(self.control))
            env.setenv("FAKETIME_NO_CACHE", "1")
            env.setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            self.world.start()
        # libfaketime interposes on every clock read and wait of the hub's process: a PostgreSQL round trip there
        # costs ten times as much (POST /v1/messages: median 0.15-0.2 s, up to 5 s on a busy machine, against
        # 0.012 s without it), so the hub is given longer to answer than the test kit's usual 10 s
        self.world.request_timeout = 60.0
        self.pathways = PathwayWorld(self.world, None, self.token)

    def step_to(self, offset: int) -> None:
        """Set the hub's wall clock to the real time plus ``offset`` seconds (a step, from the hub's view)."""
        self.control.write_text(f"{offset:+d}\n")
        self.offset = offset

    def hub_now(self) -> float:
        return time.time() + self.offset

    def hub_clock_reported(self) -> float:
        """The hub's own idea of the time, from the ``Date`` header of its answer (whole seconds)."""
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(self.world.get("ops", "/healthz").headers["date"]).timestamp()


@pytest.fixture
def make_stepped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    made: list[SteppedHub] = []

    def make(**kwargs: Any) -> SteppedHub:
        made.append(SteppedHub(tmp_path / str(len(made)), monkeypatch, **kwargs))
        return made[-1]

    yield make
    for stepped in made:
        stepped.world.stop()


def copies(world: HubWorld, partner: str, message_type: str | None = None) -> list[dict[str, Any]]:
    """Every body ``partner`` received, repeats included (a repeat is a second copy of the same message id)."""
    bodies = [r.message for r in list(world.sims[partner].received)]
    return [m for m in bodies if message_type in (None, m.get("type"))]


def pathway_notices(world: HubWorld) -> list[dict[str, Any]]:
    """The distinct notices trust-a received, first copy of each.

    A notice is one message (one record, one delivery: its id is derived from its timer's); a second copy of it is
    a redelivery that at-least-once allows (a partner's answer slower than the test world's one-second delivery
    timeout on a loaded machine), carrying the same message id and so the same ``Idempotency-Key``. A timer that
    fires early is another timer's notice, and is counted; one timer's notice is stored once (its message id is
    unique to the hub as sender), and each timer's state and firing time are checked at the end.
    """
    distinct: dict[str, dict[str, Any]] = {}
    for notice in copies(world, "trust-a", "PathwayNotice"):
        distinct.setdefault(str(notice["message_id"]), notice)
    return list(distinct.values())


def described(notices: list[dict[str, Any]]) -> list[str]:
    """What an assertion shows of each notice: its timer's notice kind, milestone id and when it was made."""
    return [f"{n['payload']['notice']} of {n['payload']['milestone_id']} at {n['created_at']}" for n in notices]


def at(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_milestones_on_a_running_hub_fire_once_whichever_way_its_clock_steps(make_stepped: Any) -> None:
    # reminded an hour after discharge, due two hours after: only a stepped clock reaches them in a test
    stepped: SteppedHub = make_stepped(pathways=milestone_toml(due_seconds=2 * HOUR, remind_seconds=HOUR))
    world, pw = stepped.world, stepped.pathways
    assert abs(stepped.hub_clock_reported() - time.time()) < 5, "the hub's clock is not the real one at the start"
    stepped.step_to(HOUR // 2)
    assert wait_until(lambda: abs(stepped.hub_clock_reported() - stepped.hub_now()) < 3, timeout=10), (
        "the hub's clock did not follow the control file: libfaketime is not in effect"
    )

    def discharge() -> str:
        notice = discharge_notice()
        assert world.send("trust-a", notice).status_code == 202
        assert wait_until(lambda: pw.milestone(notice["message_id"]), timeout=20)
        return str(notice["message_id"])

    def milestone(correlation: str) -> dict[str, Any]:
        found = pw.milestone(correlation)
        assert found is not None, f"no milestone for {correlation}"
        return found

    def states() -> dict[str, str]:
        return {c: milestone(c)["state"] for c in (first, *later)}

    def watch_nothing_fires(expected: int) -> None:
        deadline = time.monotonic() + WATCH
        while time.monotonic() < deadline:
            notices = pathway_notices(world)
            assert len(notices) == expected, f"a timer fired after the clock stepped back: {described(notices)}"
            time.sleep(0.2)

    first, later = discharge(), []  # hub time H0 + 30 min: reminder at +1 h 30, due at +2 h 30 (real offsets)
    # forward an hour and a bit: the first reminder's time is passed, it fires once
    stepped.step_to(HOUR // 2 + HOUR + 60)
    assert wait_until(lambda: len(pathway_notices(world)) == 1, timeout=20), "the passed reminder did not fire"
    later.append(discharge())  # reminder 1 h, due 2 h after this hub time
    # back an hour: nothing fires again, nothing early; the reminded milestone stays reminded
    stepped.step_to(HOUR // 2 + 60)
    watch_nothing_fires(1)
    assert states() == {first: "reminded", later[0]: "open"}, states()
    # forward over the same hour again: nothing fires a second time
    stepped.step_to(HOUR // 2 + HOUR + 60)
    watch_nothing_fires(1)
    # on past the first due time and the second reminder: those two fire, once each
    stepped.step_to(HOUR // 2 + 2 * HOUR + 120)
    assert wait_until(lambda: len(pathway_notices(world)) == 3, timeout=20), len(pathway_notices(world))
    stepped.step_to(HOUR // 2 + HOUR + 120)  # back again: nothing more
    watch_nothing_fires(3)
    assert states() == {first: "breached", later[0]: "reminded"}, states()
    stepped.step_to(HOUR // 2 + 3 * HOUR + 180)  # past the second due time
    assert wait_until(lambda: len(pathway_notices(world)) == 4, timeout=20), len(pathway_notices(world))
    time.sleep(1)
    notices = pathway_notices(world)
    kinds = sorted(n["payload"]["notice"] for n in notices)
    assert kinds == ["due", "due", "reminder", "reminder"], kinds
    assert len({n["message_id"] for n in notices}) == 4
    for correlation in (first, *later):
        fired = milestone(correlation)
        assert fired["state"] == "breached" and {t["state"] for t in fired["timers"]} == {"fired"}
        assert at(fired["reminded_at"]) >= at(fired["remind_at"]) - 1, fired
        assert at(fired["breached_at"]) >= at(fired["due_at"]) - 1, fired
    repeats = len(copies(world, "trust-a", "PathwayNotice")) - len(notices)
    print(
        f"clock stepped +1 h, -1 h, +1 h, +1 h, -1 h, +2 h over a running hub with 2 milestones (4 timers), "
        f"watched {WATCH:g} s after each step back: {len(notices)} notices, each timer fired once, none early "
        f"({repeats} redelivered copies)"
    )


def test_retries_and_leases_on_a_running_hub_whose_clock_steps(make_stepped: Any) -> None:
    retry = {"initial_seconds": 0.5, "multiplier": 2.0, "max_delay_seconds": 2.0, "jitter": 0.2, "max_attempts": 60}
    # a partner's answer never times out here: every repeat at the partner is a lease that looked expired
    delivery = {"timeout_seconds": 10.0, "lease_seconds": 12.0}
    stepped: SteppedHub = make_stepped(settings={"retry": retry, "delivery": delivery})
    world = stepped.world
    council = world.sims["council-luton"]
    # a retry scheduled before the clock steps back an hour
    council.stop()
    held = housing_request()
    response = world.send("trust-a", held)
    assert response.status_code == 202, response.text
    record = response.json()["id"]
    assert wait_until(lambda: world.view(record)["deliveries"][0]["attempts"] >= 1, timeout=20)
    stepped.step_to(-HOUR)
    council.start()
    # the worker's leases and retry times go on from where its clock was (hub/services/forward_clock.py): the retry
    # scheduled before the step is not held for the hour
    delivered = council.wait_for(lambda s: held["message_id"] in s.unique_ids(), timeout=20 + WATCH)
    stepped.step_to(0)  # the clock is corrected back
    assert delivered, "a retry scheduled before the clock stepped back was held for the step"
    time.sleep(1)
    held_copies = sum(1 for m in copies(world, "council-luton") if m["message_id"] == held["message_id"])
    assert held_copies == 1, f"the retried message arrived {held_copies} times"
    # deliveries in flight when the clock steps forward an hour: leases look expired
    council.delay = 0.4
    sent = []
    for index in range(30):
        message = housing_request()
        assert world.send("trust-a", message).status_code == 202
        sent.append(message["message_id"])
        if index == 15:
            stepped.step_to(HOUR)
    assert council.wait_for(lambda s: set(sent) <= s.unique_ids(), timeout=120), "an accepted message was lost"
    time.sleep(2)
    received = [m["message_id"] for m in copies(world, "council-luton") if m["message_id"] in set(sent)]
    repeats = len(received) - len(set(received))
    assert "No dead letters." in world.cli("dlq", "list").stdout
    print(
        "a retry pending when the clock stepped back 1 h: delivered once while the clock stood back; 30 messages "
        f"with the clock stepped forward 1 h during them (partner answering in 0.4 s): 30 delivered, {repeats} repeats "
        "(expired leases, same Idempotency-Key), 0 lost, 0 dead-lettered"
    )
