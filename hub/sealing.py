"""The gate between partners and the hub: envelopes opened on the way in, sealed on the way out.

A partner with envelope keys in ``partners.toml`` talks to the hub only in
sealed envelopes (``hub.envelope``): what it sends is verified against its
registered signing key before anything inside is parsed, and what the hub
delivers to it is signed by the hub and encrypted to the partner's key. A
partner configured ``tls_only = true`` sends and receives plain bodies over TLS,
and the hub warns about every such partner at start-up.

The hub's own keys rotate too (``hub.services.key_rotation``): it opens with every live encryption
key of its ring (the overlap), and an envelope sealed only to one it has retired is refused saying so.

Key rotation: a partner may have several signing keys and several encryption
keys registered at once. An inbound signature verifies with whichever of the
signing keys its ``kid`` names; an outbound delivery is sealed to every
registered encryption key, so that each of the partner's receiving systems can
open it with whichever key it holds while the partner switches over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.envelope import (
    MEDIA_TYPE_COMPACT,
    MEDIA_TYPE_JSON,
    EnvelopeError,
    EnvelopeMetadata,
    open_envelope,
    recipient_kids,
)
from hub.envelope import seal_envelope as _seal
from hub.plugin_api.problems import Forbidden, InvalidMessage, Problem, UnparseableInput
from hub.plugin_api.records import Rendered

if TYPE_CHECKING:
    from hub.crypto.at_rest import KeyProvider
    from hub.partners import Partner, PartnerDirectory

log = logging.getLogger("hub.sealing")
SEALED_MEDIA_TYPES = (MEDIA_TYPE_COMPACT, MEDIA_TYPE_JSON)


@dataclass
class EnvelopeGate:
    """Opens inbound envelopes and seals outbound deliveries for partners that have keys."""

    partners: PartnerDirectory
    keys: KeyProvider
    hub_id: str = "hub"

    def warn_about_unsealed_partners(self) -> list[str]:
        """Log (and return) a warning for every tls_only partner and every partner with no data-sharing agreement."""
        warnings = [
            f"partner {p.id} is tls_only: its messages travel without end-to-end sealing"
            for p in self.partners.partners.values()
            if not p.seals
        ] + [
            f"partner {p.id} has no data-sharing agreement in partners.toml: it receives whole messages"
            for p in self.partners.partners.values()
            if p.agreement is None
        ]
        for warning in warnings:
            log.warning(warning)
        return warnings

    def open_inbound(self, body: bytes, media_type: str, partner: Partner) -> tuple[bytes, EnvelopeMetadata]:
        """Verify and decrypt a sealed body from ``partner``; raise a ``HubError`` saying why not."""
        if not partner.seals:
            raise Forbidden(f"No envelope keys are registered for {partner.id}; send the message unsealed over TLS.")
        try:
            opened = open_envelope(
                body,
                sender_keys=list(partner.sig_keys),
                recipient_keys=self.keys.envelope_decryption_keys(),
                expected_sender=partner.id,
                expected_recipient=self.hub_id,
            )
        except EnvelopeError as exc:
            problem = Problem("envelope", self._why(exc, body))
            raise UnparseableInput("The sealed envelope was refused.", [problem]) from None
        return opened.payload, opened.metadata

    def _why(self, exc: EnvelopeError, body: bytes) -> str:
        """The refusal's reason; for an envelope sealed only to a retired key of the hub, which key and when."""
        retired_on = getattr(self.keys, "retired_envelope_key", None)
        if retired_on is None or "not addressed to any of our keys" not in exc.reason:
            return exc.reason
        try:
            kids = recipient_kids(body)
        except EnvelopeError:
            return exc.reason
        for kid in kids:
            when = retired_on(kid)
            if when is not None:
                return (f"envelope is sealed to the hub's encryption key {kid}, retired on {when}; "
                        "seal to the hub's current encryption key (its key set from 'hub keys export')")  # fmt: skip
        return exc.reason

    def refuse_unsealed(self, media_type: str, partner: Partner) -> None:
        """Refuse an unsealed body from a partner that must seal."""
        if partner.seals and media_type not in SEALED_MEDIA_TYPES:
            raise Forbidden(
                f"{partner.id} has envelope keys registered, so the hub accepts only sealed envelopes "
                f"({MEDIA_TYPE_COMPACT} or {MEDIA_TYPE_JSON}) from it."
            )

    @staticmethod
    def check_binding(message: dict[str, Any], metadata: EnvelopeMetadata) -> None:
        """The envelope's routing metadata must name the message it carries."""
        problems = []
        if message.get("message_id") != metadata.message_id:
            problems.append(Problem("$.message_id", "differs from the envelope's hub.mid"))
        if message.get("type") != metadata.message_type:
            problems.append(Problem("$.type", "differs from the envelope's hub.typ"))
        if problems:
            raise InvalidMessage("The envelope was sealed for a different message.", problems)

    def seal_outbound(self, rendered: Rendered, partner: Partner, message_id: str, message_type: str) -> Rendered:
        """Sign and encrypt a rendered delivery for ``partner`` (unchanged for a tls_only partner).

        The envelope is encrypted to every encryption key registered for the partner, each of which opens it:
        the compact form (``application/jose``) for one key, the general JSON form (``application/jose+json``)
        for several, as while the partner rotates. It is sealed afresh at every attempt, so a retry uses the
        keys registered when it is made. ``partners.toml`` allows at most ``DEFAULT_MAX_RECIPIENTS`` keys.
        """
        if not partner.seals:
            return rendered
        keys = list(partner.enc_keys)
        compact = len(keys) == 1
        metadata = EnvelopeMetadata(message_id, message_type, self.hub_id, partner.id)
        sealed = _seal(rendered.body, metadata=metadata, signing_key=self.keys.envelope_signing_key(),
                       recipient_keys=keys, serialization="compact" if compact else "json")  # fmt: skip
        headers = {**rendered.headers, "X-Hub-Payload-Type": rendered.content_type}
        return Rendered(MEDIA_TYPE_COMPACT if compact else MEDIA_TYPE_JSON, sealed.encode("ascii"), headers)
