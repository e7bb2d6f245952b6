"""What the pathway service's in-process tests share: the example partners, one follow-up milestone, a service
over a test store, and a DischargeNotice taken in as if received (no HTTP, no running hub).

``pathway_service(store, scheduler, clock, settings)`` wires a ``PathwayService`` over ``store`` with the follow-up
pathway below (72 hours after a DischargeNotice, reminded 24 hours before, closed by a FollowUp from its sender);
``discharge(service, at, sender)`` accepts a DischargeNotice received at ``at`` and returns its message id, the
milestone's correlation.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract.stores import T0

from hub.config import PathwaySettings, load_config
from hub.pathway.parse import parse_pathways
from hub.plugin_api.events import HubEvent
from hub.plugins import load_plugins
from hub.services.pathway import PathwayService
from hub.shipped import example_config
from hub.store import Intake, NewMessage, Store

PLUGINS = load_plugins()
PARTNERS = load_config(Path(str(example_config())), PLUGINS.vocabulary).partners
PATHWAYS = {
    "milestone": [{
        "name": "follow-up",
        "start": {"type": "DischargeNotice", "on": "received"},
        "due": {"after": "72h"},
        "remind_before": "24h",
        "responsible": "sender",
        "closed_by": [{"type": "FollowUp"}],
    }]
}  # fmt: skip


def pathway_service(
    store: Store, scheduler: Any, clock: Callable[[], float], settings: PathwaySettings
) -> PathwayService:
    """The follow-up pathway over ``store``, scheduled by ``scheduler``, on ``clock``."""
    pathways = parse_pathways(PATHWAYS, PARTNERS, PLUGINS.vocabulary)
    return PathwayService(store, scheduler, pathways, settings, PARTNERS, "hub", PLUGINS.vocabulary.destinations,
                          clock=clock)  # fmt: skip


def discharge(service: PathwayService, at: float = T0, sender: str = "trust-elft") -> str:
    """A DischargeNotice from ``sender`` received at ``at``; its message id (the milestone's correlation)."""
    message_id = str(uuid.uuid4())
    body = {"type": "DischargeNotice", "message_id": message_id, "payload": {}}
    record = str(uuid.uuid4())
    service.store.accept_now(Intake([NewMessage(record, message_id, sender, "DischargeNotice",
                                                json.dumps(body).encode(), at)],
                                    events=[HubEvent("received", record, at)]))  # fmt: skip
    return message_id
