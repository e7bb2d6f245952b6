"""The offer chain in a running hub: offers sent, answers taken in, windows kept by the pathway, referrers told.

Everything here runs in each ``hub serve`` process (the routes' handlers and the background task ``sweep``);
every change goes through the desk's conditional updates under the referral's lock, and every message it
sends has an id derived from the offer or notice it carries, so several processes, a repeated round or a
restart never offer, lapse or tell anything twice.

- **Intake.** A Referral that names no provider (``payload.service_id`` absent) enters the chain when the hub
  has stored it: the observer (``observe``, the ``hub_message_event`` hook) queues its record id and the next
  round matches it; a round every ``CATCH_UP_SECONDS`` also looks through the newest stored Referrals, so one
  whose event this process never saw (it was stopped just after the commit) is matched too.
- **Offers** are sent as the Referral itself naming the provider in ``payload.service_id`` and the offer in
  ``payload.offer_id``, from the referrer, through intake: routed, rendered, minimised, sealed and delivered by
  the provider's transport like any message. The record id it was stored under is kept with the offer.
- **Answers.** A provider answers with a business Acknowledgement in reply to the offered Referral, however it
  comes: through ``POST /plugins/hostels/offers/{id}/answer`` (the hub writes it), posted to ``/v1/messages``,
  or read from its synchronous answer to the delivery (``receive.reply``: the web-form channel), also by a
  ``hub worker`` process that runs no rounds: a round reads each open offer's delivery in the store for the
  acknowledgement recorded on it (``delivery_acknowledgement``). ``accepted`` is
  accept, ``rejected`` decline with its reason code, ``received`` a request for more information.
- **The window** is the pathway milestone ``[plugins.hostels.offers] window_milestone`` (``offer-window``) that
  the offered Referral's delivery starts (``pathways.toml``): its timers are the hub's (the embedded scheduler
  or an external one such as Airflow, which calls the fire endpoint), so the time survives restarts. A round
  reads each open offer's milestone: breached, the offer lapses and the chain moves on; met, the answer that
  met it is taken in (if the observer did not already).
- **The referrer** is told every step as a ``ReferralUpdate`` from the hub (``[server] hub_id``) addressed to
  it, in its format and by its transport: the step, a decline's reason code only, why it waits; never a service
  or a provider. The steps are recorded with the offer book's changes and sent by the next round, once.
- **A provider whose sent offer is withdrawn** (another service accepted first, or an operator withdrew it) is
  told by a ``ReferralUpdate`` addressed to it, step ``withdrawn``, about the Referral offered to it. The notice
  is recorded as owed on the offer with the withdrawal and sent by the next round of any process, once
  (``tell_withdrawn``): a process stopped right after the change loses nothing. Nor does one stopped after
  its intake committed the offered Referral but before the book noted it sent: the round finds that Referral in
  the hub's store by its sender and message id and notes it sent (``note_committed``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from hub import HubError, HubEvent
from hub_hostels.directory.database import database_url, now
from hub_hostels.directory.links import DirectorySettings
from hub_hostels.directory.match_directory import candidates
from hub_hostels.offers.book import Offer, open_offers
from hub_hostels.offers.desk import OfferDesk, OfferRefused, Outcome, UnknownOffer
from hub_hostels.offers.kept_book import borrow, forget_if_broken, kept_open
from hub_hostels.offers.person import match_request
from hub_hostels.offers.terms import OfferSettings, answer_of_acknowledgement

log = logging.getLogger("hub.hostels.offers")
RESEND_AFTER_SECONDS = 5.0
"""An open offer whose Referral was not committed this long after it was made is sent by a round: one a
process stopped before sending, or one ``hub offers allocate`` recorded. The offer's id is the idempotency key,
so a repeat is one message."""
NEVER_SENT_AFTER_SECONDS = 600.0
"""A withdrawn offer whose Referral was never noted as sent and is not in the hub's store this long after the
offer was made was never committed (its process stopped before sending): its provider received nothing and is
owed no withdrawal notice. Before that, each round looks for the record again (``note_committed``)."""
CATCH_UP_SECONDS = 30.0
CATCH_UP_LIMIT = 200
ROUND_SECONDS = 0.5
OFFER_NAMESPACE = uuid.UUID("5d0e8a52-3c1f-4f0e-9a51-0c6f7b2f3e11")
UPDATE_NAMESPACE = uuid.UUID("0f4b7c1e-8d2a-4e6b-b3c9-5a1d7e2f9c40")
FORM_ADAPTER = "referral-form"
"""The web form's adapter (``hub_hostels.channels.form_post``): it renders Referrals only."""
ACCEPTED_CODE = "offer_accepted"
"""The ``reason_code`` of the Acknowledgement the hub writes for an acceptance given through the API (it starts
the ``assessment-after-acceptance`` milestone of the example ``pathways.toml``)."""

