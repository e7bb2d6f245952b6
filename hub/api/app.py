"""The HTTP API as described in the hub's contract (``docs/api.md``).

Every call is authenticated with ``Authorization: Bearer <token>``. A partner
sends messages and reads only what it sent or what is addressed to it; an
operator reads everything. Errors are ``application/problem+json`` with every
problem and its location. A 202 is sent only after the message is committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from starlette.responses import PlainTextResponse, Response

from hub.api import openapi as spec
from hub.api.docs_page import install_docs
from hub.api.errors import audit_error, install_error_handling, internal_problem, new_incident
from hub.api.problem import problem_response
from hub.api.tls import client_cert_fingerprint
from hub.crypto.blind_index import nhs_index
from hub.events import HubEvent
from hub.identifiers import nhs_number_problem
from hub.minimise import minimise
from hub.outcomes import for_partner
from hub.partners import Caller
from hub.problems import (
    ConfigError,
    Forbidden,
    HubError,
    InvalidMessage,
    NotFound,
    PayloadTooLarge,
    Problem,
    Unauthenticated,
    UnparseableInput,
)
from hub.records import Listener, ListenerContext, as_parsed
from hub.runtime import Hub
from hub.sealing import SEALED_MEDIA_TYPES

log = logging.getLogger("hub.api")


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def start_listeners(hub: Hub, started: list[Listener]) -> None:
    """Start each listener ``hub.toml`` names in a ``[listeners.NAME]`` table (unless ``enabled = false``).

    Each one started is appended to ``started`` as soon as it runs, so the caller can stop them all if a
    later one fails to start.
    """
    settings = hub.config.settings
    for name, options in settings.listeners.items():
        if not options.get("enabled", True):
            continue
        listener = hub.plugins.listeners.get(name)
        if listener is None:
            raise ConfigError(
                f"hub.toml: [listeners.{name}] names a listener no loaded plugin registers "
                f"(known: {', '.join(sorted(hub.plugins.listeners)) or 'none'})"
            )
        context = ListenerContext(submit=hub.intake.submit_body, partners=hub.config.partners, settings=settings,
                                  options=options, state_dir=settings.store_path.parent,
                                  record_refusal=hub.intake.record_refusal)  # fmt: skip
        await listener.start(context)
        started.append(listener)
        log.info("listener %s started", name)


def authenticate(request: Request) -> Caller:
    """The caller of this request, by client certificate or bearer token; raises ``Unauthenticated``.

    A FastAPI dependency, so it runs before the parameters are validated: a request without a valid token is
    a 401 whatever else is wrong with it.
    """
    hub: Hub = request.app.state.hub
    partners, metrics = hub.config.partners, hub.metrics
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    fingerprint = client_cert_fingerprint(request.scope)
    by_cert = partners.authenticate_certificate(fingerprint) if fingerprint else None
    if by_cert is not None and not token.strip():
        request.state.caller = by_cert
        return by_cert
    if scheme.lower() != "bearer" or not token.strip():
        metrics.inc("hub_requests_refused_total", help="Requests refused before reaching a handler",
                    reason="unauthenticated")  # fmt: skip
        raise Unauthenticated("Send 'Authorization: Bearer <token>' with the token the hub issued to you.")
    caller = partners.authenticate(token.strip())
    if caller is None:
        metrics.inc("hub_requests_refused_total", reason="unauthenticated")
        raise Unauthenticated("This token is not known to the hub (revoked, mistyped, or for another hub).")
    if by_cert is not None and by_cert.id != caller.id:
        raise Unauthenticated("The client certificate and the token belong to different partners.")
    request.state.caller = caller
    return caller


Authenticated = Annotated[Caller, Depends(authenticate)]


def partner_caller(caller: Authenticated) -> Caller:
    """A partner (operators may not send or collect); raises ``Forbidden`` for an operator."""
    if caller.is_operator:
        raise Forbidden("Operators read message states; only partners send and collect messages.")
    return caller


def operator_caller(caller: Authenticated) -> Caller:
    """An operator; raises ``Forbidden`` for a partner."""
    if not caller.is_operator:
        raise Forbidden("Metrics are for operators.")
    return caller


PartnerCaller = Annotated[Caller, Depends(partner_caller)]
OperatorCaller = Annotated[Caller, Depends(operator_caller)]


def create_app(hub: Hub, *, run_worker: bool = True) -> FastAPI:
    """Build the ASGI app for ``hub``; with ``run_worker`` the delivery worker runs in-process."""
    settings = hub.config.settings
    partners = hub.config.partners
    intake = hub.intake
    store = hub.store
    metrics = hub.metrics

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = None
        if run_worker:
            worker = hub.make_worker()
            task = asyncio.create_task(worker.run(stop))
        app.state.started_at = time.time()
        listeners: list[Listener] = []
        try:
            await start_listeners(hub, listeners)
            yield
        finally:
            for listener in reversed(listeners):
                try:
                    await listener.stop()
                except Exception:
                    log.exception("listener %s failed to stop cleanly", listener.name)
            stop.set()
            if task is not None:
                await task

    app = FastAPI(
        title="Partner hub API",
        version="1",
        description="Exchange discharge notices, housing requests and appointments, referrals and IPS referrals "
        "between NHS trusts, councils, hostels and charities.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.hub = hub
    install_error_handling(app, store)
    install_docs(app)

    async def read_body(request: Request) -> bytes:
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                declared_size = int(declared)
            except ValueError:
                raise UnparseableInput("Content-Length is not a number.") from None
            if declared_size > limit:
                metrics.inc("hub_requests_refused_total", reason="too_large")
                raise PayloadTooLarge(f"The body is {declared_size} bytes; this hub accepts at most {limit}.")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                metrics.inc("hub_requests_refused_total", reason="too_large")
                raise PayloadTooLarge(f"The body is over {limit} bytes, the most this hub accepts.")
            chunks.append(chunk)
        return b"".join(chunks)

    @app.post(
        "/v1/messages",
        status_code=202,
        summary="Send one message",
        responses={**spec.success("Accepted", "Committed (or recognised as a repeat)", 202),
                   **spec.problems(400, 401, 403, 409, 413, 415, 422)},
        openapi_extra={
            "requestBody": {"required": True,
                            "content": spec.message_body_content(hub.plugins.adapters.values(), SEALED_MEDIA_TYPES)},
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 200}}],
        },
    )  # fmt: skip
    async def post_message(request: Request, caller: PartnerCaller) -> Response:
        body = await read_body(request)
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= 200:
            raise InvalidMessage("The Idempotency-Key header is empty or too long.",
                                 [Problem("header Idempotency-Key", "1 to 200 characters")])  # fmt: skip
        messages = intake.parse(body, request.headers.get("content-type", ""), caller.id)
        if len(messages) != 1:
            raise InvalidMessage(
                f"This body holds {len(messages)} messages; send one per request or use /v1/messages:batch.",
                [Problem("$", "exactly one message expected")],
            )
        accepted = await intake.submit(messages[0].message, sender_id=caller.id, idempotency_key=idempotency_key,
                                       warnings=messages[0].warnings)  # fmt: skip
        return _json(accepted.as_dict(), 202)

    @app.post(
        "/v1/messages:batch",
        summary="Send many canonical messages as NDJSON; each line gets its own result (status 202 or a problem)",
        responses={**spec.success("BatchResult", "One result per non-blank line, in order"),
                   **spec.problems(400, 401, 403, 413)},
        openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {
            "type": "string", "pattern": "\\S",
            "description": "One canonical message (a JSON object) per line; blank lines are skipped, and a body "
                           "with no message at all is refused (400)"}}}}},
    )  # fmt: skip
    async def post_batch(request: Request, caller: PartnerCaller) -> Response:
        sender = partners.get(caller.id)
        if sender is not None and sender.seals:
            raise Forbidden(f"{caller.id} has envelope keys registered: send each message sealed to /v1/messages.")
        body = await read_body(request)
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

        async def one(number: int, line: bytes) -> dict[str, Any]:
            try:
                parsed = as_parsed(adapter.parse(line, content_type=media_type, sender_id=caller.id)[0])
                accepted = await intake.submit(parsed.message, sender_id=caller.id, warnings=parsed.warnings)
            except HubError as exc:
                return {"line": number, "status": exc.status, "title": exc.title, "detail": exc.detail,
                        "errors": [p.as_dict() for p in exc.problems]}  # fmt: skip
            except Exception as exc:  # one line's failure must not hide what the other lines did
                incident = new_incident()
                log.exception("incident %s: batch line %d failed: %s", incident, number, type(exc).__name__)
                await audit_error(store, request.scope, 500, line=number, incident=incident)
                return {"line": number, "status": 500, **internal_problem(incident, "line")}
            return {"line": number, **accepted.as_dict(), "status": 202}

        work = [one(n, line) for n, line in enumerate(lines, start=1) if not is_blank(line)]
        results = await asyncio.gather(*work)
        accepted_count = sum(1 for r in results if r["status"] == 202)
        return _json({"accepted": accepted_count, "rejected": len(results) - accepted_count, "results": results})

    @app.get("/v1/messages", summary="Find messages about one person by NHS number (through the blind index)",
             responses={**spec.success("MessageList", "The messages you may read about this person"),
                        **spec.problems(401, 422)})  # fmt: skip
    async def find_messages(caller: Authenticated, nhs_number: str) -> Response:
        why = nhs_number_problem(nhs_number)
        if why:
            raise InvalidMessage("The NHS number to search for is not valid.", [Problem("query nhs_number", why)])
        index = nhs_index(hub.keys.index_key(), nhs_number)
        rows = store.find_by_index(index, None if caller.is_operator else caller.id)
        await store.audit_async([HubEvent("searched", "", time.time(), actor=caller.id,
                                          detail={"by": "nhs_number", "found": len(rows)})])  # fmt: skip
        return _json({"items": rows})

    @app.get(
        "/v1/messages/{message_id}",
        summary="State and timeline of one message",
        responses={**spec.success("MessageView", "The message's state"), **spec.problems(401, 404)},
    )
    async def get_message(message_id: str, caller: Authenticated) -> Response:
        if not caller.is_operator and not store.may_read(caller.id, message_id):
            raise NotFound(f"No message {message_id} that you may see.")
        view = store.message_view(message_id)
        if view is None:
            raise NotFound(f"No message {message_id} that you may see.")
        if not caller.is_operator:  # error texts name other partners' hosts and addresses: operators only
            view = for_partner(view)
        if not caller.is_operator and view["sender"] != caller.id:
            # a recipient sees its own deliveries and their events, not other partners' or the routing detail
            view["deliveries"] = [d for d in view["deliveries"] if d["partner"] == caller.id]
            view["timeline"] = [e for e in view["timeline"] if e.get("partner") == caller.id]
            view["derived"] = []
        return _json(view)

    @app.get(
        "/v1/inbox",
        summary="Messages waiting for a partner that pulls (limit is brought into 1..500)",
        responses={**spec.success("Inbox", "The oldest waiting messages"), **spec.problems(401, 403, 422)},
    )
    async def get_inbox(caller: PartnerCaller, limit: int = 50) -> Response:
        partner = partners.get(caller.id)
        assert partner is not None
        adapter = hub.plugins.adapter_for(partner.adapter)
        items = []
        read: list[tuple[str, str]] = []
        for job in store.inbox(caller.id, max(1, min(limit, 500))):
            read.append((job.record_id, job.delivery_id))
            try:
                rendered = adapter.render(minimise(orjson.loads(job.body), partner.agreement), partner=partner)
                rendered = hub.gate.seal_outbound(rendered, partner, job.message_id, job.type)
            except Exception:  # one message that cannot be rendered must not block the others
                log.exception("adapter %s could not render delivery %s", adapter.name, job.delivery_id)
                items.append(
                    {
                        "id": job.delivery_id,
                        "message_id": job.message_id,
                        "type": job.type,
                        "error": "the hub could not render this message; an operator has been told",
                    }
                )
                continue
            is_json = rendered.content_type.endswith("json")
            items.append({
                "id": job.delivery_id, "message_id": job.message_id, "type": job.type,
                "content_type": rendered.content_type,
                "body": orjson.loads(rendered.body) if is_json else rendered.body.decode("utf-8", "replace"),
            })  # fmt: skip
        if items:
            await store.audit_async([HubEvent("body_read", job_record, time.time(), delivery_id=delivery,
                                              partner=caller.id, detail={"via": "inbox"}, actor=caller.id)
                                     for job_record, delivery in read])  # fmt: skip
        return _json({"items": items})

    @app.post("/v1/inbox/{delivery_id}/ack", summary="Confirm a pulled message was taken",
              responses={**spec.success("InboxAck", "Taken: the delivery is delivered"),
                         **spec.problems(401, 403, 404)})  # fmt: skip
    async def ack_inbox(delivery_id: str, caller: PartnerCaller) -> Response:
        events = await asyncio.to_thread(store.ack_inbox, caller.id, delivery_id, time.time())
        if events is None:
            raise NotFound(f"No waiting message {delivery_id} in your inbox.")
        intake.emit(events)
        return _json({"id": delivery_id, "status": "delivered"})

    @app.get(
        "/healthz", summary="The process is alive", openapi_extra=spec.PUBLIC, responses=spec.success("Health", "Alive")
    )
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get(
        "/readyz",
        summary="The hub can accept messages (store reachable); lists plugins that failed to load",
        openapi_extra=spec.PUBLIC,
        responses={**spec.success("Ready", "Ready"), **spec.problems(503)},
    )
    async def readyz() -> Response:
        try:
            store.ping()
        except Exception as exc:
            return problem_response(503, "Not ready", f"The store cannot be reached: {type(exc).__name__}")
        failed = [i.name for i in hub.plugins.errors]
        return _json({"status": "ready", "plugins_failed": failed})

    @app.get("/metrics", summary="Prometheus metrics (operators only: they name partners)",
             response_class=PlainTextResponse,
             responses={200: {"description": "The Prometheus text format",
                              "content": {"text/plain": {"schema": {"type": "string"}}}},
                        **spec.problems(401, 403)})  # fmt: skip
    async def metrics_endpoint(caller: OperatorCaller) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = spec.finish(original_openapi(), sorted(hub.plugins.message_types))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def is_blank(line: bytes) -> bool:
    """A batch line with nothing but white space (as the OpenAPI pattern ``\\S`` sees it) carries no message."""
    return not line.decode("utf-8", "replace").strip()
