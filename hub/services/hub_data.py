"""The read-only view of the hub's data that plugins receive: they never open the store themselves.

Plugin commands get one from the ``hub`` command's context
(``hub.cli.context.CommandContext.hub_data``); gauges registered with
``GaugeSpec(..., with_data=True)`` get the running hub's at every scrape. It
carries clear routing metadata only (ids, types, partners, times): no body,
nothing that needs the keys.
"""

from __future__ import annotations

from collections.abc import Collection

from hub.pathway.spec import milestone_id
from hub.plugin_api.data import MilestoneState, ReplyTime, StatusReply
from hub.services.partner_stats import reply_times
from hub.store.ports import Store


class HubData:
    """What a plugin may read of the hub's store (implements ``hub.plugin_api.data.HubData``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def reply_times(self, answer_types: Collection[str] | None = None) -> list[ReplyTime]:
        """Every delivered message with its partner's first acknowledgement and first answer (``ReplyTime``)."""
        return reply_times(self._store, answer_types)

    def status_replies(self, answer_types: Collection[str]) -> list[StatusReply]:
        """Every status reply of ``answer_types`` to a delivered message (``StatusReply``), oldest status first."""
        return [StatusReply(*row) for row in self._store.status_replies(answer_types)]

    def milestone(self, name: str, start_record: str, partner: str) -> MilestoneState | None:
        """The milestone ``name`` started by ``start_record`` for ``partner`` (``MilestoneState``), or None."""
        found = self._store.milestones(milestone_id=milestone_id(name, start_record, partner))
        if not found:
            return None
        m = found[0]
        return MilestoneState(str(m["id"]), str(m["name"]), str(m["partner"]), str(m["start_record"]),
                              str(m["state"]), float(m["due_at"]), m["breached_at"], m["closed_at"],
                              m["closed_by"])  # fmt: skip
