"""Data minimisation: each partner receives only the fields its data-sharing agreement names.

An agreement, in ``partners.toml``::

    [partner.agreement]
    types = ["Referral", "Acknowledgement"]
    fields.Referral = ["payload.referral_id", "payload.person.given_name", "payload.support_needs"]
    fields.Acknowledgement = ["payload"]

The envelope (ids, type, dates, sender, recipient, consent, lawful basis) always
travels. Of the payload, only the listed paths do: a path keeps everything
below it (``payload.person`` keeps the whole person; ``payload`` keeps all).
A message type outside ``types`` is never delivered to the partner, and the
reason is recorded on the message's timeline. A partner with no agreement
receives whole messages, and the hub warns about it at start-up.
"""

from __future__ import annotations

import copy
from typing import Any

from hub.plugin_api.partner import Agreement

ENVELOPE_FIELDS = frozenset(
    {"message_id", "type", "schema_version", "created_at", "correlation_id", "in_reply_to", "sender", "recipient",
     "consent", "lawful_basis"}
)  # fmt: skip


def _keep(source: Any, paths: list[list[str]]) -> Any:
    if any(not p for p in paths):  # a listed path ends here: keep the whole subtree
        return copy.deepcopy(source)
    if not isinstance(source, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in source.items():
        below = [p[1:] for p in paths if p[0] == key]
        if below:
            kept = _keep(value, below)
            if kept is not None:
                out[key] = kept
    return out


def minimise(message: dict[str, Any], agreement: Agreement | None) -> dict[str, Any]:
    """The copy of ``message`` the partner may receive under ``agreement`` (the message itself if none)."""
    if agreement is None:
        return message
    paths = [p.split(".") for p in agreement.fields.get(message.get("type", ""), ())]
    out = {k: v for k, v in message.items() if k in ENVELOPE_FIELDS}
    payload_paths = [p[1:] for p in paths if p[0] == "payload"]
    out["payload"] = _keep(message.get("payload", {}), payload_paths) if payload_paths else {}
    return out
