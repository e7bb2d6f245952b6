"""The offer chain: a referral offered to matched services in turn, answered, timed out, or queued for a navigator.

``OfferDesk`` changes the offer book; each method is one transaction and returns an ``Outcome``: the offers to
send (each to its own provider, in its format and transport), the offers withdrawn and what the referrer is told.
The caller delivers these; the desk never sends. What is owed to someone is recorded in the same transaction as
the change (the referrer's notices; a withdrawn offer's ``withdrawal_owed``: its provider is told only that its
own offer is withdrawn), so a round sends it even when the process that made the change stopped before sending.

The chain (docs/partners/hostels.md):

- ``refer``: a referral without a chosen provider. A self-referral or one flagged complex goes to the
  navigators' queue; any other is matched (``hub_hostels.directory.matching.rank`` over the linked services,
  each service's places less those reserved by accepted offers) and offered to the first ``at_once`` services
  not yet offered it, skipping a service that already holds ``max_open_per_service`` open offers and never
  holding more than ``max_open_per_referral`` open at once.
- ``answer``: the provider's ``accept`` reserves a place (until ``arrived`` or ``withdraw``) and withdraws the
  referral's other open offers; ``decline`` (with a reason code) or ``expire`` (the window's milestone was
  breached: no answer) moves the chain to the next service; ``info`` asks the referrer for more and leaves
  the offer open.
- When no offer is open and none can be made, the referral waits for a navigator (``no_match`` when it was never
  offered, ``all_declined`` otherwise); ``allocate`` records a navigator's choice with a reason and offers it to
  that service (outside the caps: a navigator decides); ``close`` ends it without a place, with a reason
  code.
- The referrer is told each step: offered, info_requested, accepted, declined (reason code only), expired,
  waiting_for_navigator, placed, withdrawn, closed (its reason code). The service names are not part of a
  decline's notice.

A provider only ever reaches its own offers: ``answer`` for another provider's offer is ``UnknownOffer``, the
same as for an id that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from hub_hostels.directory.matching import Candidate, MatchRequest, Policy, rank
from hub_hostels.offers.book import Offer, OfferBook, ReferralState, Tx
from hub_hostels.offers.terms import ANSWERS, CLOSE_REASONS, QUEUE_REASONS, REASON_CODES, OfferSettings

REASON_LIMIT = 200


class UnknownOffer(LookupError):
    """No such offer for this provider (another provider's offer is not found either)."""


class OfferRefused(ValueError):
    """An answer or allocation that cannot be taken; the text says what and where; nothing changed."""


@dataclass(frozen=True)
class Notice:
    """One step the referrer is told of (``detail``: a reason code, or a queue reason; never a service)."""

    record_id: str
    referrer: str
    step: str
    detail: str | None = None
    id: str = ""


@dataclass
class Outcome:
    """What one desk operation decided, for the caller to deliver."""

    offered: list[Offer] = field(default_factory=list)
    withdrawn: list[Offer] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


class OfferDesk:
    """The offer chain over one ``OfferBook`` (see the module's docstring).

    ``candidates()`` gives the linked services as matching sees them (``match_directory.candidates``);
    ``request_of(record_id)`` reads what matching needs of the person from the Referral's body (the caller
    decrypts it; the desk keeps none of it); ``unit_of(service_id)`` the capacity unit a service is matched on.
    """

    def __init__(self, book: OfferBook, settings: OfferSettings, candidates: Callable[[], Sequence[Candidate]],
                 request_of: Callable[[str], MatchRequest], clock: Callable[[], float],
                 policy: Policy | None = None,
                 unit_of: Callable[[str], str | None] = lambda _s: None) -> None:  # fmt: skip
        self.book = book
        self.settings = settings
        self.candidates = candidates
        self.request_of = request_of
        self.clock = clock
        self.policy = policy or Policy()
        self.unit_of = unit_of

    # -- a new referral -----------------------------------------------------------------------------
    def refer(self, record_id: str, referrer: str, *, complex_case: bool = False,
              self_referral: bool = False) -> Outcome:  # fmt: skip
        """Take a referral into the chain (again: nothing happens) and make its first offers or queue it."""
        pool = list(self.candidates())  # read before the transaction: the directory shares its connection
        outcome = Outcome()
        now = self.clock()
        with self.book.transaction() as tx:
            if not tx.add_referral(record_id, referrer, now):
                return outcome
            if self_referral or complex_case:
                self._queue(tx, outcome, record_id, referrer, "self_referral" if self_referral else "complex", now)
            else:
                self._advance(tx, outcome, record_id, referrer, now, pool)
        return outcome

    # -- a provider's answer ------------------------------------------------------------------------
    def answer(self, offer_id: str, partner: str, answer: str, reason_code: str | None = None) -> Outcome:
        """Take ``partner``'s answer to its offer (see ``hub_hostels.offers.terms``)."""
        if answer not in ANSWERS:
            raise OfferRefused(f"answer: {answer!r} is not one of {', '.join(ANSWERS)}")
        if answer == "decline" and reason_code not in REASON_CODES:
            raise OfferRefused(f"reason_code: {reason_code!r} is not one of {', '.join(REASON_CODES)}")
        if answer != "decline" and reason_code is not None:
            raise OfferRefused("reason_code: only a decline gives a reason code")
        pool = list(self.candidates())  # read before the transaction: the directory shares its connection
        outcome = Outcome()
        now = self.clock()
        with self.book.transaction() as tx:
            offer = tx.offer(offer_id)
            if offer is None or offer.partner != partner:
                raise UnknownOffer(offer_id)
            referral = tx.referral(offer.record_id, lock=True)
            assert referral is not None
            if not offer.open:
                raise OfferRefused(f"offer {offer_id}: already {offer.state}; nothing changed")
            if answer == "info":
                tx.set_offer(offer.id, "info_requested", None, now, False)
                outcome.notices.append(self._notice(tx, referral.record_id, referral.referrer, "info_requested", None,
                                                    now))  # fmt: skip
            elif answer == "accept":
                tx.set_offer(offer.id, "accepted", None, now, True)
                tx.set_referral(referral.record_id, "accepted", None, now)
                outcome.notices.append(self._notice(tx, referral.record_id, referral.referrer, "accepted", None, now))
                for other in tx.offers(referral.record_id):
                    if other.open and other.id != offer.id:
                        tx.set_offer(other.id, "withdrawn", None, now, False)
                        tx.owe_withdrawal_notice(other.id)
                        outcome.withdrawn.append(replace(other, state="withdrawn"))
            else:
                tx.set_offer(offer.id, "declined", reason_code, now, False)
                outcome.notices.append(self._notice(tx, referral.record_id, referral.referrer, "declined",
                                                    reason_code, now))  # fmt: skip
                if referral.state == "offering":
                    self._advance(tx, outcome, referral.record_id, referral.referrer, now, pool)
        return outcome

    def expire(self, offer_id: str) -> Outcome:
        """The offer's window ended (its milestone was breached): if still open, it lapses and the chain moves on.

        Once: the change is conditional on the offer being open, read again under the referral's lock, so a
        second call (another process, a repeated sweep) changes nothing. The time is the pathway's to keep,
        not the desk's: the caller calls this when the window's timer has fired.
        """
        pool = list(self.candidates())  # read before the transaction: the directory shares its connection
        outcome = Outcome()
        now = self.clock()
        with self.book.transaction() as tx:
            offer = tx.offer(offer_id)
            if offer is None:
                return outcome
            referral = tx.referral(offer.record_id, lock=True)
            offer = tx.offer(offer_id)  # read again under the lock
            if referral is None or offer is None or not offer.open:
                return outcome
            tx.set_offer(offer.id, "expired", None, now, False)
            outcome.withdrawn.append(replace(offer, state="expired"))
            outcome.notices.append(self._notice(tx, referral.record_id, referral.referrer, "expired", None, now))
            if referral.state == "offering":
                self._advance(tx, outcome, referral.record_id, referral.referrer, now, pool)
        return outcome

    def arrived(self, offer_id: str, partner: str) -> Outcome:
        """The person arrived at the service that accepted: the reservation becomes a place taken."""
        outcome = Outcome()
        now = self.clock()
        with self.book.transaction() as tx:
            offer = tx.offer(offer_id)
            if offer is None or offer.partner != partner:
                raise UnknownOffer(offer_id)
            if offer.state != "accepted":
                raise OfferRefused(f"offer {offer_id}: {offer.state}, not accepted; nothing changed")
            referral = tx.referral(offer.record_id, lock=True)
            assert referral is not None
            tx.set_offer(offer.id, "arrived", None, now, False)
            tx.take_place(offer.service_id, self.unit_of(offer.service_id), now)
            tx.set_referral(referral.record_id, "placed", None, now)
            outcome.notices.append(self._notice(tx, referral.record_id, referral.referrer, "placed", None, now))
        return outcome

    def withdraw(self, offer_id: str) -> Outcome:
        """Withdraw an offer (open or accepted): its reservation, if any, is released; the chain moves on."""
        pool = list(self.candidates())  # read before the transaction: the directory shares its connection
        outcome = Outcome()
        now = self.clock()
        with self.book.transaction() as tx:
            offer = tx.offer(offer_id)
            if offer is None:
                raise UnknownOffer(offer_id)
            referral = tx.referral(offer.record_id, lock=True)
            assert referral is not None
            if not (offer.open or offer.state == "accepted"):
                raise OfferRefused(f"offer {offer_id}: already {offer.state}; nothing changed")
            tx.set_offer(offer.id, "withdrawn", None, now, False)
            tx.owe_withdrawal_notice(offer.id)
            outcome.withdrawn.append(replace(offer, state="withdrawn"))
            outcome.notices.append(self._notice(tx, referral.record_id, referral.referrer, "withdrawn", None, now))
            if referral.state in ("offering", "accepted"):
                tx.set_referral(referral.record_id, "offering", None, now)
                self._advance(tx, outcome, referral.record_id, referral.referrer, now, pool)
        return outcome

    # -- the navigators' queue ----------------------------------------------------------------------
    def queue(self) -> list[tuple[str, str, str | None, float]]:
        """The referrals waiting for a navigator, oldest first: (record id, referrer, reason, since)."""
        with self.book.transaction() as tx:
            waiting = tx.referrals("waiting_for_navigator")
        return [(r.record_id, r.referrer, r.queue_reason, r.updated_at) for r in waiting]

    def allocate(self, record_id: str, service_id: str, navigator: str, reason: str) -> Outcome:
        """A navigator allocates a queued referral to a linked service by hand, with a recorded reason."""
        reason = reason.strip()
        if not reason or len(reason) > REASON_LIMIT:
            raise OfferRefused(f"reason: required, at most {REASON_LIMIT} characters (no personal data)")
        pool = {c.service_id: c for c in self.candidates()}
        if service_id not in pool:
            raise OfferRefused(f"service: {service_id!r} is not a linked service")
        outcome = Outcome()
        now = self.clock()
        with self.book.transaction() as tx:
            self._waiting_for_navigator(tx, record_id)
            tx.add_allocation(record_id, service_id, navigator, reason, now)
            tx.set_referral(record_id, "offering", None, now)
            self._offer(tx, outcome, record_id, pool[service_id], now)
        return outcome

    def close(self, record_id: str, navigator: str, reason_code: str) -> Outcome:
        """A navigator closes a queued referral without a place, with one of ``CLOSE_REASONS`` (the referrer is
        told ``closed`` and the code; the close is kept with the allocations, service ``""``); refused, changing
        nothing, unless it is waiting for a navigator."""
        if reason_code not in CLOSE_REASONS:
            raise OfferRefused(f"reason_code: {reason_code!r} is not one of {', '.join(CLOSE_REASONS)}")
        outcome = Outcome()
        now = self.clock()
        with self.book.transaction() as tx:
            referral = self._waiting_for_navigator(tx, record_id)
            tx.add_allocation(record_id, "", navigator, f"closed: {reason_code}", now)
            tx.set_referral(record_id, "closed", None, now)
            outcome.notices.append(self._notice(tx, record_id, referral.referrer, "closed", reason_code, now))
        return outcome

    @staticmethod
    def _waiting_for_navigator(tx: Tx, record_id: str) -> ReferralState:
        """The referral, locked, if it waits for a navigator; refused (the caller's transaction changes nothing)
        otherwise."""
        referral = tx.referral(record_id, lock=True)
        if referral is None or referral.state != "waiting_for_navigator":
            state = "not in the chain" if referral is None else referral.state
            raise OfferRefused(f"referral {record_id}: {state}, not waiting for a navigator; nothing changed")
        return referral

    def notices(self, record_id: str) -> list[tuple[str, str | None]]:
        """What the referrer was told of ``record_id``, in order."""
        with self.book.transaction() as tx:
            return tx.notices(record_id)

    def offers(self, record_id: str) -> list[Offer]:
        """The offers of ``record_id``, oldest first."""
        with self.book.transaction() as tx:
            return tx.offers(record_id)

    # -- inside a transaction -----------------------------------------------------------------------
    def _advance(
        self, tx: Tx, outcome: Outcome, record_id: str, referrer: str, now: float, pool: Sequence[Candidate]
    ) -> None:
        offers = tx.offers(record_id)
        open_now = sum(o.open for o in offers)
        slots = min(self.settings.at_once, self.settings.max_open_per_referral) - open_now
        if slots > 0:
            tried = {o.service_id for o in offers}
            reserved = tx.reserved_counts()
            busy = tx.open_counts()
            fresh = [replace(c, available=None if c.available is None else c.available - reserved.get(c.service_id, 0))
                    for c in pool if c.service_id not in tried]  # fmt: skip
            ranked = [c for c in rank(self.request_of(record_id), fresh, self.policy, now)
                      if busy.get(c.service_id, 0) < self.settings.max_open_per_service]  # fmt: skip
            for candidate in ranked[:slots]:
                self._offer(tx, outcome, record_id, candidate, now)
                open_now += 1
        if open_now == 0:
            self._queue(tx, outcome, record_id, referrer, "all_declined" if offers else "no_match", now)

    def _offer(self, tx: Tx, outcome: Outcome, record_id: str, candidate: Candidate, now: float) -> None:
        offer = Offer(str(uuid.uuid4()), record_id, candidate.service_id, candidate.partner, "open", None, now,
                      None, None, False)  # fmt: skip
        tx.add_offer(offer)
        outcome.offered.append(offer)
        referral = tx.referral(record_id)
        assert referral is not None
        outcome.notices.append(self._notice(tx, record_id, referral.referrer, "offered", None, now))

    def _queue(self, tx: Tx, outcome: Outcome, record_id: str, referrer: str, reason: str, now: float) -> None:
        assert reason in QUEUE_REASONS
        tx.set_referral(record_id, "waiting_for_navigator", reason, now)
        outcome.notices.append(self._notice(tx, record_id, referrer, "waiting_for_navigator", reason, now))

    @staticmethod
    def _notice(tx: Tx, record_id: str, referrer: str, step: str, detail: str | None, now: float) -> Notice:
        notice_id = str(uuid.uuid4())
        tx.add_notice(notice_id, record_id, referrer, step, detail, now)
        return Notice(record_id, referrer, step, detail, notice_id)
