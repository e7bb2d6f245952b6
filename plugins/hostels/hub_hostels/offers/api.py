"""The offer chain in a running hub: the HTTP API under ``/plugins/hostels`` and the offer-window sweep.

- ``POST /referrals/{id}/match`` (the Referral's sender, or an operator): a stored Referral that names no
  provider (``payload.service_id`` absent) enters the chain (``hub_hostels.offers.desk``); ``{id}`` is the hub's
  record id, the ``id`` of its 202. ``GET /referrals/{id}``: its state and what the referrer was told.
- Each offer is sent as the Referral itself, naming the offered provider in ``payload.service_id``: the hub
  routes it (a ``referral-taker`` route), renders it in the provider's format, minimises, seals and delivers it by
  the provider's transport like any message. Its message id is derived from the offer's id.
- ``GET /offers`` (a provider: its own offers only; an operator: all), ``POST /offers/{id}/answer``
  (``{"answer": "accept" | "decline" | "info", "reason_code": ...}``), ``POST /offers/{id}/arrived``; an
  operator may ``POST /offers/{id}/withdraw``. Another provider's offer is 404, as an unknown id.
- ``GET /queue`` and ``POST /queue/{id}/allocate`` (``{"service_id", "reason"}``): operators and partners of
  kind ``navigator``.
- ``sweep``: the background task ``hub serve`` runs (``RouteSpec.background``): each second, offers whose window
  ended lapse (once: the desk's conditional update under the referral's lock) and the chain moves on; an open
  offer whose Referral was never committed (the process stopped between the two) is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from hub import Authenticated, HubError, InvalidMessage, NotFound, Problem
from hub_hostels.directory.database import database_url, now
from hub_hostels.directory.links import DirectorySettings
from hub_hostels.directory.match_directory import candidates
from hub_hostels.offers.book import Offer, open_offers
from hub_hostels.offers.desk import OfferDesk, OfferRefused, Outcome, UnknownOffer
from hub_hostels.offers.person import match_request
from hub_hostels.offers.terms import OfferSettings
from hub_hostels.problem_responses import problems

log = logging.getLogger("hub.hostels.offers")
RESEND_AFTER_SECONDS = 5.0
"""An open offer whose Referral was not committed this long after it was made is sent by the sweep: one a
process stopped before sending, or one ``hub offers allocate`` recorded. The offer's id is the idempotency key,
so a repeat is one message."""
OFFER_NAMESPACE = uuid.UUID("5d0e8a52-3c1f-4f0e-9a51-0c6f7b2f3e11")


class Forbidden(HubError):
    """The caller may not do this (a navigator's or operator's act)."""

    status = 403
    title = "Forbidden"


def _settings(hub: Any) -> tuple[str, DirectorySettings, OfferSettings]:
    settings = hub.config.settings
    return database_url(settings), DirectorySettings.from_settings(settings, hub.config.partners), \
        OfferSettings.from_settings(settings)  # fmt: skip


def _referral(hub: Any, record_id: str) -> dict[str, Any] | None:
    body = hub.store.read_body(record_id)
    message = json.loads(body) if body is not None else None
    return message if isinstance(message, dict) and message.get("type") == "Referral" else None


def run_desk(hub: Any, act: Any) -> Any:
    """Open the offer book, run ``act(desk)`` and close it (blocking: call it in a thread)."""
    url, links, offer_settings = _settings(hub)
    book = open_offers(url)
    try:
        units = {link.service_id: link.unit for link in links.links}

        def request_of(record_id: str) -> Any:
            referral = _referral(hub, record_id) or {}
            return match_request(referral, links.needs_from_terms, now())

        desk = OfferDesk(book, offer_settings, lambda: candidates(book, links), request_of, now,
                         unit_of=units.get)  # fmt: skip
        return act(desk)
    finally:
        book.close()


async def deliver(hub: Any, outcome: Outcome) -> None:
    """Send each new offer to its provider as the Referral naming it (idempotent on the offer's id)."""
    for offer in outcome.offered:
        referral = await asyncio.to_thread(_referral, hub, offer.record_id)
        if referral is None:
            log.warning("offer %s: referral %s cannot be read; not sent", offer.id, offer.record_id)
            continue
        message = offer_message(referral, offer)
        accepted = await hub.intake.submit(message, sender_id=referral["sender"]["org_id"], idempotency_key=offer.id)
        await asyncio.to_thread(run_desk, hub, lambda desk, one=offer: _mark_sent(desk, one.id))
        log.info("offer %s sent as record %s", offer.id, accepted.id)


def _mark_sent(desk: OfferDesk, offer_id: str) -> None:
    with desk.book.transaction() as tx:
        tx.mark_sent(offer_id, now(), desk.settings.window_seconds)


def _unsent(desk: OfferDesk) -> Outcome:
    with desk.book.transaction() as tx:
        return Outcome(offered=tx.unsent(now() - RESEND_AFTER_SECONDS))


def offer_message(referral: dict[str, Any], offer: Offer) -> dict[str, Any]:
    """The Referral as offered to one provider: same content and sender, the provider named, its own id."""
    message: dict[str, Any] = copy.deepcopy(referral)
    message["message_id"] = str(uuid.uuid5(OFFER_NAMESPACE, offer.id))
    message["payload"]["service_id"] = offer.partner
    message["payload"]["offer_id"] = offer.id
    message["payload"].pop("complex", None)
    message["recipient"] = {"org_id": offer.partner}
    return message


ACCEPTED_CODE = "offer_accepted"
"""The ``reason_code`` of the Acknowledgement the hub sends for a provider's acceptance (it starts the
``assessment`` milestone of config/pathways.toml)."""


async def acknowledge(hub: Any, offer_id: str, provider: str, body: dict[str, Any]) -> None:
    """Send the provider's decision to the referrer as the provider's business Acknowledgement of the offer.

    Accepted: status ``accepted``, reason code ``offer_accepted``; declined: status ``rejected`` with the reason
    code only (a decline's free text is never passed on). In the Referral's correlation, in reply to the offer.
    """

    def find(desk: OfferDesk) -> tuple[Offer | None, dict[str, Any] | None]:
        with desk.book.transaction() as tx:
            offer = tx.offer(offer_id)
        return offer, (_referral(hub, offer.record_id) if offer is not None else None)

    offer, referral = await asyncio.to_thread(run_desk, hub, find)
    if offer is None or referral is None:
        return
    accepted = body.get("answer") == "accept"
    message: dict[str, Any] = {
        "message_id": str(uuid.uuid5(OFFER_NAMESPACE, f"{offer.id}.answer")),
        "type": "Acknowledgement",
        "schema_version": "1",
        "created_at": _iso(now()),
        "sender": {"org_id": provider},
        "recipient": {"org_id": referral["sender"]["org_id"]},
        "in_reply_to": str(uuid.uuid5(OFFER_NAMESPACE, offer.id)),
        "payload": {"level": "business", "status": "accepted" if accepted else "rejected",
                    "reason_code": ACCEPTED_CODE if accepted else str(body.get("reason_code")), "at": _iso(now())},
    }  # fmt: skip
    if referral.get("correlation_id"):
        message["correlation_id"] = referral["correlation_id"]
    try:
        await hub.intake.submit(message, sender_id=provider, idempotency_key=f"{offer.id}.answer")
    except HubError as exc:  # the decision is recorded; only its message could not be made
        log.warning("offer %s: the decision's acknowledgement was not sent: %s", offer.id, exc)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _offer_view(offer: Offer) -> dict[str, Any]:
    return {"offer_id": offer.id, "referral": offer.record_id, "service_id": offer.service_id, "state": offer.state,
            "reason_code": offer.reason_code, "offered_at": offer.offered_at, "expires_at": offer.expires_at,
            "message_id": str(uuid.uuid5(OFFER_NAMESPACE, offer.id))}  # fmt: skip


def _is_navigator(hub: Any, caller: Any) -> bool:
    partner = None if caller.is_operator else hub.config.partners.get(caller.id)
    return caller.is_operator or (partner is not None and partner.kind == "navigator")


def _refused(exc: OfferRefused) -> InvalidMessage:
    where, _, what = str(exc).partition(": ")
    return InvalidMessage("The request cannot be taken; nothing changed.", [Problem(f"/{where}", what)])


def build_offer_routes(router: APIRouter) -> None:
    """Add the offer routes to the plugin's router."""

    @router.post(
        "/referrals/{record_id}/match",
        summary="Match a Referral that names no provider and offer it",
        responses=problems(401, 404, 422),
    )
    async def match(request: Request, record_id: str, caller: Authenticated) -> dict[str, Any]:
        hub = request.app.state.hub
        referral = await asyncio.to_thread(_referral, hub, record_id)
        sender = referral.get("sender", {}).get("org_id") if referral else None
        if referral is None or (not caller.is_operator and sender != caller.id):
            raise NotFound("No such referral.")
        payload = referral.get("payload", {})
        if payload.get("service_id"):
            problem = Problem("/payload/service_id", "present: the referral goes to that provider")
            raise InvalidMessage("The referral names its provider: it is not matched.", [problem])
        outcome = await asyncio.to_thread(run_desk, hub, lambda desk: desk.refer(
            record_id, str(sender), complex_case=payload.get("complex") is True,
            self_referral=payload.get("source") == "self"))  # fmt: skip
        await deliver(hub, outcome)
        view: dict[str, Any] = await referral_view(request, record_id, caller)
        return view

    @router.get(
        "/referrals/{record_id}",
        summary="Where a referral is in the offer chain (its referrer's view)",
        responses=problems(401, 404),
    )
    async def referral_view(request: Request, record_id: str, caller: Authenticated) -> dict[str, Any]:
        hub = request.app.state.hub

        def read(desk: OfferDesk) -> Any:
            with desk.book.transaction() as tx:
                return tx.referral(record_id), tx.notices(record_id)

        state, notices = await asyncio.to_thread(run_desk, hub, read)
        if state is None or (not caller.is_operator and state.referrer != caller.id):
            raise NotFound("No such referral in the offer chain.")
        return {
            "referral": record_id,
            "state": state.state,
            "waiting_because": state.queue_reason,
            "told": [{"step": step, "detail": detail} for step, detail in notices],
        }

    @router.get("/offers", summary="The caller's offers (an operator's: all)", responses=problems(401))
    async def list_offers(request: Request, caller: Authenticated) -> dict[str, Any]:
        def read(desk: OfferDesk) -> list[Offer]:
            with desk.book.transaction() as tx:
                return (
                    tx.open_offers() if caller.is_operator else [o for o in tx.open_offers() if o.partner == caller.id]
                )

        offers = await asyncio.to_thread(run_desk, request.app.state.hub, read)
        return {"offers": [_offer_view(o) for o in offers]}

    @router.post(
        "/offers/{offer_id}/answer",
        summary="Accept, decline (with a reason code) or ask for more",
        responses=problems(400, 401, 404, 422),
    )
    async def answer(request: Request, offer_id: str, caller: Authenticated,
                     body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:  # fmt: skip
        unknown = sorted(set(body) - {"answer", "reason_code", "reason"})
        if unknown:
            problems = [Problem(f"/{k}", "not a field (answer, reason_code, reason)") for k in unknown]
            raise InvalidMessage("The answer has fields the hub does not know.", problems)
        if body.get("reason_code") == "other" and not str(body.get("reason") or "").strip():
            raise InvalidMessage(
                "A decline for another reason says which.", [Problem("/reason", "required with other")]
            )
        result = await _act(request, lambda desk: desk.answer(offer_id, caller.id, str(body.get("answer")),
                                                                body.get("reason_code")))  # fmt: skip
        if body.get("answer") in ("accept", "decline"):
            await acknowledge(request.app.state.hub, offer_id, caller.id, body)
        return result

    @router.post(
        "/offers/{offer_id}/arrived",
        summary="The person arrived: the reserved place is taken",
        responses=problems(401, 404, 422),
    )
    async def arrived(request: Request, offer_id: str, caller: Authenticated) -> dict[str, Any]:
        return await _act(request, lambda desk: desk.arrived(offer_id, caller.id))

    @router.post(
        "/offers/{offer_id}/withdraw",
        summary="Withdraw an offer (an operator); its place is released",
        responses=problems(401, 404, 422),
    )
    async def withdraw(request: Request, offer_id: str, caller: Authenticated) -> dict[str, Any]:
        if not caller.is_operator:
            raise NotFound("No such offer.")
        return await _act(request, lambda desk: desk.withdraw(offer_id))

    @router.get("/queue", summary="The navigators' queue", responses=problems(401, 403))
    async def queue(request: Request, caller: Authenticated) -> dict[str, Any]:
        hub = request.app.state.hub
        if not _is_navigator(hub, caller):
            raise Forbidden("Only navigators and operators see the queue.")
        waiting = await asyncio.to_thread(run_desk, hub, lambda desk: desk.queue())
        return {"queue": [{"referral": r, "referrer": who, "reason": why, "since": at} for r, who, why, at in waiting]}

    @router.post(
        "/queue/{record_id}/allocate",
        summary="A navigator allocates a referral by hand, with a reason",
        responses=problems(400, 401, 403, 422),
    )
    async def allocate(request: Request, record_id: str, caller: Authenticated,
                       body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:  # fmt: skip
        hub = request.app.state.hub
        if not _is_navigator(hub, caller):
            raise Forbidden("Only navigators and operators allocate.")
        return await _act(request, lambda desk: desk.allocate(record_id, str(body.get("service_id")), caller.id,
                                                                str(body.get("reason") or "")))  # fmt: skip


async def _act(request: Request, act: Any) -> dict[str, Any]:
    hub = request.app.state.hub
    try:
        outcome = await asyncio.to_thread(run_desk, hub, act)
    except UnknownOffer:
        raise NotFound("No such offer.") from None
    except OfferRefused as exc:
        raise _refused(exc) from None
    await deliver(hub, outcome)
    return {"offered": len(outcome.offered), "told": [n.step for n in outcome.notices]}


async def sweep(hub: Any, stop: asyncio.Event) -> None:
    """Each second, let offers whose window ended lapse and move their chains on (``hub serve``)."""
    while not stop.is_set():
        try:
            outcome = await asyncio.to_thread(run_desk, hub, lambda desk: desk.expire_due())
            await deliver(hub, outcome)
            await deliver(hub, await asyncio.to_thread(run_desk, hub, _unsent))
        except Exception:
            log.exception("offer window sweep failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
