"""The store's upkeep writes (the audit log's plain events, the keys' rewrap, retention's shredding, the upgrades a
migration left) on either backend, written once.

A backend provides its write transaction and its reads (``PathwayOnBackend``'s ``_pathway_write`` and
``_pathway_read``, ``?`` placeholders), how it passes a list of values (``message_reads``' ``_in``) and how a
batch takes its rows (``_TAKE``): PostgreSQL locks them and skips those another process holds, so that processes
working at once never do one item twice; SQLite serialises its writers and needs nothing.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Sequence
from typing import Any

from hub.bodies import CodecRegistry
from hub.plugin_api.events import HubEvent
from hub.store.backend_steps import upgrade_steps
from hub.store.pathway_backend import Append, Execute

KEY_USAGE = "SELECT kek_id, count(*) FROM messages WHERE kek_id IS NOT NULL GROUP BY kek_id"
# {retired}: the retired KEKs' ``_in`` (their keys are left for ``hub keys`` to report, not rewrapped)
TO_REWRAP = (
    "SELECT id, kek_id, data_key FROM messages WHERE kek_id IS NOT NULL AND kek_id <> ? "
    "AND NOT ({retired}) LIMIT ?{take}"
)
SET_DATA_KEY = "UPDATE messages SET kek_id=?, data_key=? WHERE id=?"
# finished: no delivery still waiting
EXPIRED = (
    "SELECT id FROM messages m WHERE type=? AND received_at < ? AND shredded_at IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.record_id=m.id "
    "AND d.state IN ('pending','in_flight','available')) ORDER BY received_at, id{take}"
)
SHRED = (
    "UPDATE messages SET data_key=NULL, kek_id=NULL, body=NULL, nhs_index=NULL, fingerprint=NULL, status=NULL, "
    "status_at=NULL, shredded_at=? WHERE id=?"
)
SHRED_INDEX_ENTRIES = "DELETE FROM message_index WHERE record_id=?"
# a milestone keeps a copy of its start message's blind-index value: it goes with the message's
SHRED_MILESTONES = "UPDATE pathway_milestones SET nhs_index=NULL WHERE start_record=?"
SHRED_UPGRADES = "DELETE FROM upgrade_pending WHERE record_id=?"
ANY_UPGRADE = "SELECT 1 FROM upgrade_pending LIMIT 1"
UPGRADES = (
    "SELECT u.task, u.record_id, u.partner, m.type, m.sender, m.body_codec, m.body, m.kek_id, m.data_key "
    "FROM upgrade_pending u LEFT JOIN messages m ON m.id = u.record_id LIMIT ?{take}"
)
SET_FINGERPRINT = "UPDATE messages SET fingerprint=? WHERE id=?"
INSERT_INDEX_ENTRY = "INSERT INTO message_index (partner, nhs_index, record_id) VALUES (?,?,?) ON CONFLICT DO NOTHING"
UPGRADE_DONE = "DELETE FROM upgrade_pending WHERE task=? AND record_id=? AND partner=?"


class UpkeepOnBackend(abc.ABC):
    """Implements ``audit``, ``key_usage``, ``rewrap``, ``shred_expired`` and ``complete_upgrades`` with a backend's
    ``_pathway_write``, ``_pathway_read`` and ``_in``."""

    codecs: CodecRegistry

    _TAKE = ""
    """How a batch takes its rows: ``{}`` is the table's name in the statement. Nothing on SQLite, whose writers
    take turns; PostgreSQL overrides it with ``FOR UPDATE OF {} SKIP LOCKED``."""

    @abc.abstractmethod
    def _pathway_write(self, job: Callable[[Execute, Append], Any]) -> Any:
        """Run ``job(execute, append)`` in one write transaction and return what it returns."""

    @abc.abstractmethod
    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read (``?`` placeholders)."""

    @abc.abstractmethod
    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values``, and the arguments that say so (``message_reads``)."""

    def _take(self, table: str) -> str:
        return f" {self._TAKE.format(table)}" if self._TAKE else ""

    def audit(self, events: list[HubEvent]) -> None:
        """Append events that change no state (reads, searches, refused requests) to the audit log."""
        self._pathway_write(lambda ex, append: append(events))

    def key_usage(self) -> dict[str, int]:
        """How many stored data keys each KEK wraps."""
        return {r[0]: r[1] for r in self._pathway_read(KEY_USAGE)}

    def rewrap(self, keys: Any, batch_size: int = 500) -> int:
        """Re-wrap one batch of data keys not under the primary KEK; return how many (0 when done).

        Bodies are never touched: only the wrapped keys (60 bytes each) change.
        """
        from hub.crypto.at_rest import unwrap_data_key, wrap_data_key

        primary = keys.primary_kek_id()
        infos = getattr(keys, "infos", None)
        retired, retired_args = self._in("kek_id", [i.id for i in infos() if i.status == "retired"] if infos else [])
        statement = TO_REWRAP.format(retired=retired, take=self._take("messages"))

        def job(ex: Execute, append: Append) -> int:
            rows = ex(statement, (primary, *retired_args, batch_size)).fetchall()
            for record_id, kek_id, wrapped in rows:
                data_key = unwrap_data_key(keys, record_id, kek_id, bytes(wrapped))
                new_kek, new_wrapped = wrap_data_key(keys, record_id, data_key, primary)
                ex(SET_DATA_KEY, (new_kek, new_wrapped, record_id))
            if rows:
                append([HubEvent("rewrapped", "", time.time(), detail={"count": len(rows), "to": primary},
                                 actor="keys")])  # fmt: skip
            return len(rows)

        return int(self._pathway_write(job))

    def shred_expired(self, retention_days: dict[str, float], now: float, actor: str = "retention") -> int:
        """Destroy the data keys (and ciphertexts) of messages past their type's retention; return the count.

        A message is shredded only once all its deliveries are finished (delivered,
        acknowledged, rejected or dead). Its keyed fingerprint, blind-index value and search
        entries go with the body; routing metadata and the audit trail stay.
        """
        expired = EXPIRED.format(take=self._take("m"))

        def job(ex: Execute, append: Append) -> int:
            total = 0
            for message_type, days in retention_days.items():
                rows = ex(expired, (message_type, now - days * 86400)).fetchall()
                for (record_id,) in rows:
                    ex(SHRED, (now, record_id))
                    ex(SHRED_INDEX_ENTRIES, (record_id,))
                    ex(SHRED_MILESTONES, (record_id,))
                    ex(SHRED_UPGRADES, (record_id,))
                append([
                    HubEvent("shredded", r[0], now, detail={"type": message_type, "retention_days": days}, actor=actor)
                    for r in rows
                ])  # fmt: skip
                total += len(rows)
            return total

        return int(self._pathway_write(job))

    def complete_upgrades(
        self,
        fingerprint: Callable[[dict[str, Any]], str],
        index_for: Callable[[str, dict[str, Any]], str | None],
        batch_size: int = 200,
    ) -> int:
        """Do what a migration left in ``upgrade_pending``, in batches; return how many items were done.

        ``fingerprint``: re-key an unkeyed fingerprint (a body that cannot be read loses it).
        ``recipient_index``: write a recipient's search entry when ``index_for`` says its copy
        carried the NHS number. Nothing to do costs one query. (A PostgreSQL schema starts with nothing
        pending; the table is kept so that a data migration from another store can leave work here.)
        """
        if not self._pathway_read(ANY_UPGRADE):
            return 0
        upgrades = UPGRADES.format(take=self._take("u"))

        def job(ex: Execute, append: Append) -> int:
            rows = ex(upgrades, (batch_size,)).fetchall()
            fingerprints, entries, done = upgrade_steps(rows, self.codecs, fingerprint, index_for)
            for value, record_id in fingerprints:
                ex(SET_FINGERPRINT, (value, record_id))
            for entry in entries:
                ex(INSERT_INDEX_ENTRY, entry)
            for step in done:
                ex(UPGRADE_DONE, step)
            return len(rows)

        total = 0
        while True:
            done = int(self._pathway_write(job))
            total += done
            if done < batch_size:
                return total
