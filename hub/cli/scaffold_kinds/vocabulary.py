"""What every kind's package carries for its tests: ``samples.py`` (an ``ExampleMessage``, and the test-only plugin
put on the tests' path) and that plugin's module, metadata and entry points (``hub.adapters``)."""

from __future__ import annotations

SAMPLES = '''"""A canonical ExampleMessage for the tests (fictional data, a fresh message id each time), and the
test-only plugin that registers its type and the ``example`` partner kind.

Importing this module puts ``example_vocabulary/`` (a module and its dist-info, with a ``hub.adapters`` entry
point) on this process's path and on ``PYTHONPATH``, so the hubs the tests start, in process or as ``hub serve``,
load it like any installed plugin. Nothing of it is installed with the package.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

VOCABULARY = str(Path(__file__).resolve().parent / "example_vocabulary")
if VOCABULARY not in sys.path:
    sys.path.insert(0, VOCABULARY)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (VOCABULARY, os.environ.get("PYTHONPATH")) if p)

SENDER = "example-sender"
RECEIVER = "example-receiver"
KIND = "example"
TYPE = "ExampleMessage"


def example_message(to: str = RECEIVER, sender: str = SENDER) -> dict[str, Any]:
    """An ExampleMessage from ``sender`` to ``to`` (both partners of the test world)."""
    return {{
        "message_id": str(uuid.uuid4()),
        "type": TYPE,
        "schema_version": "1",
        "created_at": "2026-11-24T09:05:00Z",
        "correlation_id": str(uuid.uuid4()),
        "sender": {{"org_id": sender}},
        "recipient": {{"org_id": to}},
        "consent": {{"referral": True, "share_contact": True, "method": "written",
                    "recorded_at": "2026-11-23T15:30:00Z", "recorded_by": "Example Recorder"}},
        "payload": {{"service_id": to, "postcode": "AB1 2CD", "note": "An example note 2026-000123."}},
    }}
'''

VOCABULARY_MODULE = '''"""A test-only plugin: the ``ExampleMessage`` type and ``example`` partner kind of the tests."""

from __future__ import annotations

from typing import Any

from hub import MessageType, PartnerKind, hookimpl

SCHEMA = {{
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://hub.invalid/schemas/canonical/v1/example-message.schema.json",
    "title": "ExampleMessage",
    "$ref": "envelope.schema.json",
    "properties": {{
        "type": {{"const": "ExampleMessage"}},
        "payload": {{
            "type": "object",
            "properties": {{
                "service_id": {{"type": "string", "minLength": 1, "maxLength": 64}},
                "postcode": {{"type": "string", "maxLength": 10}},
                "note": {{"type": "string", "maxLength": 200}},
            }},
            "required": ["service_id"],
            "additionalProperties": False,
        }},
    }},
    "unevaluatedProperties": False,
}}


@hookimpl
def hub_register_message_types(register: Any) -> None:
    """The tests' message type."""
    register(MessageType("ExampleMessage", SCHEMA, "A message the plugin's tests exchange."))


@hookimpl
def hub_register_partner_kinds(register: Any) -> None:
    """The tests' partner kind."""
    register(PartnerKind("example", "A partner of the plugin's tests."))
'''

VOCABULARY_METADATA = "Metadata-Version: 2.1\nName: hub-example-vocabulary\nVersion: 0.1\n"
VOCABULARY_ENTRY_POINTS = "[hub.adapters]\nexample-vocabulary = hub_example_vocabulary\n"
