"""The offer chain's HTTP API under ``/plugins/hostels`` (the background work is ``hub_hostels.offers.chain``).

- ``POST /referrals/{id}/match`` (the Referral's sender, or an operator): a stored Referral that names no
  provider (``payload.service_id`` absent) enters the chain now (the hub also takes it in by itself when it is
  stored); ``{id}`` is the hub's record id, the ``id`` of its 202. ``GET /referrals/{id}``: its state and what
  the referrer was told.
- ``GET /offers`` (a provider: its own offers only; an operator: all), ``POST /offers/{id}/answer``
  (``{"answer": "accept" | "decline" | "info", "reason_code": ...}``), ``POST /offers/{id}/arrived``; an
  operator may ``POST /offers/{id}/withdraw``. Another provider's offer is 404, as an unknown id.
- ``GET /queue`` and ``POST /queue/{id}/allocate`` (``{"service_id", "reason"}``): operators and partners of
  kind ``navigator``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from hub import Authenticated, HubError, InvalidMessage, NotFound, Problem
from hub_hostels.offers.book import Offer
from hub_hostels.offers.chain import acknowledge, deliver, offer_message_id, read_message, refer_message, run_desk
from hub_hostels.offers.desk import OfferDesk, OfferRefused, UnknownOffer
from hub_hostels.problem_responses import problems


class Forbidden(HubError):
    """The caller may not do this (a navigator's or operator's act)."""

    status = 403
    title = "Forbidden"


def _offer_view(offer: Offer) -> dict[str, Any]:
    return {"offer_id": offer.id, "referral": offer.record_id, "service_id": offer.service_id, "state": offer.state,
            "reason_code": offer.reason_code, "offered_at": offer.offered_at, "expires_at": offer.expires_at,
            "message_id": offer_message_id(offer.id)}  # fmt: skip


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
        referral = await asyncio.to_thread(read_message, hub, record_id)
        sender = referral.get("sender", {}).get("org_id") if referral else None
        if referral is None or (not caller.is_operator and sender != caller.id):
            raise NotFound("No such referral.")
        payload = referral.get("payload", {})
        if payload.get("service_id"):
            problem = Problem("/payload/service_id", "present: the referral goes to that provider")
            raise InvalidMessage("The referral names its provider: it is not matched.", [problem])
        outcome = await asyncio.to_thread(run_desk, hub, lambda desk: refer_message(desk, record_id, referral))
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
