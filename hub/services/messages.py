"""Stored messages for operators: list, view one (its body only with an audited read), find by NHS number.

Every read of personal data goes on the audit log before it happens: a body
read as ``body_read``, a search as ``searched``, each with the ``actor`` (who
reads) and ``via`` (which face: ``cli``, ``http``, ``dashboard``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.services.errors import OperationRefused
from hub.store.ports import Store


def list_messages(
    store: Store, *, limit: int = 50, message_type: str | None = None, partner: str | None = None
) -> list[dict[str, Any]]:
    """Newest first, up to ``limit``: ``id``, ``type``, ``sender``, ``received_at`` and ``status``.

    ``message_type`` keeps that type only; ``partner`` keeps what that partner sent
    or receives. Reads clear routing metadata only: nothing is audited.
    """
    return store.list_messages(limit=limit, message_type=message_type, partner=partner)


def view_message(
    store: Store, record_id: str, *, with_body: bool = False, actor: str, via: str
) -> dict[str, Any] | None:
    """State, deliveries, derived messages and timeline of one message; None when there is no such message.

    With ``with_body`` the decrypted canonical body is added as ``body`` (the store
    must have been opened with the keys); the read is audited as ``body_read``
    first, so a read that then fails is on the log too. Refused when the body
    cannot be decrypted (shredded, or its key retired).
    """
    from hub.bodies import BodyUnreadable

    view = store.message_view(record_id)
    if view is None or not with_body:
        return view
    store.audit([HubEvent("body_read", record_id, time.time(), detail={"via": via}, actor=actor)])
    try:
        view["body"] = json.loads(store.read_body(record_id) or b"null")
    except BodyUnreadable as exc:
        raise OperationRefused(f"the body of {record_id} cannot be read: {exc}") from None
    return view


def view_for_caller(store: Store, record_id: str, *, caller: str, is_operator: bool) -> dict[str, Any] | None:
    """One message as ``caller`` may see it; None when there is none it may see (as if it did not exist).

    An operator sees the whole view. A partner sees only a message it sent or
    received, without the transports' error texts (they name other partners'
    hosts and addresses: ``hub.outcomes.for_partner``); a recipient that is not
    the sender sees only its own deliveries and the timeline events that name it,
    and no derived messages. Reads clear routing metadata only: nothing is audited.
    """
    from hub.outcomes import for_partner

    if not is_operator and not store.may_read(caller, record_id):
        return None
    view = store.message_view(record_id)
    if view is None or is_operator:
        return view
    view = for_partner(view)
    if view["sender"] != caller:
        view["deliveries"] = [d for d in view["deliveries"] if d["partner"] == caller]
        view["timeline"] = [e for e in view["timeline"] if e.get("partner") == caller]
        view["derived"] = []
    return view


def find_by_nhs_number(
    store: Store,
    index_keys: bytes | Sequence[bytes],
    nhs_number: str,
    *,
    actor: str,
    partner: str | None = None,
) -> list[dict[str, Any]]:
    """Every stored message about the person with this NHS number, through the keyed blind index.

    ``index_keys``: the index key, or every live one (``hub.crypto.blind_index.search_keys``): while
    the index is rebuilt under a new key, a message is under one of the two, so both are looked
    under and the results merged (each message once, oldest first). Nothing is decrypted.
    Each row: ``id``, ``message_id``, ``type``, ``sender``,
    ``received_at``. With ``partner``, only what that partner may find: what it
    sent, or received with the NHS number in its copy (an operator passes None).
    The search is audited as ``searched`` (with how many were found, never the
    number). Refused, with what is wrong with it (never the number itself), when
    ``nhs_number`` is not a valid NHS number; nothing is audited then.
    """
    from hub.crypto.blind_index import nhs_index
    from hub.identifiers import nhs_number_problem

    why = nhs_number_problem(nhs_number)
    if why:
        raise OperationRefused(why)
    keys = [index_keys] if isinstance(index_keys, bytes) else list(index_keys)
    # one lookup under every key (one snapshot): two in turn could both miss a message the rebuild moved between them
    found: dict[str, dict[str, Any]] = {}
    for row in store.find_by_index([nhs_index(key, nhs_number) for key in keys], partner):
        found.setdefault(row["id"], row)
    rows = list(found.values())
    if len(keys) > 1:
        rows.sort(key=lambda row: (row["received_at"], row["id"]))
    store.audit([HubEvent("searched", "", time.time(), detail={"by": "nhs_number", "found": len(rows)}, actor=actor)])
    return rows
