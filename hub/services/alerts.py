"""Alerts: the hub tells its operators when something changes state, not each time something fails.

Three kinds of alert key, each with a state (``ok`` / ``firing``) kept in the store (``hub.store.alert_port``):

- ``partner:ID``: deliveries to a partner fail (``partner_failing``, since the first failed attempt after its last
  success) and later succeed again (``partner_recovered``). A partner failing a thousand times gives one alert, and
  one when it recovers. Read from the delivery outcomes on the event log, after a cursor kept in the store.
- ``queue:MEASURE>=N:PARTNER``: a ``[[alerts.thresholds]]`` count reaches ``above`` (``queue_above``) and later
  falls to ``below`` (``queue_below``); ``below`` under ``above`` is the hysteresis.
- ``milestone:PARTNER:NAME``: pathway milestones breach (``milestone_breached``). The pathway's breach event is
  counted as it is committed (``on_events``, the pathway's ``notify``) and wakes the evaluator; one alert carries
  every breach of that partner's milestone since the last.

Deduplication: an alert is queued once per change of state (its id ``KEY#N`` is unique in the outbox); a key alerts
at most once per ``min_interval_seconds``, and when that interval ends only a state that differs from the last one
alerted is sent (a partner failing and recovering ten times in a minute gives one alert, then the state it ends in).
State, cursor and outbox are in the store, so a restart or a second process does not alert again.

One evaluator at a time across all the hub's processes: each round takes or renews a lease in the store
(``AlertStore.take_alert_lease``), and a round is saved only under the lease and from the cursor it read. The holder
also sends the outbox: each alert to each channel (``hub.services.alert_senders``), retried with exponential
back-off up to ``max_attempts``. A crash between a send and its record sends that alert again on the next round
(the receiver drops it by its ``X-Hub-Alert-Id``); nothing is lost.

No alert holds personal data: partner ids, counts, measure and milestone names, times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from hub.alert_settings import EACH_PARTNER, AlertSettings, Threshold
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import StoreUnavailable
from hub.services.alert_senders import AlertNotSent, send_email, send_webhook
from hub.store.alert_records import AlertState, OutboxRow
from hub.store.alerts_ops import FAILURE_KINDS
from hub.store.ports import Store

log = logging.getLogger("hub.alerts")

EVENT_SPAN = 20_000
"""Event sequence numbers read per pass of a round (a round makes passes until it reaches the last event)."""
SEND_BATCH = 50
ALL_PARTNERS = "all"


def iso(at: float) -> str:
    """``at`` as an ISO 8601 UTC time, to the second."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class AlertService:
    """The alerts of one hub process (see the module docstring); ``run`` is its background task."""

    def __init__(self, store: Store, settings: AlertSettings, hub_id: str, *,
                 clock: Callable[[], float] = time.time, holder: str | None = None) -> None:  # fmt: skip
        self.store = store
        self.settings = settings
        self.hub_id = hub_id
        self.clock = clock
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        """This process's name on the evaluator's lease."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._webhooks = {f"webhook:{w.name}": w for w in settings.webhooks}

    @property
    def enabled(self) -> bool:
        """True when ``[alerts]`` names somewhere to send them."""
        return self.settings.enabled

    # -- the breach hook ------------------------------------------------------------------------------------------
    def on_events(self, events: list[HubEvent]) -> None:
        """Count each ``milestone_breached`` among committed events and wake the evaluator; never raises."""
        if not (self.enabled and self.settings.milestone_breaches):
            return
        noted = False
        for event in events:
            if event.kind != "milestone_breached":
                continue
            name = str(event.detail.get("milestone", ""))
            try:
                self.store.note_alert_event(f"milestone:{event.partner}:{name}", event.partner, name, event.at)
                noted = True
            except Exception:  # the breach itself is committed; an alert lost to a store fault is logged
                log.exception("the breach of milestone %s (partner %s) could not be noted for alerts", name,
                              event.partner)  # fmt: skip
        if noted:
            self.wake()

    def wake(self) -> None:
        """Make the running evaluator start a round now (from any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                loop.call_soon_threadsafe(wake.set)

    # -- one round --------------------------------------------------------------------------------------------------
    def evaluate(self) -> bool:
        """One round (blocking): take the lease, read the new delivery outcomes and the queues, save the changes and
        queue their alerts. False when another process holds the lease."""
        for _ in range(100):
            now = self.clock()
            if not self.store.take_alert_lease(self.holder, now, now + self.settings.lease_seconds):
                return False
            _, to, more = self._pass(now)
            if to is None:
                continue  # the cursor moved under us (a lease that changed hands): read again
            if not more:
                break
        return True

    def _pass(self, now: float) -> tuple[int, int | None, bool]:
        states = self.store.alert_states()
        after, to, events = self.store.alert_events(EVENT_SPAN)
        changed: dict[str, AlertState] = {}
        if self.settings.partner_failures:
            for event in events:
                key = f"partner:{event.partner}"
                state = states.setdefault(key, AlertState(key, "partner", event.partner, None, "ok", event.at, 0))
                if event.kind in FAILURE_KINDS:
                    if state.state == "ok":
                        state.state, state.since, state.value = "firing", event.at, 0
                    state.value += 1
                elif state.state == "firing":
                    state.state, state.since = "ok", event.at
                else:
                    continue
                changed[key] = state
        rules: dict[str, Threshold] = {}
        if self.settings.thresholds:
            depths = self.store.alert_queue_depths(now)
            for rule, partner, value in self._queue_values(depths, states):
                key = f"queue:{rule.label}:{partner or ALL_PARTNERS}"
                rules[key] = rule
                state = states.setdefault(key, AlertState(key, "queue", partner, rule.measure, "ok", now, value))
                before = (state.state, state.value)
                if state.state == "ok" and value >= rule.above:
                    state.state, state.since = "firing", now
                elif state.state == "firing" and value <= rule.below:
                    state.state, state.since = "ok", now
                state.value = value
                if (state.state, state.value) != before:
                    changed[key] = state
        outbox: list[OutboxRow] = []
        alerted: list[tuple[str, int]] = []
        for state in states.values():
            if state.sent_at is not None and now - state.sent_at < self.settings.min_interval_seconds:
                continue
            if state.kind == "milestone":
                if state.value <= 0 or not self.settings.milestone_breaches:
                    continue
                alerted.append((state.key, state.value))
                alert = self.payload(state, now, state.alerts + 1)
            elif state.kind == "partner" and not self.settings.partner_failures:
                continue
            elif state.kind == "queue" and state.key not in rules:
                continue  # a threshold no longer configured
            elif state.state != (state.sent_state or "ok"):
                state.sent_state, state.sent_at, state.alerts = state.state, now, state.alerts + 1
                changed[state.key] = state
                alert = self.payload(state, now, state.alerts, rules.get(state.key))
            else:
                continue
            body = json.dumps(alert, sort_keys=True)
            outbox += [OutboxRow(f"{alert['id']}/{channel}", alert["id"], channel, body, now, next_at=now)
                       for channel in self.settings.channels]  # fmt: skip
        saved = self.store.save_alert_round(self.holder, now, after, to, list(changed.values()), alerted, outbox)
        if not saved:
            return after, None, False
        for row in outbox:
            if row.channel == self.settings.channels[0]:
                log.info("alert %s queued: %s", row.alert_id, json.loads(row.payload)["summary"])
        return after, to, to - after >= EVENT_SPAN

    def _queue_values(self, depths: dict[str, dict[str, int]],
                      states: dict[str, AlertState]) -> Iterator[tuple[Threshold, str | None, int]]:  # fmt: skip
        for rule in self.settings.thresholds:
            counts = depths.get(rule.measure, {})
            if rule.partner is None:
                yield rule, None, sum(counts.values())
            elif rule.partner == EACH_PARTNER:
                prefix = f"queue:{rule.label}:"
                known = {s.partner for k, s in states.items() if k.startswith(prefix) and s.partner is not None}
                for partner in sorted(set(counts) | known):
                    yield rule, partner, counts.get(partner, 0)
            else:
                yield rule, rule.partner, counts.get(rule.partner, 0)

    def payload(self, state: AlertState, now: float, number: int, rule: Threshold | None = None) -> dict[str, Any]:
        """The JSON of one alert of ``state`` (its ``number``-th): ids, counts and names only."""
        firing = state.state == "firing"
        partner = state.partner
        detail: dict[str, Any]
        if state.kind == "partner":
            alert = "partner_failing" if firing else "partner_recovered"
            detail = {"failed_attempts": state.value}
            summary = (
                f"partner {partner} failing since {iso(state.since)} ({state.value} failed attempts)"
                if firing
                else f"partner {partner} recovered at {iso(state.since)} after {state.value} failed attempts"
            )
        elif state.kind == "queue":
            alert = "queue_above" if firing else "queue_below"
            above, below = (rule.above, rule.below) if rule is not None else (None, None)
            detail = {"measure": state.subject, "value": state.value, "above": above, "below": below}
            where = f"to {partner}" if partner else "to all partners"
            summary = (f"{state.subject} deliveries {where}: {state.value}, at or above {above}" if firing
                       else f"{state.subject} deliveries {where}: {state.value}, back at or below {below}")  # fmt: skip
        else:
            alert = "milestone_breached"
            firing = True
            detail = {"milestone": state.subject, "breaches": state.value}
            summary = (f"{state.value} {state.subject} milestone{'s' if state.value != 1 else ''} of partner "
                       f"{partner} breached since {iso(state.since)}")  # fmt: skip
        return {"id": f"{state.key}#{number}", "hub": self.hub_id, "alert": alert,
                "state": "firing" if firing else "resolved", "key": state.key, "partner": partner,
                "since": iso(state.since), "at": iso(now), "summary": summary, "detail": detail}  # fmt: skip

    # -- sending ----------------------------------------------------------------------------------------------------
    async def send_due(self) -> None:
        """Send each outbox row that is due; a failed attempt is retried with back-off, up to ``max_attempts``.

        A channel that fails is not tried again in this pass (its other rows wait, their attempts not counted).
        """
        rows = await asyncio.to_thread(self.store.due_alerts, self.clock(), SEND_BATCH)
        failing: set[str] = set()
        for row in rows:
            if row.channel in failing:
                continue
            try:
                await self._send(row)
            except Exception as exc:  # a channel's failure, or a bug: either way an attempt, counted and retried
                if not isinstance(exc, AlertNotSent):
                    log.exception("alert %s to %s: the channel failed unexpectedly", row.alert_id, row.channel)
                    exc = AlertNotSent(f"{row.channel} failed ({type(exc).__name__})")
                failing.add(row.channel)
                attempts = row.attempts + 1
                next_at: float | None = None
                if attempts < self.settings.max_attempts:
                    delay = min(self.settings.retry_max_delay_seconds,
                                self.settings.retry_initial_seconds * 2 ** (attempts - 1))  # fmt: skip
                    next_at = self.clock() + delay
                    log.warning("alert %s to %s not sent (attempt %d): %s; again in %.1f s", row.alert_id,
                                row.channel, attempts, exc, delay)  # fmt: skip
                else:
                    log.error("alert %s to %s not sent after %d attempts, given up: %s", row.alert_id, row.channel,
                              attempts, exc)  # fmt: skip
                await asyncio.to_thread(self.store.alert_failed, row.id, next_at, str(exc))
                continue
            await asyncio.to_thread(self.store.alert_sent, row.id, self.clock())

    async def _send(self, row: OutboxRow) -> None:
        if row.channel == "email" and self.settings.smtp is not None:
            await send_email(self.settings.smtp, json.loads(row.payload))
        elif row.channel in self._webhooks:
            await send_webhook(self._webhooks[row.channel], row.alert_id, row.payload.encode())
        else:
            raise AlertNotSent(f"channel {row.channel} is no longer configured in [alerts]")

    # -- the background task ----------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Rounds every ``interval_seconds`` (sooner when woken or an alert is due to be retried) until ``stop``;
        at the end the lease is given up, so another process takes over at once."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        try:
            while not stop.is_set():
                timeout = self.settings.interval_seconds
                try:
                    if await asyncio.to_thread(self.evaluate):
                        await self.send_due()
                        due = await asyncio.to_thread(self.store.next_alert_due)
                        if due is not None:
                            timeout = min(timeout, max(0.05, due - self.clock()))
                except StoreUnavailable as exc:
                    log.warning("alerts: the store is unavailable (%s); trying again", exc)
                except Exception:
                    log.exception("alerts: a round failed; trying again")
                await self._sleep(stop, timeout)
        finally:
            self._loop = self._wake = None
            try:
                await asyncio.to_thread(self.store.release_alert_lease, self.holder)
            except Exception:  # the lease expires by itself
                log.warning("alerts: the evaluator's lease could not be released; it expires by itself")

    async def _sleep(self, stop: asyncio.Event, timeout: float) -> None:
        assert self._wake is not None
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            self._wake.clear()


def outbox_view(store: Store, limit: int = 1000) -> list[dict[str, Any]]:
    """The alerts queued, oldest first, one row per alert and channel: what ``hub alerts list --json`` prints.

    Each: ``id`` (the alert's), ``channel``, ``state`` (``pending``, ``sent``, ``failed``: given up), ``attempts``,
    ``created_at``, ``next_at``, ``sent_at`` (ISO times; None when not yet), ``last_error`` and ``alert`` (the JSON
    sent).
    """
    return [{"id": r.alert_id, "channel": r.channel, "state": r.state, "attempts": r.attempts,
             "created_at": iso(r.created_at), "next_at": iso(r.next_at),
             "sent_at": None if r.sent_at is None else iso(r.sent_at), "last_error": r.last_error,
             "alert": json.loads(r.payload)} for r in store.alert_outbox(limit)]  # fmt: skip


def states_view(store: Store) -> list[dict[str, Any]]:
    """Every alert key's state now, firing first then by key: what ``hub alerts status --json`` prints (and what a
    dashboard shows as "failing since").

    Each: ``key``, ``kind`` (``partner``, ``queue``, ``milestone``), ``partner``, ``subject`` (the measure or the
    milestone), ``state`` (``firing`` or ``ok``; a milestone key is ``firing`` while it has breaches not yet alerted,
    ``value`` of them), ``since``, ``value``, ``last_alerted`` (the state last alerted) and ``last_alerted_at``.
    """
    rows = []
    for s in store.alert_states().values():
        state = s.state if s.kind != "milestone" else ("firing" if s.value > 0 else "ok")
        rows.append({"key": s.key, "kind": s.kind, "partner": s.partner, "subject": s.subject, "state": state,
                     "since": iso(s.since), "value": s.value, "last_alerted": s.sent_state,
                     "last_alerted_at": None if s.sent_at is None else iso(s.sent_at)})  # fmt: skip
    return sorted(rows, key=lambda r: (r["state"] != "firing", r["key"]))
