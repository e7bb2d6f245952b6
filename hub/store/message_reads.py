"""The message reads of the ``Store`` port (``ports.ReadModel`` and the reply and inbox reads) on either backend,
written once.

A backend provides its reads: ``_pathway_read`` (rows as tuples) and ``_mapped_read`` (rows as mappings keyed by
column name, for ``hub.store.views``), both with ``?`` placeholders, how it passes a list of values
(``_in``), and ``_snapshot``: the reads made inside it see one committed state, so that a view read in several
statements never shows a commit made between them in some parts and not in others (a timeline ahead of its
deliveries' states, say). The statements are ``message_queries``'s; how rows are shown is ``views``'.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from typing import Any

from hub.bodies import BodyUnreadable, CodecRegistry, StoredBody
from hub.store import message_queries as q
from hub.store import views
from hub.store.records import DeliveryJob, ReplyTarget


class MessageReadsOnBackend(abc.ABC):
    """Implements the message reads with a backend's ``_pathway_read``, ``_mapped_read`` and ``_in``."""

    codecs: CodecRegistry

    _PARTNER_FIRST = "CROSS JOIN"
    """How ``message_queries.FIND_FOR_PARTNER`` joins the partner's entries to their messages: SQLite's CROSS JOIN
    keeps its planner from starting anywhere else (PostgreSQL overrides it with JOIN)."""

    @abc.abstractmethod
    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read (``?`` placeholders)."""

    @abc.abstractmethod
    def _mapped_read(self, statement: str, args: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read (``?`` placeholders), each a mapping keyed by column name."""

    @abc.abstractmethod
    def _snapshot(self) -> AbstractContextManager[None]:
        """A context in which this thread's reads all see one committed state (within one already: the same)."""

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values`` (text), and the arguments that says it with: one ``?`` per value.

        The PostgreSQL backend overrides it with one array (``= ANY(?::text[])``): one statement whatever the
        number of values."""
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def find_reply_targets(self, in_reply_to: str, replier: str) -> list[ReplyTarget]:
        """Every message with this ``message_id`` delivered (or offered) to ``replier``, newest first.

        Message ids are unique per sender only, so two senders' messages can match; the caller decides.
        """
        rows = self._pathway_read(q.REPLY_TARGETS, (in_reply_to, replier))
        return [ReplyTarget(r[0], r[1], r[2], r[3]) for r in rows]

    def record_of(self, sender: str, message_id: str) -> str | None:
        """The record of ``sender``'s message ``message_id`` (the unique index on both), or None."""
        rows = self._pathway_read(q.RECORD_OF, (sender, message_id))
        return str(rows[0][0]) if rows else None

    def may_read(self, partner_id: str, record_id: str) -> bool:
        """Sender, or a recipient of this message or of one derived from it."""
        return bool(self._pathway_read(q.MAY_READ, (record_id, partner_id, partner_id)))

    def message_view(self, record_id: str) -> dict[str, Any] | None:
        """State, deliveries (each with its ``outcome`` category), derived messages and timeline of one message.

        The whole view, error texts included, is for operators; ``hub.outcomes.for_partner`` makes a partner's.
        """
        with self._snapshot():
            found = self._mapped_read(q.MESSAGE, (record_id,))
            if not found:
                return None
            derived = self._mapped_read(q.DERIVED, (record_id,))
            values, args = self._in("record_id", [record_id] + [d["id"] for d in derived])
            deliveries = self._mapped_read(q.FAMILY_DELIVERIES.format(values=values), args)
            events = self._mapped_read(q.FAMILY_EVENTS.format(values=values), args)
        return views.message_view(found[0], derived, deliveries, events)

    def list_messages(
        self, *, limit: int = 50, message_type: str | None = None, partner: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first, with a status computed from their deliveries."""
        statement = q.LIST_MESSAGES
        args: list[Any] = []
        if message_type:
            statement += q.LIST_BY_TYPE
            args.append(message_type)
        if partner:
            statement += q.LIST_BY_PARTNER
            args += [partner, partner]
        statement += q.LIST_ORDER
        args.append(limit)
        out = []
        with self._snapshot():
            for r in self._mapped_read(statement, args):
                states = [s[0] for s in self._pathway_read(q.FAMILY_STATES, (r["id"], r["id"]))]
                out.append(views.listed(r, states))
        return out

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Dead deliveries, oldest first, with their last error."""
        return [views.dead_letter(r) for r in self._mapped_read(q.DEAD_LETTERS, (limit,))]

    def refused_transmissions(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first, from the audit log: when, and the event's detail (ids, reason, problem locations)."""
        return [views.refused(r) for r in self._mapped_read(q.REFUSED_TRANSMISSIONS, (limit,))]

    def inbox(self, partner: str, limit: int) -> list[DeliveryJob]:
        """Deliveries waiting for a pull partner, oldest first, with decoded bodies."""
        jobs = []
        for r in self._pathway_read(q.INBOX, (partner, limit)):
            try:
                body = self.codecs.decode(r[1], r[5], r[6], StoredBody(r[7], r[8], r[9], r[10]))
            except BodyUnreadable:
                body = b""  # shown to the partner as an item the hub cannot render
            jobs.append(DeliveryJob(r[0], r[1], r[2], r[3], r[4], r[5], body, r[11]))
        return jobs

    def read_body(self, record_id: str) -> bytes | None:
        """Decoded canonical body of one record; None if there is no such record.

        Raises ``BodyUnreadable`` when the body was shredded or its key retired.
        """
        rows = self._pathway_read(q.BODY, (record_id,))
        if not rows:
            return None
        row = rows[0]
        return self.codecs.decode(record_id, row[0], row[1], StoredBody(row[2], row[3], row[4], row[5]))

    def find_by_index(self, nhs_index: str | Sequence[str], partner: str | None = None) -> list[dict[str, Any]]:
        """Messages about the person with this blind-index value (or any of these, in one statement): every one,
        or ``partner``'s search entries.

        A partner has an entry for what it sent and for what it received with the NHS number in
        its (minimised) copy; the lookup touches nothing else (``message_queries.FIND_FOR_PARTNER``).
        """
        searched = [nhs_index] if isinstance(nhs_index, str) else list(nhs_index)
        if partner is None:
            values, args = self._in("nhs_index", searched)
            rows = self._mapped_read(q.FIND_ALL.format(values=values), args)
        else:
            values, args = self._in("i.nhs_index", searched)
            statement = q.FIND_FOR_PARTNER.format(join=self._PARTNER_FIRST, values=values)
            rows = self._mapped_read(statement, [partner, *args])
        return [views.found(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Deliveries by state, and the number of messages."""
        with self._snapshot():
            out = {f"deliveries_{state}": n for state, n in self._pathway_read(q.COUNT_DELIVERIES)}
            rows = self._pathway_read(q.COUNT_MESSAGES)
        out["messages"] = rows[0][0] if rows else 0
        return out

    def reply_times(
        self, answer_types: Collection[str] | None = None
    ) -> list[tuple[str, str, float, float | None, float | None]]:
        """For each delivered message: (partner, type, delivered at, first acknowledgement, first answer)."""
        args: list[Any] = []
        if answer_types is None:
            answer = q.REPLY_ANY_ANSWER
        elif not answer_types:
            answer = q.NO_ANSWER
        else:
            answer, args = self._in("r.type", sorted(answer_types))
        return [tuple(r) for r in self._pathway_read(q.REPLY_TIMES.format(answer=answer), args)]

    def status_replies(
        self, answer_types: Collection[str]
    ) -> list[tuple[str, str, str, str, float, str, str, str, float | None, float]]:
        """Every status reply of ``answer_types`` to a delivered message (see ``ReadModel.status_replies``)."""
        if not answer_types:
            return []
        values, args = self._in("r.type", sorted(answer_types))
        return [tuple(r) for r in self._pathway_read(q.STATUS_REPLIES.format(values=values), args)]