PENDING: collections.deque[str] = collections.deque(maxlen=10_000)
"""Record ids of Referrals and Acknowledgements this process stored, for the next round (bounded: a process
without the background task, such as ``hub worker``, drops the oldest)."""


HUB_IDS: set[str] = set()
"""The hub's own id (``[server] hub_id``) in this process, once the background task started."""


def from_hub(sender_id: str) -> bool:
    """True when ``sender_id`` is this hub itself (the writer of ReferralUpdates)."""
    return sender_id in HUB_IDS


def observe(event: HubEvent) -> None:
    """Queue a stored Referral or Acknowledgement for the next round (the ``hub_message_event`` hook)."""
    if event.kind == "received" and event.detail.get("type") in ("Referral", "Acknowledgement"):
        PENDING.append(event.record_id)


def offer_settings_of(hub: Any) -> tuple[str, DirectorySettings, OfferSettings]:
    """The offer book's URL, the service links and the offer settings of a running hub's configuration."""
    settings = hub.config.settings
    return database_url(settings), DirectorySettings.from_settings(settings, hub.config.partners), \
        OfferSettings.from_settings(settings)  # fmt: skip


def read_message(hub: Any, record_id: str, message_type: str = "Referral") -> dict[str, Any] | None:
    """The canonical message of a record when it is of ``message_type`` (None otherwise, or unreadable)."""
    try:
        body = hub.store.read_body(record_id)
    except Exception:  # shredded, or unreadable: nothing to act on
        return None
    message = json.loads(body) if body is not None else None
    return message if isinstance(message, dict) and message.get("type") == message_type else None


def run_desk(hub: Any, act: Any) -> Any:
    """Run ``act(desk)`` on the offer book the hub's sweep keeps open, or on one opened and closed for it
    (``kept_book``); blocking: call it in a thread."""
    url, links, offer_settings = offer_settings_of(hub)
    kept = borrow(hub, url)
    book = kept or open_offers(url)
    try:
        units = {link.service_id: link.unit for link in links.links}

        def request_of(record_id: str) -> Any:
            referral = read_message(hub, record_id) or {}
            return match_request(referral, links.needs_from_terms, now())

        desk = OfferDesk(book, offer_settings, lambda: candidates(book, links), request_of, now,
                         unit_of=units.get)  # fmt: skip
        return act(desk)
    except BaseException:
        if kept is not None:
            forget_if_broken(hub, kept)
        raise
    finally:
        if kept is None:
            book.close()


def offer_message_id(offer_id: str) -> str:
    """The message id of the Referral that carries offer ``offer_id``."""
    return str(uuid.uuid5(OFFER_NAMESPACE, offer_id))


def offer_message(referral: dict[str, Any], offer: Offer) -> dict[str, Any]:
    """The Referral as offered to one provider: same content and sender, the provider named, its own id."""
    message: dict[str, Any] = copy.deepcopy(referral)
    message["message_id"] = offer_message_id(offer.id)
    message["payload"]["service_id"] = offer.partner
    message["payload"]["offer_id"] = offer.id
    message["payload"].pop("complex", None)
    message["recipient"] = {"org_id": offer.partner}
    return message


def is_unmatched(message: dict[str, Any], hub_id: str) -> bool:
    """True for a Referral a partner sent that names no provider: the chain matches it."""
    payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
    sender = message.get("sender", {}).get("org_id") if isinstance(message.get("sender"), dict) else None
    return not payload.get("service_id") and isinstance(sender, str) and sender != hub_id  # type: ignore[union-attr]


