"""The delivery worker: leases due deliveries, renders, sends, records the outcome.

Runs inside ``hub serve`` (woken as soon as an intake commits) or alone as
``hub worker`` (polling). Up to ``delivery.concurrency`` deliveries are in
flight at once over pooled connections. A failed attempt is retried with
exponential backoff, jitter and a cap; after ``retry.max_attempts`` (or a
failure no retry can fix) the delivery is dead-lettered with its last error.
A worker that dies mid-flight loses nothing: its leases expire and the
deliveries become due again. Leases and retry times are read from a ``ForwardClock``
(hub/services/forward_clock.py), so a wall clock stepped back does not hold them for the size of
the step; whether another worker's lease has ended is judged by the wall clock all processes
share, so a worker ahead of it never takes a delivery another is still sending. A live worker
keeps its leases: every third of
``delivery.lease_seconds`` it extends the lease of each delivery it holds
(sending, or its outcome not yet recorded), so a slow partner never makes a
delivery look abandoned to the other workers.

A delivered attempt's receipt (the partner's reference) is stored with the
delivery. A decision the partner gave in its answer (``DeliveryOutcome.reply``)
is taken in as that partner's Acknowledgement through intake, exactly like one
it had posted (routed to the sender, marking the delivery acknowledged or
rejected), before the delivery itself is recorded: a crash in between leaves
the decision, never loses it. What in an answer could not be used becomes a
``warning`` event; it never fails a delivery the partner took. So does each of
the adapter's ``Rendered.notes`` (what the render changed to fit the partner's
format), recorded with the attempt the partner took.

When the store cannot be reached (``StoreUnavailable``) the worker keeps going: it says so once, tries
its claim again every poll interval, and says when claims work again; outcomes it could not record are
kept (their leases with them) and recorded when the store is back, unless the worker is stopping. A
lease that ran out meanwhile makes its delivery due again elsewhere: that delivery may reach its partner
twice, with the same Idempotency-Key (at-least-once), and the outcome recorded under the lost lease is
dropped as always.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from hub.outbound import OutboundTransports, render_outbound
from hub.outcomes import HUB, failure_of
from hub.plugin_api.partner import PartnerReply
from hub.plugin_api.problems import Conflict, HubError, StoreUnavailable
from hub.plugin_api.records import DeliveryOutcome, RenderError
from hub.replies import acknowledgement_for, checked_receipt
from hub.retry import next_delay, should_dead_letter
from hub.services.forward_clock import ForwardClock
from hub.store.records import Claimed, DeliveryJob, Outcome

if TYPE_CHECKING:
    from hub.config import Settings
    from hub.metrics import Metrics
    from hub.partners import PartnerDirectory
    from hub.plugin_api.events import HubEvent
    from hub.plugins import HubPlugins
    from hub.sealing import EnvelopeGate
    from hub.services.intake import IntakeService
    from hub.store.ports import Store

log = logging.getLogger("hub.delivery")


class DeliveryWorker:
    """Sends due deliveries until stopped (see module docstring)."""

    def __init__(
        self,
        settings: Settings,
        partners: PartnerDirectory,
        plugins: HubPlugins,
        store: Store,
        metrics: Metrics,
        emit: Callable[[list[HubEvent]], None] | None = None,
        gate: EnvelopeGate | None = None,
        intake: IntakeService | None = None,
        transports: OutboundTransports | None = None,
    ) -> None:
        self.gate = gate
        self.intake = intake
        self.settings = settings
        self.partners = partners
        self.plugins = plugins
        self.store = store
        self.metrics = metrics
        self.emit = emit
        self.emit_fired: Callable[[list[HubEvent]], None] | None = None
        """Tells of the events a claim committed: the pathway's (timers fired by their notices' claims,
        ``DeliveryJob.events``) and the rest (``Claimed.told``: notices cancelled, bodies that cannot be read
        dead-lettered, overtaking warnings). The pathway's ``notify`` in a hub; None: ``emit``."""
        self._wake = asyncio.Event()
        self._rng = random.Random()
        self.clock = ForwardClock()  # leases and retry times: a wall clock stepped back does not hold them
        # transports given by the caller (the lifecycle) are closed by it; otherwise by ``run`` when it ends
        self._owns_transports = transports is None
        self.transports = transports or OutboundTransports(
            settings.delivery_timeout_seconds, settings.delivery_concurrency
        )
        self._inflight: set[asyncio.Task[None]] = set()
        self._leased: dict[str, DeliveryJob] = {}  # held from the claim until the outcome is recorded
        self._outcomes: list[tuple[Outcome, DeliveryJob, str, str | None]] = []
        self._have_outcomes = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._store_down = False  # the last claim found the store unavailable

    def wake(self) -> None:
        """Ask the worker to look for due deliveries now (thread-safe; after the worker ended, nothing)."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        elif not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody left to wake
                loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then let in-flight deliveries finish."""
        self._loop = asyncio.get_running_loop()
        concurrency = self.settings.delivery_concurrency
        closing = asyncio.Event()
        recorder = asyncio.create_task(self._record_outcomes(closing))
        heartbeat = asyncio.create_task(self._heartbeat(closing))
        try:
            while not stop.is_set():
                capacity = concurrency - len(self._inflight)
                jobs = Claimed()
                if capacity > 0:
                    self._wake.clear()
                    try:
                        jobs = await self.store.claim(capacity, self.clock(), self.settings.lease_seconds,
                                                   expired_by=time.time())  # fmt: skip
                    except StoreUnavailable as exc:
                        if not self._store_down:
                            log.warning("could not claim deliveries: %s; trying again every %g s", exc.reason,
                                        self.settings.poll_interval_seconds)  # fmt: skip
                        self._store_down = True
                    except Exception:
                        log.exception("could not claim deliveries; retrying shortly")
                    else:
                        if self._store_down:
                            log.warning("the store answers again: claiming deliveries")
                        self._store_down = False
                    # timers the claim fired (notices), then what it wrote about deliveries it did not hand out
                    fired = [event for job in jobs for event in job.events] + jobs.told
                    tell = self.emit_fired or self.emit
                    if fired and tell is not None:
                        tell(fired)
                    for job in jobs:
                        self._leased[job.delivery_id] = job
                        task = asyncio.create_task(self._deliver(job))
                        self._inflight.add(task)
                        task.add_done_callback(self._done)
                if jobs and len(jobs) == capacity:
                    continue
                await self._idle(stop)
        finally:
            if self._inflight:
                await asyncio.wait(self._inflight, timeout=self.settings.delivery_timeout_seconds + 5)
            self._inflight.clear()
            closing.set()
            await recorder
            await heartbeat
            if self._owns_transports:
                await self.transports.close()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=self.settings.poll_interval_seconds,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        """Every third of the lease, extend the leases of the deliveries this worker holds, until ``stop``."""
        lease = self.settings.lease_seconds
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=lease / 3)
            held = [(job.delivery_id, job.lease_id) for job in self._leased.values()]
            if not held or stop.is_set():
                continue
            try:
                kept = await self.store.extend_leases(held, self.clock() + lease)
            except StoreUnavailable as exc:
                log.warning("could not extend %d leases (%s); they may run out and be claimed again", len(held),
                            exc.reason)  # fmt: skip
                continue
            except Exception:
                log.exception("could not extend %d leases; they may run out and be claimed again", len(held))
                continue
            if kept < len(held):
                log.warning("%d of %d leases had already run out; those deliveries may be sent twice",
                            len(held) - kept, len(held))  # fmt: skip

    async def _deliver(self, job: DeliveryJob) -> None:
        try:
            outcome = await self._attempt(job)
        except RenderError as exc:  # the message cannot be put in this partner's format: no retry can help
            outcome = DeliveryOutcome(
                ok=False, retryable=False, error=f"not renderable for {job.partner}: {exc}", failure=HUB
            )
        except Exception as exc:  # a bug in an adapter or transport must not lose the delivery
            log.exception("delivery %s to %s failed unexpectedly", job.delivery_id, job.partner)
            outcome = DeliveryOutcome(
                ok=False, retryable=True, error=f"internal error: {type(exc).__name__}", failure=HUB
            )
        done_at = time.time()  # before the decision is taken in: the timeline shows delivered, then the decision
        decision: list[str] = []
        if outcome.ok and outcome.reply is not None:
            try:
                decision = await self._acknowledge(job, outcome.reply)
            except StoreUnavailable as exc:  # keep the decision by sending again: the partner answers the repeat
                outcome = DeliveryOutcome(ok=False, retryable=True, failure=HUB, error=(
                    f"delivered, but the partner's decision could not be stored ({exc.reason}); sent again later "
                    "with the same Idempotency-Key"))  # fmt: skip
        due_at = None
        receipt, warnings = None, []
        if outcome.ok:
            state, result = "delivered", "delivered"
            receipt, why = checked_receipt(outcome.receipt, "the transport's receipt")
            warnings = [*([why] if why else []), *(outcome.warnings or []), *decision]
        elif should_dead_letter(self.settings.retry, job.attempts, outcome.retryable):
            state, result = "dead", "dead_lettered"
        else:
            state, result = "pending", "retry"
            due_at = self.clock() + next_delay(self.settings.retry, job.attempts, self._rng)
        record = Outcome(
            job.delivery_id, job.record_id, job.partner, state, job.attempts, done_at,
            None if outcome.ok else outcome.error, due_at, lease_id=job.lease_id, receipt=receipt,
            warnings=tuple(str(w) for w in warnings), failure=failure_of(outcome),
        )  # fmt: skip
        # outcomes are committed in groups by one recorder task: one writer job for many deliveries
        self._outcomes.append((record, job, result, outcome.error))
        self._have_outcomes.set()

    async def _acknowledge(self, job: DeliveryJob, reply: PartnerReply | dict[str, Any]) -> list[str]:
        """Take the partner's decision in as its Acknowledgement of the delivered message; return warnings.

        Raises ``StoreUnavailable`` when the store cannot take the decision now (the caller sends the
        message again, and the partner answers the repeat). ``reply`` may also be a dict with
        ``PartnerReply``'s fields. No decision is taken for a delivered Acknowledgement: acknowledging
        acknowledgements would send two partners' systems round a loop.
        """
        partner = self.partners.get(job.partner)
        if job.type == "Acknowledgement" or partner is None:
            return []
        if self.intake is None:
            return ["the partner's decision was not recorded: this worker has no intake"]
        if isinstance(reply, dict):
            try:
                reply = PartnerReply(**reply)
            except (TypeError, ValueError):
                return ["the transport's reply is not a PartnerReply (status accepted, rejected or received, "
                        "reference, reason, reason_code); no acknowledgement recorded"]  # fmt: skip
        if not isinstance(reply, PartnerReply):
            return ["the transport's reply is not a PartnerReply; no acknowledgement recorded"]
        try:
            delivered = orjson.loads(job.body)
            ack = acknowledgement_for(delivered, partner, reply)
            await self.intake.submit(ack, sender_id=partner.id, idempotency_key=f"reply:{job.delivery_id}")
        except Conflict:  # a slow attempt and its re-send were both answered: the first decision recorded stands
            return ["the partner answered this delivery more than once; its first decision stands"]
        except StoreUnavailable:
            raise  # a fault that passes: the caller sends again, so the decision is not lost
        except HubError as exc:
            where = "; ".join(f"{p.location}: {p.message}" for p in exc.problems[:3])
            log.warning("the decision %s gave for delivery %s was not recorded: %s", job.partner, job.delivery_id,
                        where or type(exc).__name__)  # fmt: skip
            return [f"the partner's decision was not recorded as an acknowledgement ({where or type(exc).__name__})"]
        except Exception as exc:  # the delivery itself succeeded; keep it, say what was lost
            log.exception("the decision %s gave for delivery %s was not recorded", job.partner, job.delivery_id)
            return [f"the partner's decision was not recorded as an acknowledgement (internal error: "
                    f"{type(exc).__name__})"]  # fmt: skip
        self.metrics.inc("hub_partner_replies_total", partner=job.partner, status=reply.status)
        return []

    def _release(self, batch: list[tuple[Outcome, DeliveryJob, str, str | None]]) -> None:
        """Stop extending the leases of ``batch``'s deliveries: their outcomes are recorded or given up."""
        for item in batch:
            self._leased.pop(item[1].delivery_id, None)

    async def _record_outcomes(self, stop: asyncio.Event) -> None:
        """Commit buffered outcomes in groups until stopped and the buffer is empty."""
        while not (stop.is_set() and not self._outcomes and not self._inflight):
            if not self._outcomes:
                self._have_outcomes.clear()
                waiters = [asyncio.ensure_future(self._have_outcomes.wait()), asyncio.ensure_future(stop.wait())]
                await asyncio.wait(waiters, timeout=self.settings.poll_interval_seconds,
                                   return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                for waiter in waiters:
                    waiter.cancel()
                continue
            batch, self._outcomes = self._outcomes, []
            try:
                events = await self.store.record([item[0] for item in batch])
            except StoreUnavailable as exc:
                if not stop.is_set():  # keep them (and their leases) for when the store is back
                    log.warning("could not record %d delivery outcomes (%s); trying again", len(batch), exc.reason)
                    self._outcomes[:0] = batch
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_interval_seconds)
                    continue
                log.warning("stopping with %d delivery outcomes unrecorded (%s); their leases will expire and they "
                            "will be sent again", len(batch), exc.reason)  # fmt: skip
                self._release(batch)
                continue
            except Exception:
                log.exception("could not record %d delivery outcomes; their leases will expire and they will be "
                              "retried", len(batch))  # fmt: skip
                self._release(batch)
                continue
            self._release(batch)
            for record, job, result, error in batch:
                self.metrics.inc("hub_deliveries_total", partner=job.partner, result=result)
                if record.state == "delivered":
                    self.metrics.observe("hub_submit_to_delivery_seconds", record.at - job.received_at,
                                         partner=job.partner)  # fmt: skip
                elif record.state == "dead":
                    log.warning("delivery %s to %s dead-lettered after %d attempts: %s",
                                job.delivery_id, job.partner, job.attempts, error)  # fmt: skip
            if self.emit is not None and events:
                self.emit(events)

    async def _attempt(self, job: DeliveryJob) -> DeliveryOutcome:
        partner = self.partners.get(job.partner)
        if partner is None:
            return DeliveryOutcome(False, False, f"partner {job.partner!r} is no longer in partners.toml", failure=HUB)
        if partner.adapter is not None and partner.adapter not in self.plugins.adapters:
            return DeliveryOutcome(False, True, f"adapter {partner.adapter!r} is not loaded", failure=HUB)
        adapter = self.plugins.adapter_for(partner.adapter)
        transport = self.plugins.transports.get(partner.receive.transport)
        if transport is None:
            return DeliveryOutcome(False, True, f"transport {partner.receive.transport!r} is not loaded", failure=HUB)
        await self.transports.ready(transport)
        rendered = render_outbound(job, partner, adapter, self.gate)
        notes = [f"rendered for {partner.id} by the {adapter.name} adapter: {note}" for note in rendered.notes]
        outcome = await transport.deliver(rendered, partner=partner, message_id=job.message_id,
                                          delivery_id=job.delivery_id)  # fmt: skip
        if notes and outcome.ok:  # what the partner took was changed to fit: say so with the delivery
            outcome = replace(outcome, warnings=[*notes, *(outcome.warnings or [])])
        return outcome


__all__ = ["DeliveryWorker"]
