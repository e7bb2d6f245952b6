"""Problems and errors that the hub reports to people and partners.

A ``Problem`` names *where* (a location such as ``$.payload.person.nhs_number``
or ``line 3``) and *what* (a sentence a person can act on). Errors raised at
the boundary carry every problem found, never just the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


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


class StoreUnavailable(HubError):
    """The store cannot be used now (its database is unreachable, or no connection came free in time).

    Raised by a store backend for a fault that passes: nothing of the operation was done (or, when a
    connection failed as it committed, it may have been; a message sent again with the same id is then
    answered as a duplicate). The faces answer 503 with ``Retry-After: retry_after_seconds``; a
    listener answers its own "resend later". ``reason`` says which fault in words safe to show anyone
    (no host, user or password): it is what ``/readyz`` reports.
    """

    status = 503
    title = "Service unavailable"

    def __init__(self, reason: str, retry_after_seconds: int = 5) -> None:
        super().__init__(
            f"The hub cannot store or read messages now ({reason}). Send the request again after "
            f"{retry_after_seconds} seconds: a message sent again with the same message id or "
            "Idempotency-Key is never stored twice."
        )
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class SchedulerUnavailable(HubError):
    """A milestone scheduler could not be reached, or refused for a reason that may pass: try again later.

    Raised by a ``MilestoneScheduler``'s ``schedule``, ``cancel`` or ``queued``. The hub keeps the timer,
    retries with backoff and shows the sync as pending. ``detail`` must carry no secret and no personal data.
    """

    status = 503
    title = "Scheduler unavailable"


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


def read_each(items: Iterable[T], read: Callable[[T], R]) -> list[R]:
    """``read`` applied to every message of one body, for a body that is accepted or refused whole.

    With one item, what ``read`` raises is raised unchanged. With several, every
    item is read even after one is invalid, and one ``InvalidMessage`` lists the
    problems of all of them, each location prefixed with ``message N `` (N from 1),
    so the sender knows which message to fix; any other ``HubError`` (the item
    cannot be read at all) stops at once and is raised with ``message N: `` before
    its detail.
    """
    listed = list(items)
    if len(listed) == 1:
        return [read(listed[0])]
    results: list[R] = []
    invalid: list[tuple[int, InvalidMessage]] = []
    for number, item in enumerate(listed, start=1):
        try:
            results.append(read(item))
        except InvalidMessage as error:
            invalid.append((number, error))
        except HubError as error:
            numbered = [Problem(f"message {number} {p.location}", p.message) for p in error.problems]
            raise type(error)(f"message {number}: {error.detail}", numbered, **error.extra) from error
    if invalid:
        problems = [Problem(f"message {n} {p.location}", p.message) for n, error in invalid for p in error.problems]
        raise InvalidMessage(invalid[0][1].detail, problems) from invalid[0][1]
    return results