def refer_message(desk: OfferDesk, record_id: str, message: dict[str, Any]) -> Outcome:
    """Take a stored unmatched Referral into the chain (again: nothing happens)."""
    payload: dict[str, Any] = message.get("payload") or {}
    return desk.refer(record_id, str(message["sender"]["org_id"]), complex_case=payload.get("complex") is True,
                      self_referral=payload.get("source") == "self")  # fmt: skip


async def deliver(hub: Any, outcome: Outcome) -> None:
    """Send each new offer to its provider as the Referral naming it (idempotent on the offer's id).

    Withdrawn offers are not told here: the desk recorded each notice owed with the change, and the round sends
    it (``tell_withdrawn``), so a process that stops after the change loses none."""
    for offer in outcome.offered:
        referral = await asyncio.to_thread(read_message, hub, offer.record_id)
        if referral is None:
            log.warning("offer %s: referral %s cannot be read; not sent", offer.id, offer.record_id)
            continue
        message = offer_message(referral, offer)
        accepted = await hub.intake.submit(message, sender_id=referral["sender"]["org_id"], idempotency_key=offer.id)
        await asyncio.to_thread(run_desk, hub, lambda desk, one=offer, rid=accepted.id: _mark_sent(desk, one.id, rid))
        log.info("offer %s sent as record %s", offer.id, accepted.id)


async def hand_over(hub: Any, message: dict[str, Any] | None, key: str, what: str, mark: Any) -> None:
    """Commit ``message`` from the hub under idempotency ``key`` (None: nothing to send), then record it handed
    over with ``mark(desk)``.

    What is owed stays owed until ``mark`` commits: a round after a crash between the two makes the same message
    (its id derived from the same notice) under the same key, which the hub's intake takes as a repeat of the
    first, so its addressee receives it once. A message the intake refuses is logged and not tried again; one it
    could not take now (a 5xx: the store unreachable or out of room) stays owed for the next round.
    """
    if message is not None:
        try:
            await hub.intake.submit(message, sender_id=str(hub.config.settings.hub_id), idempotency_key=key)
        except HubError as exc:
            if exc.status >= 500:
                log.warning("%s not sent yet (%s): the next round tries again", what, exc.title)
                return
            log.warning("%s not sent: %s", what, exc)
    await asyncio.to_thread(run_desk, hub, mark)


def withdrawal_message(hub: Any, offer: Offer) -> dict[str, Any] | None:
    """The ``ReferralUpdate`` telling an offer's provider that it was withdrawn, or None when none is sent.

    From the hub, addressed to the provider, about the offered Referral it received (``referral_message_id`` is
    that message's id), step ``withdrawn`` and nothing else: never who accepted, nor any other provider's
    decision. None for a provider on the web form (``referral-form`` renders Referrals only: its withdrawn offer
    is seen in ``GET /offers`` and an answer to it is refused), one no longer configured, or a Referral that
    cannot be read (shredded).
    """
    partner = hub.config.partners.get(offer.partner)
    if partner is None or partner.adapter == FORM_ADAPTER:  # the web form carries Referrals only
        return None
    referral = read_message(hub, offer.record_id)
    if referral is None:
        return None
    correlation = referral.get("correlation_id") or referral["message_id"]
    return step_message(str(hub.config.settings.hub_id), f"{offer.id}.withdrawn", offer_message_id(offer.id),
                        offer.partner, correlation, "withdrawn", None, offer.answered_at or now())  # fmt: skip


