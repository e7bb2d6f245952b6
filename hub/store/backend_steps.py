"""What every store backend decides the same way, apart from the SQL that carries it out.

``outcome_events`` shapes the events a recorded delivery outcome writes; ``upgrade_steps``
decides what the pending upgrade tasks (``complete_upgrades``) change. Each backend runs its own
statements with the results, so the two stores cannot drift apart in what they record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from hub.bodies import BodyUnreadable, CodecRegistry, StoredBody
from hub.plugin_api.events import HubEvent
from hub.store.records import DeliveryState, Outcome


def outcome_events(o: Outcome) -> list[HubEvent]:
    """The events an outcome writes when it counts (its lease still held): its own, then one per warning."""
    if o.state == DeliveryState.DELIVERED:
        detail: dict[str, Any] = {"attempts": o.attempts, **({"receipt": o.receipt} if o.receipt else {})}
        kind = "delivered"
    elif o.state == DeliveryState.PENDING:
        retry_in = round((o.due_at or o.at) - o.at, 3)
        detail = {"attempts": o.attempts, "error": o.error, "retry_in_seconds": retry_in}
        detail |= {"failure": o.failure} if o.failure else {}
        kind = "retry_scheduled"
    else:
        detail = {"attempts": o.attempts, "error": o.error}
        detail |= {"failure": o.failure} if o.failure else {}
        kind = "dead_lettered"
    return [HubEvent(kind, o.record_id, o.at, o.delivery_id, o.partner, detail),
            *(HubEvent("warning", o.record_id, o.at, o.delivery_id, o.partner, {"warning": w})
              for w in o.warnings)]  # fmt: skip


UpgradeRow = tuple[str, str, str, str | None, str | None, str | None, bytes | None, str | None, bytes | None]


def upgrade_steps(
    rows: Iterable[UpgradeRow],
    codecs: CodecRegistry,
    fingerprint: Callable[[dict[str, Any]], str],
    index_for: Callable[[str, dict[str, Any]], str | None],
) -> tuple[list[tuple[str | None, str]], list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """For rows of ``upgrade_pending`` joined to their message (the backends' ``UPGRADES`` statement):
    ``(fingerprint, record id)`` to set, ``(partner, blind index, record id)`` search entries to write,
    and ``(task, record id, partner)`` tasks done.

    ``fingerprint``: re-key an unkeyed fingerprint (a body that cannot be read loses it).
    ``recipient_index``: a recipient's search entry when ``index_for`` says its copy carried the NHS number.
    """
    fingerprints: list[tuple[str | None, str]] = []
    entries: list[tuple[str, str, str]] = []
    done: list[tuple[str, str, str]] = []
    decoded: dict[str, dict[str, Any] | None] = {}
    for task, record_id, partner, mtype, sender, codec, data, kek_id, wrapped in rows:
        if record_id not in decoded:
            decoded[record_id] = None
            if mtype is not None and sender is not None and codec is not None:
                try:
                    body = codecs.decode(record_id, mtype, sender, StoredBody(codec, data, kek_id, wrapped))
                    decoded[record_id] = orjson.loads(body)
                except BodyUnreadable:
                    pass
        message = decoded[record_id]
        if task == "fingerprint":
            fingerprints.append((fingerprint(message) if message is not None else None, record_id))
        elif task == "recipient_index" and message is not None:
            entry = index_for(partner, message)
            if entry is not None:
                entries.append((partner, entry, record_id))
        done.append((task, record_id, partner))
    return fingerprints, entries, done
