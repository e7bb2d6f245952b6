"""The care pathway's service: milestones opened, reminded, closed and breached, and timers fired once.

``step()`` does one round of everything (the lifecycle runs it in every process that hosts a worker):

1. read the events committed since the pathway's cursor and open and close milestones for them (one
   transaction with the cursor's move, so a crash re-reads them and two processes never apply them twice);
2. with the embedded scheduler, fire the timers whose time has come (``fire``, exactly once by the store);
3. send the notice of any fired timer whose notice is not stored yet (a crash between the two);
4. with an external scheduler, tell it of timers opened and cancelled, with backoff while it is unavailable.

Every event the pathway commits (milestones opened, reminded, met, late, breached, cancelled, pathways closed,
fire requests, syncs with an external scheduler, and the notices' ``received`` and ``routed``) goes to
``notify``, which tells the observer plugins (``hub_message_event``) as intake and delivery do.

A ``remind`` timer sends a reminder, a ``due`` timer a due notice (the milestone is breached): each a
``PathwayNotice`` message stored like any other, from the hub to the partners concerned, so the worker
minimises, renders, seals and delivers it like every message (its id is derived from the timer's: stored once;
``hub.services.pathway_notices``). With the embedded scheduler both are stored when the milestone opens, in its
transaction, their deliveries scheduled until the timer's time (shown scheduled, cancellable, cancelled by a
close): the worker's claim of one fires its timer (``hub.store.notice_claims``), and ``fire_due`` fires only the
timers no push delivery waits on. With an external scheduler a notice is made when the scheduler fires its timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from hub.bodies import BodyUnreadable
from hub.config import PathwaySettings
from hub.partners import PartnerDirectory
from hub.pathway.spec import DELIVERED_TO, SENDER, MilestoneSpec, Pathways, milestone_id, moment
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import SchedulerUnavailable, StoreUnavailable
from hub.plugin_api.records import MilestoneScheduler, ResolveContext, Unresolved
from hub.routes import Destination
from hub.services.pathway_notices import NOTICE_TYPE as NOTICE_TYPE
from hub.services.pathway_notices import iso as iso
from hub.services.pathway_notices import notice_intake, recipients
from hub.services.pathway_notices import notice_message as notice_message
from hub.store.pathway_records import (
    CANCEL_UNCERTAIN,
    MilestoneClosing,
    NewMilestone,
    PathwayChanges,
    PathwayClosing,
    ScheduledNotice,
)
from hub.store.ports import Store

log = logging.getLogger("hub.pathway")

EVENTS_PER_STEP = 500
RUNNING = ("open", "reminded")


class PathwayService:
    """The pathway of one hub process (see the module docstring)."""

    def __init__(self, store: Store, scheduler: MilestoneScheduler, pathways: Pathways, settings: PathwaySettings,
                 partners: PartnerDirectory, hub_id: str, destinations: dict[str, Any],
                 clock: Callable[[], float] = time.time,
                 notify: Callable[[list[HubEvent]], None] | None = None) -> None:  # fmt: skip
        self.store = store
        self.notify = notify or (lambda events: None)
        """Tells observer plugins (``hub_message_event``) of committed events; never raises."""
        self.scheduler = scheduler
        self.pathways = pathways
        self.settings = settings
        self.partners = partners
        self.hub_id = hub_id
        self.destinations = destinations
        self.clock = clock
        self.on_notice: list[Callable[[], None]] = []
        self._idle = False
        self.hub_url = str(settings.settings_of(settings.scheduler).get("hub_url", ""))

    @property
    def external(self) -> bool:
        """True when an external scheduler must be told of timers."""
        return not self.scheduler.in_store

    # -- one round ------------------------------------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        """True when ``pathways.toml`` declares milestones or pathway closures."""
        return bool(self.pathways.milestones or self.pathways.closers)

    def step(self) -> None:
        """One round: read new events, fire due timers (embedded), send missing notices, sync (external).

        Without ``pathways.toml`` (nothing configured) the first round moves the cursor past what is stored, so
        that milestones declared later start from then, and the rounds after it do nothing: an idle pathway takes
        no database connection from the hub's other work.
        """
        if not self.configured:
            if not self._idle:
                while self.read_events():
                    pass
                self._idle = True
            return
        while self.read_events():
            pass
        if not self.external:
            self.fire_due()
        self.send_missing_notices()
        if self.external:
            self.sync()

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """``step`` every ``interval`` seconds until ``stop`` is set; a failing round is logged and retried."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.step)
            except StoreUnavailable as exc:  # a fault that passes: the next round tries again
                log.warning("pathway round skipped: %s", exc.reason)
            except Exception:
                log.exception("pathway round failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    # -- milestones from events -----------------------------------------------------------------------------------
    def read_events(self) -> int:
        """Apply the next batch of events to the pathway; return how many events were read (0: none new)."""
        after, rows = self.store.pathway_events(EVENTS_PER_STEP)
        if not rows:
            return 0
        changes = PathwayChanges(after, int(rows[-1][0]))
        if self.pathways.milestones or self.pathways.closers:
            interesting = self.pathways.interesting_types
            fresh: list[tuple[NewMilestone, str]] = []
            for _seq, kind, record_id, partner, at, message_type, sender, correlation, message_id, reply_to in rows:
                if message_type not in interesting:
                    continue
                message = self._body(record_id)
                if message is None:
                    continue
                self._starts(changes, fresh, kind, record_id, partner, float(at), sender, message, message_id)
                if kind == "received":
                    self._closes(changes, fresh, record_id, float(at), sender, message, correlation, reply_to)
        events = self.store.apply_pathway(changes, self.clock(), self.external)
        if events:
            log.info("pathway: %s", ", ".join(e.kind for e in events))
            self.notify(events)
        return len(rows)

    def _body(self, record_id: str) -> dict[str, Any] | None:
        """The canonical message of a record; None (and the event passed over) when it cannot be read: shredded,
        or a body that fails to decode (logged), so that one bad record never holds the pathway back."""
        try:
            body = self.store.read_body(record_id)
            return json.loads(body) if body is not None else None
        except BodyUnreadable:
            return None
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("pathway: record %s could not be read; its event is passed over", record_id)
            return None

    def _starts(self, changes: PathwayChanges, fresh: list[tuple[NewMilestone, str]], kind: str, record_id: str,
                delivered_to: str | None, at: float, sender: str, message: dict[str, Any],
                message_id: str) -> None:  # fmt: skip
        for spec in self.pathways.milestones:
            if not spec.starts(kind, message):
                continue
            partner = self._responsible(spec, message, sender, delivered_to)
            if partner is None:
                log.warning("pathway: milestone %s of record %s: no responsible partner", spec.name, record_id)
                continue
            zone, scale = self.pathways.zone, self.settings.time_scale
            try:
                due = spec.due(message, moment(at), zone, scale, self.pathways.calendar)
            except ValueError as exc:
                log.warning("pathway: milestone %s of record %s not opened: %s", spec.name, record_id, exc)
                continue
            opened = moment(max(at, self.clock()))
            remind = spec.remind_at(due, zone, opened, scale, self.pathways.calendar)
            correlation = message.get("correlation_id") or message.get("message_id")  # as derive_message keeps it
            new = NewMilestone(milestone_id(spec.name, record_id, partner), spec.name, partner, record_id,
                               correlation, opened.timestamp(), due.timestamp(),
                               remind.timestamp() if remind else None, {"responsible": partner})  # fmt: skip
            if not self.external:  # stored with the milestone, scheduled until their timers' time
                new = dataclasses.replace(new, notices=self._scheduled_notices(spec, new, sender))
            changes.opened.append(new)
            fresh.append((new, message_id))

    def _scheduled_notices(self, spec: MilestoneSpec, new: NewMilestone,
                           starter: str) -> tuple[ScheduledNotice, ...]:  # fmt: skip
        """The reminder and due notice of a milestone about to open, each due at its timer's time."""
        milestone = {"id": new.id, "name": new.name, "partner": new.partner, "due_at": new.due_at,
                     "correlation_id": new.correlation_id}  # fmt: skip
        timers = [("due", new.due_at)] + ([("remind", new.remind_at)] if new.remind_at is not None else [])
        notices = []
        for action, at in timers:
            to = recipients(spec, action, new.partner, starter, self.partners)
            intake = notice_intake(f"{new.id}.{action}", milestone, action, self.hub_id, to, self.partners,
                                   self.clock(), not_before=at)  # fmt: skip
            notices.append(ScheduledNotice(action, intake))
        return tuple(notices)

    def _responsible(self, spec: MilestoneSpec, message: dict[str, Any], sender: str,
                     delivered_to: str | None) -> str | None:  # fmt: skip
        if spec.responsible == SENDER:
            return sender
        if spec.responsible == DELIVERED_TO:
            return delivered_to
        assert isinstance(spec.responsible, Destination)
        destination = spec.responsible
        resolver = destination.resolver or self.destinations[destination.kind]
        try:
            partner = resolver.resolve(message, destination.settings, ResolveContext(self.partners, None))
        except Unresolved:
            return None
        return partner if self.partners.get(partner) is not None else None

    def _closes(self, changes: PathwayChanges, fresh: list[tuple[NewMilestone, str]], record_id: str, at: float,
                sender: str, message: dict[str, Any], correlation: str | None,
                reply_to: str | None) -> None:  # fmt: skip
        for closer in self.pathways.closers:
            if closer.closes(message) and correlation:
                changes.pathways_closed.append(PathwayClosing(correlation, closer.reason, at, sender, record_id))
        for spec in self.pathways.milestones:
            if not any(c.closes(message) for c in spec.closed_by):
                continue
            targets = [m["id"] for m in self.store.open_milestones_for(sender, spec.name, correlation, reply_to)]
            for new, start_message in fresh:
                same = (correlation and new.correlation_id == correlation) or start_message == reply_to
                if new.name == spec.name and new.partner == sender and same:
                    targets.append(new.id)
            for target in dict.fromkeys(targets):
                changes.closed.append(MilestoneClosing(target, record_id, at))

    # -- timers -----------------------------------------------------------------------------------------------------
    def fire_due(self, limit: int = 100) -> int:
        """Fire every pending timer whose time has come (the embedded scheduler); return how many fired."""
        fired = 0
        for timer in self.store.due_timers(self.clock(), limit):
            fired += self.fire(timer, fired_by="embedded") == "fired"
        return fired

    def fire(self, timer_id: str, *, fired_by: str) -> str:
        """Fire ``timer_id`` at most once and send its notice; return the outcome (recorded on the audit chain)."""
        result = self.store.fire_timer(timer_id, self.clock(), fired_by)
        self.notify(list(result.events))
        if result.outcome != "fired" or result.milestone is None or result.action is None:
            return result.outcome
        if result.notice_stored:  # stored when the milestone opened: the fire made its deliveries due
            for wake in self.on_notice:
                wake()
        else:
            self._send_notice(timer_id, result.milestone, result.action)
        return result.outcome

    def send_missing_notices(self) -> None:
        """Send the notices of fired timers that have none stored (the process stopped between the two)."""
        for timer_id in self.store.unsent_notices(100):
            milestone_id_, _, action = timer_id.rpartition(".")
            found = self.store.milestones(milestone_id=milestone_id_) if milestone_id_ else []
            if found:
                self._send_notice(timer_id, found[0], action)

    def _send_notice(self, timer_id: str, milestone: dict[str, Any], action: str) -> None:
        """Store the notice of a timer fired now (an external scheduler's, or one opened with none stored)."""
        spec = self.pathways.by_name(milestone["name"])
        starter = None
        if action == "due" and spec is not None:
            view = self.store.message_view(milestone["start_record"])
            starter = view.get("sender") if view else None
        to = recipients(spec, action, milestone["partner"], starter, self.partners)
        intake = notice_intake(timer_id, milestone, action, self.hub_id, to, self.partners, self.clock())
        result = self.store.accept_now(intake)
        self.store.record_notice(timer_id, result.id)
        self.notify(result.events)
        for wake in self.on_notice:
            wake()

    # -- closing by hand ----------------------------------------------------------------------------------------------
    def close_pathway(self, correlation_id: str, reason: str, actor: str) -> list[HubEvent]:
        """Close the pathway of ``correlation_id`` as a whole (operator, or the responsible partner)."""
        events = self.store.close_pathway(PathwayClosing(correlation_id, reason, self.clock(), actor), self.external)
        self.notify(events)
        return events

    # -- an external scheduler ----------------------------------------------------------------------------------------
    def sync(self) -> int:
        """Tell the external scheduler of timers opened and cancelled whose retry time has come; return how many
        it took. While it raises ``SchedulerUnavailable`` each waits longer (doubling, up to the cap)."""
        now = self.clock()
        done = 0
        for timer_id, action, due_at, attempts, next_at, _error in self.store.pending_syncs():
            if next_at is not None and next_at > now:
                continue
            try:
                if action == "schedule":
                    self.scheduler.schedule(timer_id, moment(due_at), {"timer_id": timer_id, "hub_url": self.hub_url})
                else:
                    self.scheduler.cancel(timer_id)
            except SchedulerUnavailable as exc:
                wait = min(self.settings.sync_max_delay_seconds, self.settings.sync_initial_seconds * 2**attempts)
                failed = self.store.sync_result(timer_id, action, now, now + wait, exc.detail)
                self.notify(failed)
                if action == "schedule" and not failed:  # closed meanwhile: the run, if the call made one, must go
                    self.notify(self.store.cancel_if_settled(timer_id, CANCEL_UNCERTAIN, now))
                continue
            done += 1
            if action == CANCEL_UNCERTAIN and self.settings.cancel_confirm_seconds > 0:
                # the failed schedule call may yet make its run after this cancel: cancel once more later
                self.notify(self.store.confirm_cancel_later(timer_id, now, now + self.settings.cancel_confirm_seconds))
                continue
            events = self.store.sync_result(timer_id, action, now, None, None)
            self.notify(events)
            if action == "schedule" and not events:  # closed while the scheduler took the call: cancel its run
                self.notify(self.store.cancel_if_settled(timer_id, "cancel", now))
        return done

    def reconcile(self) -> dict[str, list[str]]:
        """Repair drift between the external scheduler's queue and the store, both ways.

        Pending timers the scheduler does not hold are scheduled again; queued runs whose timer is fired,
        cancelled or unknown are cancelled (known timers through the sync queue, retried with backoff; an unknown id
        now, a few times: ``not_cancelled`` lists those the scheduler still refused). Raises ``SchedulerUnavailable``
        when the scheduler cannot be asked for its queue.
        """
        queued = self.scheduler.queued()
        if queued is None:
            return {"scheduled": [], "cancelled": [], "not_cancelled": []}
        pending = self.store.pending_timers()
        missing = sorted(t for t in pending if t not in queued)
        stray = sorted(t for t in queued if t not in pending)
        self.store.request_sync(missing, "schedule")
        self.store.request_sync([t for t in stray if self.store.timer_state(t) is not None], "cancel")
        failed: list[str] = []
        for timer in stray:  # an unknown id has no row to carry its sync: cancel it now, a few times if need be
            if self.store.timer_state(timer) is None and not self._cancel_now(timer):
                failed.append(timer)
        self.sync()
        return {"scheduled": missing, "cancelled": [t for t in stray if t not in failed], "not_cancelled": failed}

    def _cancel_now(self, timer_id: str, attempts: int = 4) -> bool:
        """Cancel ``timer_id`` in the scheduler, trying again after 0.5, 1 and 2 s while it is unavailable."""
        for attempt in range(attempts):
            try:
                self.scheduler.cancel(timer_id)
                return True
            except SchedulerUnavailable as exc:
                log.warning("reconcile: could not cancel %s (attempt %d of %d): %s", timer_id, attempt + 1,
                            attempts, exc.detail)  # fmt: skip
                if attempt + 1 < attempts:
                    time.sleep(0.5 * 2**attempt)
        return False