def note_committed(hub: Any, desk: OfferDesk) -> None:
    """Note as sent each withdrawn offer whose Referral the hub's store holds though the book never noted it
    (blocking).

    The window: a process committed the offer's Referral through intake, so its provider receives it, and
    stopped before ``mark_sent``; the offer was withdrawn after (``_unsent`` re-sends open offers only). The
    Referral is found by its sender (the referrer) and its message id (derived from the offer's:
    ``ReadModel.record_of``), and noted as sent, so the provider is owed its withdrawal notice like any other.
    One not in the store ``NEVER_SENT_AFTER_SECONDS`` after the offer was made was never sent: nothing is owed.
    """
    with desk.book.transaction() as tx:
        unnoted = tx.withdrawn_unnoted(now() - RESEND_AFTER_SECONDS)
        referrers = {o.record_id: referral.referrer for o in unnoted if (referral := tx.referral(o.record_id))}
    for offer in unnoted:
        referrer = referrers.get(offer.record_id)
        record = hub.store.record_of(referrer, offer_message_id(offer.id)) if referrer else None
        with desk.book.transaction() as tx:
            if record is not None:
                tx.mark_sent(offer.id, now(), record)
                log.info("offer %s: its Referral was committed as record %s before a stop; noted as sent",
                         offer.id, record)  # fmt: skip
            elif offer.offered_at < now() - NEVER_SENT_AFTER_SECONDS:
                tx.mark_withdrawal_told(offer.id, now())  # never sent: nothing to tell


async def tell_withdrawn(hub: Any) -> None:
    """Tell each provider owed it that its sent offer was withdrawn (another service accepted, or an operator
    withdrew it): every round, once per offer, idempotent on the offer's id (``hand_over``); first note as sent
    the withdrawn offers whose Referral was committed by a process that stopped before noting it
    (``note_committed``)."""
    await asyncio.to_thread(run_desk, hub, lambda desk: note_committed(hub, desk))
    for offer in await asyncio.to_thread(run_desk, hub, _withdrawals_owed):
        message = await asyncio.to_thread(withdrawal_message, hub, offer)
        await hand_over(hub, message, f"withdrawn:{offer.id}", f"offer {offer.id}: the withdrawal notice",
                        lambda desk, one=offer.id: _withdrawal_told(desk, one))  # fmt: skip


def _withdrawals_owed(desk: OfferDesk) -> list[Offer]:
    with desk.book.transaction() as tx:
        return tx.withdrawal_notices_owed()


def _withdrawal_told(desk: OfferDesk, offer_id: str) -> None:
    with desk.book.transaction() as tx:
        tx.mark_withdrawal_told(offer_id, now())


def _mark_sent(desk: OfferDesk, offer_id: str, record_id: str) -> None:
    with desk.book.transaction() as tx:
        tx.mark_sent(offer_id, now(), record_id)


def _unsent(desk: OfferDesk) -> Outcome:
    with desk.book.transaction() as tx:
        return Outcome(offered=tx.unsent(now() - RESEND_AFTER_SECONDS))


async def acknowledge(hub: Any, offer_id: str, provider: str, body: dict[str, Any]) -> None:
    """Write the provider's decision given through the API as its business Acknowledgement of the offer.

    Accepted: status ``accepted``, reason code ``offer_accepted``; declined: status ``rejected`` with the reason
    code only (a decline's free text is never passed on). In the Referral's correlation, in reply to the offer:
    it reaches the referrer (the example's ``acknowledgement`` route) and meets the offer's window milestone.
    """

    def find(desk: OfferDesk) -> Offer | None:
        with desk.book.transaction() as tx:
            return tx.offer(offer_id)

    offer = await asyncio.to_thread(run_desk, hub, find)
    referral = await asyncio.to_thread(read_message, hub, offer.record_id) if offer is not None else None
    if offer is None or referral is None:
        return
    accepted = body.get("answer") == "accept"
    message: dict[str, Any] = {
        "message_id": str(uuid.uuid5(OFFER_NAMESPACE, f"{offer.id}.answer")),
        "type": "Acknowledgement",
        "schema_version": "1",
        "created_at": iso(now()),
        "sender": {"org_id": provider},
        "recipient": {"org_id": referral["sender"]["org_id"]},
        "in_reply_to": offer_message_id(offer.id),
        "payload": {"level": "business", "status": "accepted" if accepted else "rejected",
                    "reason_code": ACCEPTED_CODE if accepted else str(body.get("reason_code")), "at": iso(now())},
    }  # fmt: skip
    if referral.get("correlation_id"):
        message["correlation_id"] = referral["correlation_id"]
    try:
        await hub.intake.submit(message, sender_id=provider, idempotency_key=f"{offer.id}.answer")
    except HubError as exc:  # the decision is recorded; only its message could not be made
        log.warning("offer %s: the decision's acknowledgement was not sent: %s", offer.id, exc)


