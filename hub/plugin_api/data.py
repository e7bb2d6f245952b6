"""What plugins may read of the hub's data: a read-only view, never the store itself.

A plugin command reaches the view through the ``CommandContext`` the ``hub``
command hands it (``@click.pass_obj``); a gauge registered with
``GaugeSpec(..., with_data=True)`` gets it at every scrape. The view carries
clear routing metadata only (ids, types, partners, times): no body, nothing
that needs the keys. The hub's services implement these protocols
(``hub.services.hub_data.HubData``, ``hub.cli.context.CommandContext``).
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class ReplyTime:
    """One delivered message and the partner's first replies to it (times are epoch seconds).

    ``delivered_at`` is when its delivery was recorded (the partner's 2xx, the mail
    server's 250, the inbox acknowledgement), else when the partner acknowledged it by
    an Acknowledgement. ``acknowledged_at`` is the partner's first Acknowledgement
    naming the message (``in_reply_to``); ``answered_at`` its first other reply, or the
    first of the ``answer_types`` asked for (``HubData.reply_times``). Either is None
    until it comes; a reply that came before the delivery was recorded counts as 0 s.
    """

    partner: str
    type: str
    delivered_at: float
    acknowledged_at: float | None
    answered_at: float | None

    @property
    def seconds_to_acknowledgement(self) -> float | None:
        """Time from delivery to the first acknowledgement (never negative), or None."""
        return None if self.acknowledged_at is None else max(0.0, self.acknowledged_at - self.delivered_at)

    @property
    def seconds_to_answer(self) -> float | None:
        """Time from delivery to the first answer (never negative), or None."""
        return None if self.answered_at is None else max(0.0, self.answered_at - self.delivered_at)


@dataclass(frozen=True)
class StatusReply:
    """One status a partner reported about a message delivered to it (times are epoch seconds).

    The message: ``partner`` it was delivered to, its ``sender``, ``message_id`` and
    ``type``, and ``delivered_at`` (as in ``ReplyTime``). The reply: ``reply_id`` (its
    message_id), ``reply_type``, ``status`` (the code its type declares, ``MessageType.status``),
    ``status_at`` (when the partner says that status was reached; None when it gave no usable
    time) and ``received_at`` (when the hub stored it).
    """

    partner: str
    sender: str
    message_id: str
    type: str
    delivered_at: float
    reply_id: str
    reply_type: str
    status: str
    status_at: float | None
    received_at: float

    @property
    def seconds_from_delivery(self) -> float | None:
        """Time from the message's delivery to this status, by the partner's ``status_at`` (never negative)."""
        return None if self.status_at is None else max(0.0, self.status_at - self.delivered_at)


@dataclass(frozen=True)
class MilestoneState:
    """Where one care-pathway milestone stands (``HubData.milestone``; times are epoch seconds).

    ``state`` is ``open``, ``reminded``, ``met``, ``late``, ``breached`` or ``cancelled`` (docs/pathway.md);
    ``closed_by`` is the record id of the message that met it (None until one did). A milestone is breached
    only when its ``due`` timer fired, by whichever scheduler keeps the pathway's time, once.
    """

    id: str
    name: str
    partner: str
    start_record: str
    state: str
    due_at: float
    breached_at: float | None
    closed_at: float | None
    closed_by: str | None


class HubData(Protocol):
    """The read-only view of the hub's data that plugins receive."""

    def reply_times(self, answer_types: Collection[str] | None = None) -> list[ReplyTime]:
        """Every delivered message with its partner's first acknowledgement and first answer.

        The answer is the partner's first reply that is not an Acknowledgement; with
        ``answer_types`` (message type names), its first reply of one of those types.
        """
        ...

    def status_replies(self, answer_types: Collection[str]) -> list[StatusReply]:
        """Every status reply of ``answer_types`` to a delivered message (``StatusReply``), oldest status first.

        Ordered by partner, sender and message id, then by ``status_at`` (the partner's own time;
        None first), ``received_at`` and reply id: for one message the last is its current status.
        Counts the same delivered messages as ``reply_times``. A status counts for the one message the
        hub resolved it as answering when it was received (message ids are unique per sender only).
        """
        ...

    def milestone(self, name: str, start_record: str, partner: str) -> MilestoneState | None:
        """The milestone ``name`` that the stored message ``start_record`` started for ``partner``, or None.

        None until the pathway has opened it (for a milestone started on delivery: after the delivery, in the
        pathway's next round), and when ``pathways.toml`` declares no such milestone. A plugin that acts on a
        milestone's time (a breach) reads it here rather than keeping a clock of its own: the time then
        survives restarts and is the same for every process and scheduler.
        """
        ...


class CommandContext(Protocol):
    """What the ``hub`` command hands every sub-command, plugins' commands included (``@click.pass_obj``)."""

    def hub_data(self, config_dir: Path | None) -> AbstractContextManager[HubData]:
        """The read-only data of the hub configured in ``config_dir`` (default ``$HUB_CONFIG`` or ``./config``)."""
        ...

    def state_dir(self, config_dir: Path | None) -> Path:
        """The directory where the hub and its plugins keep their files (``[store] state_dir`` in hub.toml)."""
        ...

    def settings(self, config_dir: Path | None) -> Any:
        """The hub's settings (``hub.toml``), the same object listeners and gauges receive.

        A plugin reads its own ``[plugins.NAME]`` table there (``settings.plugin_settings["NAME"]``), and
        ``store_url`` / ``state_dir`` to keep data of its own beside the store.
        """
        ...
