"""What the conformance suite feeds adapters and reads back: the marker, garbage and marked inputs, the partner
view it renders for, and the error text it searches for echoes. Shared by the suite's classes; public where a
plugin's own tests may want the same inputs (``garbage_bodies``, ``marked_bodies``, ``conformance_partner``).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from typing import Any

from hub.plugin_api.partner import Partner, Receive
from hub.plugin_api.problems import HubError

MARKER = "ZQXMARKER"
"""What the suite plants in bodies and messages; an error that contains it echoed a submitted value."""


def loaded_plugins() -> Any:
    """The plugins as the hub loads them (the installed entry points), loaded afresh."""
    from hub.plugins import load_plugins

    return load_plugins()


def error_text(exc: BaseException) -> str:
    """Everything of an error a caller could see: its sentence, its problems, its extra fields."""
    parts = [str(exc)]
    if isinstance(exc, HubError):
        parts.append(exc.detail)
        parts.extend(f"{p.location} {p.message}" for p in exc.problems)
        parts.append(json.dumps(exc.extra, default=str))
    return "\n".join(parts)


def around_marker(text: str) -> str:
    """The part of ``text`` around the first ``MARKER``, to show what echoed it."""
    at = text.find(MARKER)
    return text[max(0, at - 150) : at + 60]


def field_at(message: Any, path: str) -> Any:
    """The value at the dotted ``path`` of ``message``, or None where any part is missing."""
    for part in path.split("."):
        if not isinstance(message, dict) or part not in message:
            return None
        message = message[part]
    return message


def conformance_partner(adapter: str | None = None, partner_id: str = "conformance-partner", kind: str = "conformance",
                        **options: Any) -> Partner:  # fmt: skip
    """The read-only partner view the suite renders for: push over http, ``receive.options`` as given."""
    return Partner(id=partner_id, name=partner_id, kind=kind, adapter=adapter,
                   receive=Receive(mode="push", transport="http", url="http://127.0.0.1:9/inbound",
                                   options=dict(options)), tls_only=True)  # fmt: skip


def garbage_bodies(valid: Sequence[bytes]) -> list[tuple[str, bytes]]:
    """Bodies no adapter can take: the same for every adapter, plus damaged copies of its ``valid`` bodies."""
    rng = random.Random(14)
    found = [
        ("empty", b""),
        ("whitespace", b" \r\n\t "),
        ("nul bytes", b"\x00" * 64),
        ("not utf-8", b"\xff\xfe\xfd" * 20),
        ("random bytes", bytes(rng.randrange(256) for _ in range(512))),
        ("json nested 10000 deep", b"[" * 10_000 + b"]" * 10_000),
        ("xml nested 10000 deep", b"<a>" * 10_000 + b"</a>" * 10_000),
        ("xml entity", b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>'),
        ("json scalar", b"42"),
        ("json null", b"null"),
        ("json array of strings", b'["a", "b"]'),
        ("hl7 header only", b"MSH|^~\\&|"),
    ]
    for index, body in enumerate(valid):
        for fraction in (0.25, 0.5, 0.9):
            found.append((f"sample {index} cut at {fraction:.0%}", body[: int(len(body) * fraction)]))
        flipped = bytearray(body)
        for position in rng.sample(range(len(flipped)), k=min(8, len(flipped))):
            flipped[position] ^= 0x5A
        found.append((f"sample {index} with 8 bytes flipped", bytes(flipped)))
        found.append((f"sample {index} twice", body + body))
    return found


def marked_bodies(valid: Sequence[bytes]) -> list[tuple[str, bytes]]:
    """Each valid body with every run of 3 or more digits (dates, numbers, ids) replaced by ``MARKER``."""
    found = []
    for index, body in enumerate(valid):
        marked = re.sub(rb"[0-9]{3,}", MARKER.encode(), body)
        if marked != body:
            found.append((f"sample {index}, its numbers replaced by a marker", marked))
            found.append((f"sample {index} marked and cut", marked[: len(marked) * 2 // 3]))
    return found


def marked_message(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` with every string of its payload replaced by ``MARKER`` and a counter (ids kept)."""
    counter = iter(range(1_000_000))

    def mark(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        if isinstance(value, str):
            return f"{MARKER}{next(counter)}"
        return value

    marked = dict(message)
    marked["payload"] = mark(message.get("payload", {}))
    return marked