def iso(seconds: float) -> str:
    """Epoch seconds as ISO 8601 in UTC."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- one round ----------------------------------------------------------------------------------------------------
def take_answer(desk: OfferDesk, ack: dict[str, Any]) -> Outcome:
    """Apply a provider's Acknowledgement of an offered Referral to its offer; nothing when it answers no open
    offer of that provider (or is not an answer, or the offer was already answered)."""
    sender = ack.get("sender", {}).get("org_id") if isinstance(ack.get("sender"), dict) else None
    payload = ack.get("payload") if isinstance(ack.get("payload"), dict) else None
    reply_to = ack.get("in_reply_to")
    answer = answer_of_acknowledgement(payload) if payload is not None else None
    if answer is None or not isinstance(sender, str) or not isinstance(reply_to, str):
        return Outcome()
    with desk.book.transaction() as tx:
        offer = next((o for o in tx.open_offers() if o.partner == sender and offer_message_id(o.id) == reply_to), None)
    if offer is None:
        return Outcome()
    try:
        return desk.answer(offer.id, sender, answer[0], answer[1])
    except (OfferRefused, UnknownOffer):  # answered meanwhile (by the API, or another process): the first stands
        return Outcome()


def round_once(hub: Any, desk: OfferDesk, seen: set[str], catch_up: bool) -> Outcome:
    """One round (blocking): new referrals and answers, windows, offers to send again; return what to deliver."""
    total = Outcome()
    hub_id = str(hub.config.settings.hub_id)
    ids = []
    while PENDING:
        ids.append(PENDING.popleft())
    if catch_up:
        listed = hub.store.list_messages(limit=CATCH_UP_LIMIT, message_type="Referral")
        ids += [str(m["id"]) for m in listed if str(m["id"]) not in seen]
    for record_id in dict.fromkeys(ids):
        referral = read_message(hub, record_id)
        if referral is not None:
            seen.add(record_id)
            if is_unmatched(referral, hub_id):
                _add(total, refer_message(desk, record_id, referral))
            continue
        ack = read_message(hub, record_id, "Acknowledgement")
        if ack is not None:
            _add(total, take_answer(desk, ack))
    _add(total, windows(hub, desk))
    _add(total, _unsent(desk))
    if len(seen) > 50_000:
        seen.clear()
    return total


def windows(hub: Any, desk: OfferDesk) -> Outcome:
    """Each sent open offer's window milestone: breached lapses the offer; met takes in the answer that met it."""
    total = Outcome()
    name = desk.settings.window_milestone
    with desk.book.transaction() as tx:
        sent = tx.sent_open_offers()
    for offer in sent:
        assert offer.message_record is not None
        state = hub.data.milestone(name, offer.message_record, offer.partner)
        if state is None:
            continue
        if state.state == "breached":
            _add(total, desk.expire(offer.id))
        elif state.state in ("met", "late") and state.closed_by:
            ack = read_message(hub, state.closed_by, "Acknowledgement")
            if ack is not None:
                _add(total, take_answer(desk, ack))
        else:
            if offer.expires_at != state.due_at:
                with desk.book.transaction() as tx:
                    tx.set_window(offer.id, state.due_at)
            ack = delivery_acknowledgement(hub, offer) if offer.state == "open" else None
            if ack is not None:
                _add(total, take_answer(desk, ack))
    return total


def delivery_acknowledgement(hub: Any, offer: Offer) -> dict[str, Any] | None:
    """The provider's first Acknowledgement of the offer's delivery, as the hub's store recorded it, or None.

    Whichever hub process stored it: a ``hub worker`` that read the provider's synchronous answer to the delivery
    (``receive.reply``) records it on the offered Referral's timeline (event ``acknowledged`` or ``rejected``
    naming the acknowledgement), but its ``hub_message_event`` is called in the worker, which runs no rounds.
    An answer that does not close the window (``received``: more information) is found only this way.
    """
    assert offer.message_record is not None
    view = hub.store.message_view(offer.message_record)
    for entry in view.get("timeline", []) if view is not None else []:
        detail = entry.get("detail") or {}
        if entry.get("partner") == offer.partner and isinstance(detail.get("acknowledgement"), str):
            ack = read_message(hub, detail["acknowledgement"], "Acknowledgement")
            if ack is not None:
                return ack
    return None


