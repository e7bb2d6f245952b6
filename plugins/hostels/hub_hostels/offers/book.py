"""The offer tables: referrals in the chain, offers, navigators' allocations and the referrer's notices.

Kept beside the directory (``hub_hostels.directory.database``: the same SQLite file or PostgreSQL database,
tables ``hostels_offers_*``). They hold ids (the Referral's record id in the hub's store, services, partners),
states, codes and times: never the person's data, which stays in the Referral's encrypted body. A navigator's
reason is kept as given: the CLI and the API refuse one over 200 characters, and docs/partners/hostels.md asks
for no personal data in it.

``OfferBook.transaction()`` yields a ``Tx``: one transaction in which the desk reads and changes a referral's
chain. On PostgreSQL the referral's row is locked (``FOR UPDATE``) so two processes never advance one chain at
once; on SQLite the transaction is ``BEGIN IMMEDIATE`` (one writer).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub import use_wal
from hub_hostels.directory.database import DirectoryDatabase

PREFIX = "hostels_offers_"
SCHEMA: list[str | tuple[str, str, str]] = [
    f"""CREATE TABLE IF NOT EXISTS {PREFIX}referral (
        record_id    TEXT PRIMARY KEY,
        referrer     TEXT NOT NULL,
        state        TEXT NOT NULL,
        queue_reason TEXT,
        created_at   DOUBLE PRECISION NOT NULL,
        updated_at   DOUBLE PRECISION NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS {PREFIX}referral_state ON {PREFIX}referral (state)",
    f"""CREATE TABLE IF NOT EXISTS {PREFIX}offer (
        id          TEXT PRIMARY KEY,
        record_id   TEXT NOT NULL,
        service_id  TEXT NOT NULL,
        partner     TEXT NOT NULL,
        state       TEXT NOT NULL,
        reason_code TEXT,
        offered_at  DOUBLE PRECISION NOT NULL,
        expires_at  DOUBLE PRECISION NOT NULL,
        answered_at DOUBLE PRECISION,
        reserved    INTEGER NOT NULL DEFAULT 0,
        sent_at     DOUBLE PRECISION
    )""",
    # the record id, in the hub's store, of the Referral sent to the provider: the offer window is the pathway
    # milestone that this message's delivery starts
    (f"{PREFIX}offer", "message_record", "TEXT"),
    f"CREATE INDEX IF NOT EXISTS {PREFIX}offer_record ON {PREFIX}offer (record_id)",
    f"CREATE INDEX IF NOT EXISTS {PREFIX}offer_service ON {PREFIX}offer (service_id, state)",
    f"""CREATE TABLE IF NOT EXISTS {PREFIX}allocation (
        record_id  TEXT NOT NULL,
        service_id TEXT NOT NULL,
        navigator  TEXT NOT NULL,
        reason     TEXT NOT NULL,
        at         DOUBLE PRECISION NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {PREFIX}notice (
        id        TEXT PRIMARY KEY,
        record_id TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        referrer  TEXT NOT NULL,
        step      TEXT NOT NULL,
        detail    TEXT,
        at        DOUBLE PRECISION NOT NULL
    )""",
    # when the notice was committed as a ReferralUpdate message for the referrer (NULL: not yet)
    (f"{PREFIX}notice", "sent_at", "DOUBLE PRECISION"),
    # a withdrawn offer's provider is owed a notice (1) until it is handed to the hub (withdrawal_told_at)
    (f"{PREFIX}offer", "withdrawal_owed", "INTEGER NOT NULL DEFAULT 0"),
    (f"{PREFIX}offer", "withdrawal_told_at", "DOUBLE PRECISION"),
    f"CREATE INDEX IF NOT EXISTS {PREFIX}notice_record ON {PREFIX}notice (record_id)",
]
SCHEMA_VERSION = 3
"""2: ``offer.message_record`` and ``notice.sent_at``; 3: ``offer.withdrawal_owed`` and
``offer.withdrawal_told_at`` (offers withdrawn before 3 owe nothing: their providers were told at the time)."""
OPEN_STATES = ("open", "info_requested")


@dataclass(frozen=True)
class Offer:
    """One offer of one referral to one service (times are epoch seconds)."""

    id: str
    record_id: str
    service_id: str
    partner: str
    state: str  # open, info_requested, accepted, declined, expired, withdrawn, arrived
    reason_code: str | None
    offered_at: float
    expires_at: float | None
    answered_at: float | None
    reserved: bool
    message_record: str | None = None

    @property
    def open(self) -> bool:
        """True while the provider may still answer."""
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class ReferralState:
    """Where one referral is in the chain."""

    record_id: str
    referrer: str
    state: str  # offering, accepted, waiting_for_navigator, placed, withdrawn, closed
    queue_reason: str | None
    created_at: float
    updated_at: float


