"""The partner as plugins see it: who it is, how it receives, what it may receive; never its credentials.

Hooks receive ``Partner`` records (an adapter's ``render``, a transport's
``deliver``, ``TransformContext.sender``). They are frozen, and the digests of
the partner's bearer tokens are not in them: those stay in the partner
directory (``hub.partners``), which builds these records from ``partners.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

REPLY_STATUSES = ("accepted", "rejected", "received")


@dataclass(frozen=True)
class PartnerReply:
    """A partner's business decision, given in its answer to a delivery instead of a later call-back.

    ``status`` is ``accepted``, ``rejected`` or ``received`` (taken, not yet decided: the partner asks for
    more, or decides later). ``reference`` is the partner's own
    reference for the item (at most 128 characters), ``reason`` a human-readable
    reason (no personal data; at most 1000 characters are kept) and
    ``reason_code`` a machine-readable one (at most 64). The hub records it as an
    Acknowledgement (level ``business``) from that partner answering the
    delivered message, routed to the message's sender like one the partner had
    posted, and it marks the delivery acknowledged or rejected.
    """

    status: str
    reference: str | None = None
    reason: str | None = None
    reason_code: str | None = None

    def __post_init__(self) -> None:
        if self.status not in REPLY_STATUSES:
            raise ValueError(f"PartnerReply status {self.status!r} is not one of {', '.join(REPLY_STATUSES)}")


@dataclass(frozen=True)
class Agreement:
    """The message types a partner may receive, and for each, the payload paths."""

    types: frozenset[str]
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def allows_type(self, message_type: str) -> bool:
        """True when this type may be delivered at all."""
        return message_type in self.types


@dataclass(frozen=True)
class ReplyReading:
    """What one answer gave: the partner's reference, its decision, and what could not be used."""

    receipt: str | None = None
    reply: PartnerReply | None = None
    warnings: list[str] = field(default_factory=list)


class ReplyReader(Protocol):
    """Reads a partner's synchronous answer to a delivery (``receive.reply`` in partners.toml).

    The hub's ``hub.replies.ReplyMapping`` is one; a transport calls
    ``partner.receive.reply.read(body)`` and reports what it gives.
    """

    def read(self, body: bytes) -> ReplyReading:
        """What the answer ``body`` gave; never raises for what the partner sent."""
        ...


@dataclass(frozen=True)
class Receive:
    """How a partner receives deliveries.

    ``mode`` is ``push`` (the hub sends with ``transport`` to ``url``) or
    ``pull`` (the partner collects from ``GET /v1/inbox``). ``options`` holds
    transport-specific settings from the ``receive.options`` table (for example ``token_env``, the environment
    variable with the bearer token the hub presents to the partner). ``reply`` (the ``receive.reply`` table) says
    where the partner's synchronous JSON answer holds its reference and decision; the ``http`` transport reads it,
    and any transport may (``partner.receive.reply.read(body)``).
    """

    mode: str = "pull"
    transport: str = "http"
    url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    reply: ReplyReader | None = None


@dataclass(frozen=True)
class Partner:
    """One agency connected to the hub, as hooks see it: read-only, without its credentials.

    The digests of its bearer tokens stay in the partner directory
    (``hub.partners.PartnerDirectory``); nothing a plugin receives carries them.

    ``referral_contact`` (the optional ``referral_contact`` table) is the team other
    agencies reach about what this partner sends when a message names no one, for
    example a trust's discharge liaison team: ``name``, ``phone``, ``email`` and
    ``organisation`` (the partner's name unless given). Transforms read it from
    ``TransformContext.sender``.
    ``adapter`` names the adapter that renders what it receives; None means the
    hub's default adapter (``HubPlugins.default_adapter``).
    """

    id: str
    name: str
    kind: str
    adapter: str | None = None
    codes: dict[str, str] = field(default_factory=dict)
    receive: Receive = field(default_factory=Receive)
    agreement: Agreement | None = None
    client_cert_sha256: tuple[str, ...] = ()
    sig_keys: tuple[Any, ...] = ()
    enc_keys: tuple[Any, ...] = ()
    tls_only: bool = False
    referral_contact: dict[str, str] | None = None

    @property
    def seals(self) -> bool:
        """True when messages to and from this partner travel in sealed envelopes."""
        return bool(self.sig_keys and self.enc_keys)

    def party(self) -> dict[str, str]:
        """The canonical ``sender``/``recipient`` object for this partner."""
        return {"org_id": self.id, **self.codes}