def _add(total: Outcome, one: Outcome) -> None:
    total.offered += one.offered
    total.withdrawn += one.withdrawn
    total.notices += one.notices


def _unsent_notices(desk: OfferDesk) -> list[tuple[str, str, str, str, str | None, float]]:
    with desk.book.transaction() as tx:
        return tx.unsent_notices()


def update_message(hub_id: str, referral: dict[str, Any], notice_id: str, step: str, detail: str | None,
                   at: float) -> dict[str, Any]:  # fmt: skip
    """The ``ReferralUpdate`` telling the referrer of one step (its id derived from the notice's)."""
    correlation = referral.get("correlation_id") or referral["message_id"]
    return step_message(hub_id, notice_id, referral["message_id"], referral["sender"]["org_id"], correlation, step,
                        detail, at)  # fmt: skip


def step_message(hub_id: str, key: str, about: str, to: str, correlation: str, step: str, detail: str | None,
                 at: float) -> dict[str, Any]:  # fmt: skip
    """A ``ReferralUpdate`` from the hub to ``to`` of one ``step`` of the Referral whose message id is ``about``
    (its id derived from ``key``)."""
    payload: dict[str, Any] = {"referral_message_id": about, "step": step, "at": iso(at)}
    if step == "declined" and detail:
        payload["reason_code"] = detail
    if step == "waiting_for_navigator" and detail:
        payload["waiting_because"] = detail
    if step == "closed" and detail:
        payload["closed_because"] = detail
    message: dict[str, Any] = {
        "message_id": str(uuid.uuid5(UPDATE_NAMESPACE, key)),
        "type": "ReferralUpdate",
        "schema_version": "1",
        "created_at": iso(at),
        "sender": {"org_id": hub_id},
        "recipient": {"org_id": to},
        "correlation_id": correlation,
        "payload": payload,
    }
    return message


async def tell_referrers(hub: Any) -> None:
    """Send every step not yet sent to its referrer as a ``ReferralUpdate`` (once: idempotent on the notice,
    ``hand_over``)."""
    hub_id = str(hub.config.settings.hub_id)
    for notice_id, record_id, _referrer, step, detail, at in await asyncio.to_thread(run_desk, hub, _unsent_notices):
        referral = await asyncio.to_thread(read_message, hub, record_id)
        message = update_message(hub_id, referral, notice_id, step, detail, at) if referral is not None else None
        await hand_over(hub, message, f"update:{notice_id}", f"referral {record_id}: step {step} to its referrer",
                        lambda desk, n=notice_id: _notice_sent(desk, n))  # fmt: skip


def _notice_sent(desk: OfferDesk, notice_id: str) -> None:
    with desk.book.transaction() as tx:
        tx.mark_notice_sent(notice_id, now())


async def sweep(hub: Any, stop: asyncio.Event) -> None:
    """The background task of ``hub serve`` (``RouteSpec.background``): a round every half second."""
    HUB_IDS.add(str(hub.config.settings.hub_id))
    with kept_open(hub, offer_settings_of(hub)[0]):
        await _rounds(hub, stop)


async def _rounds(hub: Any, stop: asyncio.Event) -> None:
    seen: set[str] = set()
    last_catch_up = 0.0
    while not stop.is_set():
        try:
            catch_up = time.monotonic() - last_catch_up >= CATCH_UP_SECONDS
            outcome = await asyncio.to_thread(run_desk, hub, lambda desk, c=catch_up: round_once(hub, desk, seen, c))
            if catch_up:
                last_catch_up = time.monotonic()
            await deliver(hub, outcome)
            await tell_referrers(hub)
            await tell_withdrawn(hub)
        except Exception:
            log.exception("offer chain round failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ROUND_SECONDS)
