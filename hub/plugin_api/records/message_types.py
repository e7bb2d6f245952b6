"""Message types and the JSON resources their schemas are read from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MESSAGE_TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
FIELD_PATH_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,63}(\.[a-z_][a-z0-9_]{0,63}){0,7}$")


@dataclass(frozen=True)
class MessageType:
    """A canonical message type and the JSON Schema (draft 2020-12) its messages must meet.

    ``name`` is what a message's ``type`` holds (``DischargeNotice``): an upper-case
    letter, then letters and digits. ``schema`` is the whole schema; its ``$id`` is the
    base its relative ``$ref`` s resolve against (shared definitions are registered with
    ``hub_register_schemas``). ``from_package`` reads a schema shipped inside a package.

    ``answers`` (optional) names the types a message of this type may answer: its
    ``in_reply_to`` must then name a message of one of them delivered to the sender
    (422 at ``$.in_reply_to`` otherwise). Empty: any message delivered to the sender.

    ``status`` (optional) declares that the type reports a business status, as
    ``(status field, time field)``: dotted paths such as ``("payload.status",
    "payload.status_at")``. The hub keeps the status code and its time in clear beside
    the message (``StatusReply`` in ``hub.plugin_api.data``), so plugins can count and
    time statuses without decrypting anything. Declare only a field whose schema is an
    enumeration of codes (never free text: it is stored in clear); the hub keeps a value
    only if it is 1-40 lower-case letters, digits or ``_``, and a time only if it is an
    RFC 3339 date-time with an offset.
    """

    name: str
    schema: dict[str, Any]
    description: str = ""
    answers: tuple[str, ...] = ()
    status: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not MESSAGE_TYPE_PATTERN.match(self.name):
            raise ValueError(
                f"message type name {self.name!r} is invalid: an upper-case letter, then up to 63 letters or digits"
            )
        if not isinstance(self.schema, dict):
            raise ValueError(f"message type {self.name}: the schema must be a JSON object")
        for answered in self.answers:
            if not isinstance(answered, str) or not MESSAGE_TYPE_PATTERN.match(answered):
                raise ValueError(f"message type {self.name}: answers names {answered!r}, not a message type name")
        if self.status is not None and (
            len(self.status) != 2 or not all(isinstance(p, str) and FIELD_PATH_PATTERN.match(p) for p in self.status)
        ):
            raise ValueError(
                f"message type {self.name}: status must be two dotted field paths (status, time), "
                "such as ('payload.status', 'payload.status_at')"
            )

    @property
    def uri(self) -> str:
        """The schema's ``$id``, or a URN naming the type when it has none."""
        value = self.schema.get("$id")
        return value if isinstance(value, str) and value else f"urn:hub:message-type:{self.name}"

    @classmethod
    def from_package(
        cls, name: str, package: str, resource: str, description: str = "", *, answers: tuple[str, ...] = (),
        status: tuple[str, str] | None = None,
    ) -> MessageType:  # fmt: skip
        """The type ``name`` with the schema in file ``resource`` of ``package`` (read with importlib.resources)."""
        return cls(name, load_json_resource(package, resource), description, answers, status)


def load_json_resource(package: str, resource: str) -> dict[str, Any]:
    """A JSON object shipped as a file inside ``package`` (``"schemas/x.schema.json"``)."""
    import json
    from importlib.resources import files

    value = json.loads(files(package).joinpath(resource).read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{package}/{resource} does not hold a JSON object")
    return value