_OFFER = (
    "id, record_id, service_id, partner, state, reason_code, offered_at, expires_at, answered_at, reserved, "
    "message_record"
)
_INSERTED = "id, record_id, service_id, partner, state, reason_code, offered_at, expires_at, answered_at, reserved"
_REFERRAL = "record_id, referrer, state, queue_reason, created_at, updated_at"


def _offer(row: Sequence[Any]) -> Offer:
    return Offer(str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]),
                 None if row[5] is None else str(row[5]), float(row[6]), None if row[7] is None else float(row[7]),
                 None if row[8] is None else float(row[8]), bool(row[9]),
                 None if row[10] is None else str(row[10]))  # fmt: skip


class Tx:
    """One transaction's reads and writes of the offer tables."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql.replace("?", "%s") if self._dialect == "postgresql" else sql, tuple(params))
        return list(self._cursor.fetchall()) if self._cursor.description else []

    def add_column(self, table: str, column: str, kind: str) -> None:
        """Add ``column`` to ``table`` unless it is there (a book made by an earlier version of the plugin).

        Looked up first: an ``ALTER TABLE`` takes the table's strongest lock even when it changes nothing, which
        would make every opening of the book wait for (and deadlock with) the other processes' transactions.
        """
        if self._dialect == "postgresql":
            found = self._run("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                              "AND table_name = ? AND column_name = ?", (table, column))  # fmt: skip
        else:
            found = [row for row in self._run(f"PRAGMA table_info({table})") if str(row[1]) == column]
        if not found:
            self._run(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    # -- referrals ----------------------------------------------------------------------------------
    def referral(self, record_id: str, *, lock: bool = False) -> ReferralState | None:
        """One referral (locked for this transaction on PostgreSQL with ``lock``), or None."""
        suffix = " FOR UPDATE" if lock and self._dialect == "postgresql" else ""
        rows = self._run(f"SELECT {_REFERRAL} FROM {PREFIX}referral WHERE record_id = ?{suffix}", (record_id,))
        return ReferralState(*rows[0]) if rows else None

    def add_referral(self, record_id: str, referrer: str, now: float) -> bool:
        """Add a referral in state ``offering``; False when it is already there (nothing changes)."""
        if self.referral(record_id) is not None:
            return False
        self._run(f"INSERT INTO {PREFIX}referral ({_REFERRAL}) VALUES (?, ?, 'offering', NULL, ?, ?)",
                  (record_id, referrer, now, now))  # fmt: skip
        return True

    def set_referral(self, record_id: str, state: str, queue_reason: str | None, now: float) -> None:
        """Move a referral to ``state``."""
        self._run(f"UPDATE {PREFIX}referral SET state = ?, queue_reason = ?, updated_at = ? WHERE record_id = ?",
                  (state, queue_reason, now, record_id))  # fmt: skip

    def referrals(self, state: str) -> list[ReferralState]:
        """The referrals in ``state``, oldest first."""
        rows = self._run(f"SELECT {_REFERRAL} FROM {PREFIX}referral WHERE state = ? ORDER BY created_at, record_id",
                         (state,))  # fmt: skip
        return [ReferralState(*row) for row in rows]

    # -- offers -------------------------------------------------------------------------------------
    def offers(self, record_id: str) -> list[Offer]:
        """Every offer of one referral, oldest first."""
        rows = self._run(f"SELECT {_OFFER} FROM {PREFIX}offer WHERE record_id = ? ORDER BY offered_at, id",
                         (record_id,))  # fmt: skip
        return [_offer(row) for row in rows]

    def offer(self, offer_id: str) -> Offer | None:
        """One offer, or None."""
        rows = self._run(f"SELECT {_OFFER} FROM {PREFIX}offer WHERE id = ?", (offer_id,))
        return _offer(rows[0]) if rows else None

    def add_offer(self, offer: Offer) -> None:
        """Record a new offer."""
        self._run(f"INSERT INTO {PREFIX}offer ({_INSERTED}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (offer.id, offer.record_id, offer.service_id, offer.partner, offer.state, offer.reason_code,
                   offer.offered_at, 0.0 if offer.expires_at is None else offer.expires_at, offer.answered_at,
                   int(offer.reserved)))  # fmt: skip

    def set_offer(self, offer_id: str, state: str, reason_code: str | None, now: float, reserved: bool) -> None:
        """Record what became of an offer."""
        self._run(f"UPDATE {PREFIX}offer SET state = ?, reason_code = ?, answered_at = ?, reserved = ? WHERE id = ?",
                  (state, reason_code, now, int(reserved), offer_id))  # fmt: skip

    def open_counts(self) -> dict[str, int]:
        """Open offers per service."""
        rows = self._run(f"SELECT service_id, COUNT(*) FROM {PREFIX}offer WHERE state IN ('open', 'info_requested') "
                         "GROUP BY service_id")  # fmt: skip
        return {str(service): int(count) for service, count in rows}

    def reserved_counts(self) -> dict[str, int]:
        """Places reserved per service (accepted offers whose person has not arrived)."""
        rows = self._run(f"SELECT service_id, COUNT(*) FROM {PREFIX}offer WHERE reserved = 1 GROUP BY service_id")
        return {str(service): int(count) for service, count in rows}

    def open_offers(self) -> list[Offer]:
        """Open offers, oldest first."""
        sql = f"SELECT {_OFFER} FROM {PREFIX}offer WHERE state IN ('open', 'info_requested') ORDER BY offered_at, id"
        return [_offer(row) for row in self._run(sql)]

    def sent_open_offers(self) -> list[Offer]:
        """Open offers whose Referral was committed for its provider (those with an offer window), oldest first."""
        sql = (f"SELECT {_OFFER} FROM {PREFIX}offer WHERE state IN ('open', 'info_requested') "
               "AND message_record IS NOT NULL ORDER BY offered_at, id")  # fmt: skip
        return [_offer(row) for row in self._run(sql)]

    def mark_sent(self, offer_id: str, now: float, message_record: str) -> None:
        """The offer's Referral was committed for its provider as record ``message_record`` of the hub's store."""
        self._run(f"UPDATE {PREFIX}offer SET sent_at = ?, message_record = ? WHERE id = ? AND sent_at IS NULL",
                  (now, message_record, offer_id))  # fmt: skip

    def set_window(self, offer_id: str, due_at: float) -> None:
        """Record when the offer's window ends (the due time of its pathway milestone), for the views."""
        self._run(f"UPDATE {PREFIX}offer SET expires_at = ? WHERE id = ?", (due_at, offer_id))

    def unsent(self, offered_before: float) -> list[Offer]:
        """Open offers made before ``offered_before`` whose Referral was never committed (a process stopped)."""
        sql = (f"SELECT {_OFFER} FROM {PREFIX}offer WHERE state IN ('open', 'info_requested') "
               "AND sent_at IS NULL AND offered_at < ? ORDER BY offered_at, id")  # fmt: skip
        rows = self._run(sql, (offered_before,))
        return [_offer(row) for row in rows]

    def owe_withdrawal_notice(self, offer_id: str) -> None:
        """The offer's provider is owed the notice that it was withdrawn (``withdrawal_notices_owed``)."""
        self._run(f"UPDATE {PREFIX}offer SET withdrawal_owed = 1 WHERE id = ? AND withdrawal_told_at IS NULL",
                  (offer_id,))  # fmt: skip

    def withdrawn_unnoted(self, offered_before: float, limit: int = 100) -> list[Offer]:
        """Withdrawn offers owed a notice, made before ``offered_before``, whose Referral was never noted as sent:
        a process may have committed it and stopped before ``mark_sent`` (the chain looks in the hub's store)."""
        sql = (f"SELECT {_OFFER} FROM {PREFIX}offer WHERE state = 'withdrawn' AND withdrawal_owed = 1 "
               "AND withdrawal_told_at IS NULL AND message_record IS NULL AND offered_at < ? "
               "ORDER BY offered_at, id LIMIT ?")  # fmt: skip
        return [_offer(row) for row in self._run(sql, (offered_before, limit))]

    def withdrawal_notices_owed(self, limit: int = 100) -> list[Offer]:
        """Withdrawn offers whose provider is owed its notice, oldest first: only offers whose Referral was
        committed for the provider (one withdrawn while its sending was under way waits for ``mark_sent``, or
        for the chain to find its record in the hub's store: ``withdrawn_unnoted``)."""
        sql = (f"SELECT {_OFFER} FROM {PREFIX}offer WHERE state = 'withdrawn' AND withdrawal_owed = 1 "
               "AND withdrawal_told_at IS NULL AND message_record IS NOT NULL "
               "ORDER BY answered_at, id LIMIT ?")  # fmt: skip
        return [_offer(row) for row in self._run(sql, (limit,))]

    def mark_withdrawal_told(self, offer_id: str, now: float) -> None:
        """The offer's withdrawal notice was handed to the hub (or needs none: a web-form provider)."""
        self._run(f"UPDATE {PREFIX}offer SET withdrawal_told_at = ? WHERE id = ? AND withdrawal_told_at IS NULL",
                  (now, offer_id))  # fmt: skip

    def take_place(self, service_id: str, unit: str | None, now: float) -> None:
        """One place of ``service_id`` taken (the person arrived): its capacity figure goes down by one."""
        sql = ("UPDATE hostels_directory_capacity SET available = available - 1, recorded_at = ? "
               "WHERE service_id = ? AND available >= 1")  # fmt: skip
        params: tuple[Any, ...] = (now, service_id)
        if unit is not None:
            sql += " AND unit = ?"
            params += (unit,)
        self._run(sql, params)

    # -- allocations and notices --------------------------------------------------------------------
    def add_allocation(self, record_id: str, service_id: str, navigator: str, reason: str, now: float) -> None:
        """Record a navigator's allocation with its reason."""
        self._run(f"INSERT INTO {PREFIX}allocation (record_id, service_id, navigator, reason, at) "
                  "VALUES (?, ?, ?, ?, ?)", (record_id, service_id, navigator, reason, now))  # fmt: skip

    def allocations(self, record_id: str) -> list[tuple[str, str, str, float]]:
        """A referral's allocations: (service, navigator, reason, at)."""
        rows = self._run(f"SELECT service_id, navigator, reason, at FROM {PREFIX}allocation WHERE record_id = ? "
                         "ORDER BY at", (record_id,))  # fmt: skip
        return [(str(s), str(n), str(r), float(a)) for s, n, r, a in rows]

    def add_notice(self, notice_id: str, record_id: str, referrer: str, step: str, detail: str | None,
                   now: float) -> None:  # fmt: skip
        """Record what the referrer is told."""
        rows = self._run(f"SELECT COUNT(*) FROM {PREFIX}notice WHERE record_id = ?", (record_id,))
        self._run(f"INSERT INTO {PREFIX}notice (id, record_id, seq, referrer, step, detail, at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (notice_id, record_id, int(rows[0][0]) + 1, referrer, step, detail, now))  # fmt: skip

    def unsent_notices(self, limit: int = 100) -> list[tuple[str, str, str, str, str | None, float]]:
        """Notices not yet sent to their referrer, oldest first: (id, record id, referrer, step, detail, at)."""
        rows = self._run(f"SELECT id, record_id, referrer, step, detail, at FROM {PREFIX}notice "
                         "WHERE sent_at IS NULL ORDER BY at, record_id, seq LIMIT ?", (limit,))  # fmt: skip
        return [(str(i), str(r), str(w), str(s), None if d is None else str(d), float(a)) for i, r, w, s, d, a in rows]

    def mark_notice_sent(self, notice_id: str, now: float) -> None:
        """The notice was committed as a message for its referrer."""
        self._run(f"UPDATE {PREFIX}notice SET sent_at = ? WHERE id = ?", (now, notice_id))

    def notices(self, record_id: str) -> list[tuple[str, str | None]]:
        """What the referrer was told of one referral, in order: (step, detail)."""
        rows = self._run(f"SELECT step, detail FROM {PREFIX}notice WHERE record_id = ? ORDER BY seq",
                         (record_id,))  # fmt: skip
        return [(str(step), None if detail is None else str(detail)) for step, detail in rows]


class OfferBook(DirectoryDatabase):
    """The directory's database with the offer tables too (see the module's docstring)."""

    def create(self) -> None:
        """Create the directory's tables and the offer tables once (``ensure_schema``, part ``offers``).

        A book made before the schema was versioned gains its missing columns (looked up before they are added).
        """
        super().create()

        def apply(cursor: Any) -> None:
            tx = Tx(cursor, self._dialect)
            for statement in SCHEMA:
                if isinstance(statement, str):
                    tx._run(statement)
                else:
                    tx.add_column(*statement)

        self.ensure_schema("offers", SCHEMA_VERSION, apply)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One transaction over the offer (and directory) tables."""
        with self._transaction() as cursor:
            yield Tx(cursor, self._dialect)


def open_offers(url: str) -> OfferBook:
    """Open the offer book at ``url`` (the directory's URL), creating the tables when missing."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            use_wal(conn)
        except BaseException:
            conn.close()
            raise
        book = OfferBook(conn, "sqlite")
    elif url.startswith(("postgresql://", "postgres://")):
        import psycopg

        book = OfferBook(psycopg.connect(url, autocommit=True, connect_timeout=10), "postgresql")
    else:
        raise ValueError(f"the offer book must be sqlite:///PATH or postgresql://..., not {url[:20]!r}...")
    try:
        book.create()
    except BaseException:
        book.close()
        raise
    return book
