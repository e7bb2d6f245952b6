"""Canonical messages for tests, built fresh (new ids) from the example messages in the repository's examples/."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str, **changes: Any) -> dict[str, Any]:
    """The example message ``examples/<name>.json`` with a fresh message_id and top-level changes.

    Its ``correlation_id`` is fresh too (a new episode each time): every example file shares one, and
    deliveries about one correlation to one partner go out one at a time, in order. A test about one
    person's episode passes ``correlation_id=...`` to each of its messages.
    """
    message: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    message["message_id"] = str(uuid.uuid4())
    if "correlation_id" in message:
        message["correlation_id"] = str(uuid.uuid4())
    if name in ("housing-appointment", "acknowledgement") and "recipient" not in changes:
        message.pop("recipient", None)  # a reply names its recipient only when a test says whom
    message.update(copy.deepcopy(changes))
    return message


def discharge_notice(sender: str = "trust-a", **payload_changes: Any) -> dict[str, Any]:
    """A DischargeNotice from ``sender`` for the example person (no fixed abode, consents, wants work)."""
    message = example("discharge-notice", sender={"org_id": sender, "ods_code": "RWK"})
    message.pop("correlation_id", None)
    for key, value in payload_changes.items():
        if value is None:
            message["payload"].pop(key, None)
        else:
            message["payload"][key] = value
    message["payload"]["support"]["provider_id"] = "steps-luton"
    message["payload"]["employment"]["provider_id"] = "ips-luton"
    message["payload"]["housing"]["chosen_authority_gss"] = "E06000032"
    return message


def housing_request(sender: str = "trust-a", target: str = "E06000032") -> dict[str, Any]:
    """A HousingRequest from ``sender`` to the council holding GSS code ``target``."""
    message = example("housing-request", sender={"org_id": sender})
    message["payload"]["target_authority_gss"] = target
    return message
