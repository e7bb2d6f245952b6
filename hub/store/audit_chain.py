"""The hash chain over the events table: the hub's audit log.

Every event row carries ``prev_hash`` (the previous row's ``hash``) and its own
``hash`` = SHA-256 over the previous hash and the row's fields. Changing a row
breaks its own hash; deleting one breaks the link of the row after it.
``verify`` walks the chain and reports the first broken link. The newest hash
(the head) should be recorded outside the hub from time to time (``hub audit
verify`` prints it): that also catches rows cut from the end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from hub.plugin_api.events import HubEvent

GENESIS = "0" * 64
#: the hashed fields of an event row, in hashing order (every backend stores them as these columns)
EVENT_FIELDS = ("record_id", "delivery_id", "partner", "at", "kind", "detail", "actor")
# what json.dumps(..., separators=(",", ":"), ensure_ascii=True) builds on every call, built once
_HASHED_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def row_hash(prev_hash: str, fields: tuple[Any, ...]) -> str:
    """The hash of one row given the previous row's hash and this row's fields."""
    text = _HASHED_JSON.encode([prev_hash, *fields])
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def event_fields(event: HubEvent) -> tuple[Any, ...]:
    """The stored fields of an event, in ``EVENT_FIELDS`` order; ``detail`` as JSON with sorted keys."""
    detail = orjson.dumps(event.detail, option=orjson.OPT_SORT_KEYS).decode() if event.detail else None
    return (event.record_id, event.delivery_id, event.partner, event.at, event.kind, detail, event.actor)


def chain(head: str | None, events: Iterable[HubEvent]) -> list[tuple[Any, ...]]:
    """Rows to append after the row whose hash is ``head`` (None: the log is empty).

    Each row is the event's fields followed by ``prev_hash`` and ``hash``, ready to insert.
    """
    previous = head or GENESIS
    rows = []
    for event in events:
        fields = event_fields(event)
        current = row_hash(previous, fields)
        rows.append((*fields, previous, current))
        previous = current
    return rows


@dataclass
class ChainReport:
    """What ``verify`` found."""

    rows: int
    head: str
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when every link holds."""
        return self.broken_at is None


def verify(rows: Iterable[tuple[int, str | None, str | None, tuple[Any, ...]]]) -> ChainReport:
    """Check rows given in ``seq`` order as ``(seq, prev_hash, hash, fields)``."""
    previous = GENESIS
    count = 0
    for seq, prev_hash, stored_hash, fields in rows:
        count += 1
        if prev_hash != previous:
            return ChainReport(count, previous, seq, "its link to the row before does not match (a row was removed "
                                                     "or changed before it)")  # fmt: skip
        if stored_hash != row_hash(previous, fields):
            return ChainReport(count, previous, seq, "its content does not match its hash (the row was changed)")
        previous = stored_hash
    return ChainReport(count, previous)
