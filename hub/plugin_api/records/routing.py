"""Partner kinds, code fields, destination resolvers and vocabularies: what routing resolves names with."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.plugin_api.records.message_types import MessageType
from hub.plugin_api.records.naming import check_name


@dataclass(frozen=True)
class PartnerKind:
    """A kind of partner (``kind = "..."`` in ``partners.toml``), e.g. a council or an NHS trust."""

    name: str
    description: str = ""

    def __post_init__(self) -> None:
        check_name("partner kind", self.name)


@dataclass(frozen=True)
class CodeField:
    """A code a partner may be known by (a key of ``[[partner]]`` and of a message's ``sender``/``recipient``).

    For example an organisation code, a local authority code or a mailbox id. A code
    is held by at most one partner; routes find partners by it
    (``to = { code = "NAME", field = "..." }``), and a message's sender may only
    claim the codes registered for it.
    """

    name: str
    description: str = ""

    def __post_init__(self) -> None:
        check_name("code field", self.name)
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", self.name):
            raise ValueError(f"code field name {self.name!r} is invalid: lower-case letters, digits and '_'")


class Unresolved(Exception):
    """Raised by a destination resolver when a message names no partner to send to.

    ``reason`` says why in words a sender can read (field names and rules, never values);
    the route is then not sent for that message and the reason goes in the 202's notes.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RouteSetup:
    """What a destination resolver's ``check`` may consult when ``routes.toml`` is loaded.

    ``partners`` is the partner directory (``get(id)``, ``by_code(field, code)``);
    ``code_fields`` the names of the registered code fields.
    """

    partners: Any
    code_fields: frozenset[str]


@dataclass(frozen=True)
class ResolveContext:
    """What a destination resolver may use for one message.

    ``partners`` is the partner directory; ``reply_sender`` the partner whose message
    this one answers (``in_reply_to``), when it answers one.
    """

    partners: Any
    reply_sender: str | None = None


@dataclass(frozen=True)
class DestinationResolver:
    """A kind of route destination (``to = { kind = "NAME", ... }`` in ``routes.toml``).

    ``resolve(message, options, context)`` returns the id of the partner that receives
    ``message`` (the message being delivered, after any transform) or raises
    ``Unresolved``. ``options`` are the destination table's other keys. ``check(options,
    setup)``, when given, runs once when ``routes.toml`` is loaded and raises
    ``ValueError(sentence)``, or ``ValueError(option, sentence)`` to point at the bad
    option. ``describe(options)`` gives the short text used in notes. A bare string
    destination that is a resolver's name (``"reply"``) selects it with no options.
    """

    name: str
    resolve: Callable[[dict[str, Any], dict[str, Any], ResolveContext], str]
    check: Callable[[dict[str, Any], RouteSetup], None] | None = None
    describe: Callable[[dict[str, Any]], str] | None = None

    def __post_init__(self) -> None:
        check_name("destination resolver", self.name)


@dataclass(frozen=True)
class Vocabulary:
    """The names plugins registered that configuration and messages may use.

    Message types (with their schemas), partner kinds, code fields and destination
    resolvers, each by name. Loading ``partners.toml`` and ``routes.toml`` checks
    names against it; ``HubPlugins.vocabulary`` gives the loaded one.
    """

    message_types: dict[str, MessageType] = field(default_factory=dict)
    partner_kinds: dict[str, PartnerKind] = field(default_factory=dict)
    code_fields: dict[str, CodeField] = field(default_factory=dict)
    destinations: dict[str, DestinationResolver] = field(default_factory=dict)

    def known(self, what: dict[str, Any]) -> str:
        """The names in one of the tables above, sorted and joined for an error message ("none" when empty)."""
        return ", ".join(sorted(what)) or "none"
