"""Transforms and listeners: the steps a plugin adds around routing and the context each receives."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from hub.plugin_api.records.naming import check_name

if TYPE_CHECKING:
    from hub.plugin_api.partner import Partner


@dataclass(frozen=True)
class TransformContext:
    """What a transform may know besides the source message.

    ``sender`` is the partner that sent the source message (None when the hub
    does not know it, as in a unit test). A transform that derives its message
    with something the source did not give (a default, a partner's configured
    contact) appends a sentence saying so to ``warnings`` (names of fields and
    settings, never values): each is reported in the 202's notes and recorded as
    a ``warning`` event on the source message, whose derived message is sent.
    """

    route: str
    now: datetime
    new_message_id: Callable[[], str]
    options: dict[str, Any] = field(default_factory=dict)
    state_dir: Path | None = None
    config_dir: Path | None = None
    sender: Partner | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Transform:
    """Derives a ``target_type`` message from a ``source_type`` message.

    ``func(message, context)`` returns the complete derived canonical message
    (envelope and payload), or raises ``Refusal`` with a reason a person can read
    (the source message is still accepted; the reason is reported in the 202's
    notes), or raises ``InvalidMessage`` when the source message lacks what the
    derived one needs (the source is then refused with 422 and those problems).
    """

    name: str
    source_type: str
    target_type: str
    func: Callable[[dict[str, Any], TransformContext], dict[str, Any]]

    def __post_init__(self) -> None:
        check_name("transform", self.name)


@dataclass
class ListenerContext:
    """What a running listener may use.

    ``submit(body, content_type=..., sender_id=..., idempotency_key=None)`` is a
    coroutine that parses, validates and commits one inbound body as partner
    ``sender_id`` and returns the ``Accepted`` answer (id, duplicate, notes); it
    raises a ``HubError`` (``InvalidMessage``, ``UnparseableInput``, ...) with
    every problem when the body is refused, and nothing is stored then. A body
    of several messages is committed whole or refused whole; it returns one
    answer per message.

    ``record_refusal(listener=..., reference=..., source=..., error=..., **codes)``
    is a coroutine that commits a refused transmission to the hub's audit log
    (reason and problem locations, never content), where ``hub dlq list`` shows
    it. A listener that has nobody to answer (MESH) calls it, and lets go of the
    transmission only once it returned.
    """

    submit: Callable[..., Coroutine[Any, Any, Any]]
    partners: Any
    settings: Any
    options: dict[str, Any]
    state_dir: Path
    record_refusal: Callable[..., Coroutine[Any, Any, Any]] | None = None


@runtime_checkable
class Listener(Protocol):
    """Brings messages in (MLLP, MESH, ...). ``start`` returns once it is listening; ``stop`` ends it."""

    name: str

    async def start(self, context: ListenerContext) -> None:
        """Begin accepting or polling; return once ready."""
        ...

    async def stop(self) -> None:
        """Stop accepting; finish or abandon in-flight work safely (nothing acknowledged is lost)."""
        ...
