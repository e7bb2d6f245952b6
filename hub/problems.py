"""Problems and errors that the hub reports to people and partners.

A ``Problem`` names *where* (a location such as ``$.payload.person.nhs_number``
or ``line 3``) and *what* (a sentence a person can act on). Errors raised at
the boundary carry every problem found, never just the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what is wrong."""

    location: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """Return the problem as it appears in problem+json ``errors``."""
        return {"location": self.location, "detail": self.message}


class HubError(Exception):
    """Base of errors the hub reports to a caller with an HTTP status."""

    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str, problems: list[Problem] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems: list[Problem] = list(problems or [])
        self.extra = extra


class UnparseableInput(HubError):
    """The body could not be read at all (bad JSON, bad XML, bad framing)."""

    status = 400
    title = "Unparseable message"


class InvalidMessage(HubError):
    """The body was read but breaks the schema or a rule; every problem is listed."""

    status = 422
    title = "Invalid message"


class Unauthenticated(HubError):
    """No credentials, or credentials the hub does not know."""

    status = 401
    title = "Unauthenticated"


class Forbidden(HubError):
    """The caller is known but may not do this."""

    status = 403
    title = "Forbidden"


class NotFound(HubError):
    """Nothing there, or nothing this caller may see (the two are not distinguished)."""

    status = 404
    title = "Not found"


class Conflict(HubError):
    """The message id or Idempotency-Key was already used for a different message."""

    status = 409
    title = "Conflict"


class UnsupportedMediaType(HubError):
    """No adapter parses this Content-Type."""

    status = 415
    title = "Unsupported media type"


class PayloadTooLarge(HubError):
    """The body is over the configured limit; it was not read."""

    status = 413
    title = "Payload too large"


class ConfigError(Exception):
    """A configuration file is wrong; the message names the file and the key."""


class PluginError(Exception):
    """A plugin failed to load or registered something invalid; names the plugin."""

    def __init__(self, message: str, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


@dataclass
class ProblemList:
    """Accumulates problems while checking one input."""

    items: list[Problem] = field(default_factory=list)

    def add(self, location: str, message: str) -> None:
        """Record one problem."""
        self.items.append(Problem(location, message))

    def __bool__(self) -> bool:
        return bool(self.items)
