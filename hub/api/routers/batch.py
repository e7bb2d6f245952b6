"""``POST /v1/messages:batch``: many canonical messages as NDJSON, each line answered on its own."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.api import openapi as spec
from hub.api.deps import OFF_LOOP_PARSE_BYTES, HubDep, SendingPartner, json_response, read_body
from hub.api.errors import audit_error, internal_problem, new_incident
from hub.plugin_api.problems import (
    Forbidden,
    HubError,
    PayloadTooLarge,
    Problem,
    StoreUnavailable,
    UnparseableInput,
)
from hub.plugin_api.records import Parsed, as_parsed

log = logging.getLogger("hub.api")


def is_blank(line: bytes) -> bool:
    """A batch line with nothing but white space (as the OpenAPI pattern ``\\S`` sees it) carries no message."""
    return not line.decode("utf-8", "replace").strip()


async def post_batch(request: Request, caller: SendingPartner, hub: HubDep) -> Response:
    """Commit each non-blank line as one message; one line's refusal or failure never hides the others'.

    When the store cannot be reached for some lines (``StoreUnavailable``) and no line was taken, the whole
    batch is answered 503 with ``Retry-After``, to be sent again whole; when some lines were taken, each of
    the others says 503 and ``retry_after_seconds`` in its own result.
    """
    settings, intake = hub.config.settings, hub.intake
    sender = hub.config.partners.get(caller.id)
    if sender is not None and sender.seals:
        raise Forbidden(f"{caller.id} has envelope keys registered: send each message sealed to /v1/messages.")
    body = await read_body(request, hub)
    lines = body.split(b"\n")
    filled = sum(1 for line in lines if not is_blank(line))
    if filled > settings.max_batch_lines:
        raise PayloadTooLarge(f"The batch has {filled} messages; this hub accepts at most "
                              f"{settings.max_batch_lines}.")  # fmt: skip
    if filled == 0:
        raise UnparseableInput("The batch holds no message: send one canonical JSON message per line.",
                               [Problem("body", "no line holds anything but white space")])  # fmt: skip
    adapter = hub.plugins.default_adapter  # a batch line is in the hub's own format
    media_type = adapter.content_types[0]
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if not is_blank(line)]

    def parse_lines() -> list[Parsed | Exception]:
        """Each line's message, or what parsing it raised (answered for that line below)."""
        out: list[Parsed | Exception] = []
        for _number, line in numbered:
            try:
                out.append(as_parsed(adapter.parse(line, content_type=media_type, sender_id=caller.id)[0]))
            except Exception as exc:
                out.append(exc)
        return out

    # a big batch is parsed in the thread pool, so that the event loop keeps serving other requests meanwhile
    parsed_lines = await asyncio.to_thread(parse_lines) if len(body) > OFF_LOOP_PARSE_BYTES else parse_lines()

    unavailable: list[StoreUnavailable] = []

    async def one(number: int, item: Parsed | Exception) -> dict[str, Any]:
        try:
            if isinstance(item, Exception):
                raise item
            accepted = await intake.submit(item.message, sender_id=caller.id, warnings=item.warnings)
        except StoreUnavailable as exc:
            unavailable.append(exc)
            return {"line": number, "status": exc.status, "title": exc.title, "detail": exc.detail, "errors": [],
                    "retry_after_seconds": exc.retry_after_seconds}  # fmt: skip
        except HubError as exc:
            return {"line": number, "status": exc.status, "title": exc.title, "detail": exc.detail,
                    "errors": [p.as_dict() for p in exc.problems]}  # fmt: skip
        except Exception as exc:  # one line's failure must not hide what the other lines did
            incident = new_incident()
            log.exception("incident %s: batch line %d failed: %s", incident, number, type(exc).__name__)
            await audit_error(hub.store, request.scope, 500, line=number, incident=incident)
            return {"line": number, "status": 500, **internal_problem(incident, "line")}
        return {"line": number, **accepted.as_dict(), "status": 202}

    work = [one(number, item) for (number, _line), item in zip(numbered, parsed_lines, strict=True)]
    results = await asyncio.gather(*work)
    accepted_count = sum(1 for r in results if r["status"] == 202)
    if unavailable and accepted_count == 0:  # nothing was taken: the whole batch is answered 503, to send again
        raise unavailable[0]
    return json_response({"accepted": accepted_count, "rejected": len(results) - accepted_count, "results": results})


def router() -> APIRouter:
    """The batch route."""
    routes = APIRouter()
    routes.add_api_route(
        "/v1/messages:batch", post_batch, methods=["POST"],
        summary="Send many canonical messages as NDJSON; each line gets its own result (status 202 or a problem)",
        responses={**spec.success("BatchResult", "One result per non-blank line, in order"),
                   **spec.problems(400, 401, 403, 413)},
        openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {
            "type": "string", "pattern": "\\S",
            "description": "One canonical message (a JSON object) per line; blank lines are skipped, and a body "
                           "with no message at all is refused (400)"}}}}},
    )  # fmt: skip
    return routes
