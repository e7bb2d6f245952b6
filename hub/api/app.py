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
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, Response

from hub.api.problem import error_response, problem_response
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

log = logging.getLogger("hub.api")

JSON_BODY = {"application/json": {"schema": {"type": "object"}}}
PROBLEM = {"description": "Problem details (RFC 9457)", "content": {"application/problem+json": {}}}


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
    )

    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError) -> Response:
        actor = getattr(request.state, "caller", None)
        detail = {"status": exc.status, "method": request.method, "path": request.url.path}
        try:  # every refused request is on the audit log; ids and statuses only, never the body
            await store.audit_async([HubEvent("request_refused", "", time.time(), detail=detail,
                                              actor=actor.id if actor else "anonymous")])  # fmt: skip
        except Exception:
            log.exception("could not audit a refused request")
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def request_error(_: Request, exc: RequestValidationError) -> Response:
        problems = [Problem(".".join(str(p) for p in e.get("loc", ())), e.get("msg", "")) for e in exc.errors()]
        return problem_response(422, "Invalid request", "The request's parameters are not valid.", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return problem_response(exc.status_code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error: %s", type(exc).__name__)
        return problem_response(500, "Internal error", "The hub failed; nothing was stored for this request.")

    def authenticate(request: Request) -> Caller:
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

    def require_partner(caller: Caller) -> None:
        if caller.is_operator:
            raise Forbidden("Operators read message states; only partners send and collect messages.")

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
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/CanonicalMessage"}},
                    "application/fhir+json": {"schema": {"type": "object"}},
                    "application/fhir+xml": {"schema": {"type": "string"}},
                    "application/hl7-v2": {"schema": {"type": "string"}},
                    "application/xml": {"schema": {"type": "string"}},
                    "text/xml": {"schema": {"type": "string"}},
                    "application/jose": {"schema": {"type": "string"}},
                    "application/jose+json": {"schema": {"type": "object"}},
                },
            },
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": 200}}],
            "responses": {
                "202": {"description": "Committed", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"id": {"type": "string"}, "status": {"const": "accepted"},
                                                     "duplicate": {"type": "boolean"},
                                                     "notes": {"type": "array", "items": {"type": "string"}}}}}}},
                **{str(s): PROBLEM for s in (400, 401, 403, 409, 413, 415, 422)},
            },
        },
    )  # fmt: skip
    async def post_message(request: Request) -> Response:
        caller = authenticate(request)
        require_partner(caller)
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
        openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {
            "schema": {"type": "string"}}}}},
    )  # fmt: skip
    async def post_batch(request: Request) -> Response:
        caller = authenticate(request)
        require_partner(caller)
        sender = partners.get(caller.id)
        if sender is not None and sender.seals:
            raise Forbidden(f"{caller.id} has envelope keys registered: send each message sealed to /v1/messages.")
        body = await read_body(request)
        lines = body.split(b"\n")
        if sum(1 for line in lines if line.strip()) > settings.max_batch_lines:
            raise PayloadTooLarge(f"The batch has {len(lines)} lines; this hub accepts at most "
                                  f"{settings.max_batch_lines}.")  # fmt: skip
        adapter = hub.plugins.adapters["canonical-json"]

        async def one(number: int, line: bytes) -> dict[str, Any]:
            try:
                parsed = as_parsed(adapter.parse(line, content_type="application/json", sender_id=caller.id)[0])
                accepted = await intake.submit(parsed.message, sender_id=caller.id, warnings=parsed.warnings)
            except HubError as exc:
                return {"line": number, "status": exc.status, "title": exc.title, "detail": exc.detail,
                        "errors": [p.as_dict() for p in exc.problems]}  # fmt: skip
            except Exception as exc:  # one line's failure must not hide what the other lines did
                log.exception("batch line %d failed: %s", number, type(exc).__name__)
                return {"line": number, "status": 500, "title": "Internal error",
                        "detail": "The hub failed on this line; it was not stored. Send it again."}  # fmt: skip
            return {"line": number, **accepted.as_dict(), "status": 202}

        work = [one(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
        results = await asyncio.gather(*work)
        accepted_count = sum(1 for r in results if r["status"] == 202)
        return _json({"accepted": accepted_count, "rejected": len(results) - accepted_count, "results": results})

    @app.get("/v1/messages", summary="Find messages about one person by NHS number (through the blind index)")
    async def find_messages(request: Request, nhs_number: str) -> Response:
        caller = authenticate(request)
        why = nhs_number_problem(nhs_number)
        if why:
            raise InvalidMessage("The NHS number to search for is not valid.", [Problem("query nhs_number", why)])
        index = nhs_index(hub.keys.index_key(), nhs_number)
        rows = store.find_by_index(index, None if caller.is_operator else caller.id)
        await store.audit_async([HubEvent("searched", "", time.time(), actor=caller.id,
                                          detail={"by": "nhs_number", "found": len(rows)})])  # fmt: skip
        return _json({"items": rows})

    @app.get("/v1/messages/{message_id}", summary="State and timeline of one message")
    async def get_message(message_id: str, request: Request) -> Response:
        caller = authenticate(request)
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

    @app.get("/v1/inbox", summary="Messages waiting for a partner that pulls")
    async def get_inbox(request: Request, limit: int = 50) -> Response:
        caller = authenticate(request)
        require_partner(caller)
        partner = partners.get(caller.id)
        assert partner is not None
        adapter = hub.plugins.adapters.get(partner.adapter) or hub.plugins.adapters["canonical-json"]
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

    @app.post("/v1/inbox/{delivery_id}/ack", summary="Confirm a pulled message was taken")
    async def ack_inbox(delivery_id: str, request: Request) -> Response:
        caller = authenticate(request)
        require_partner(caller)
        events = await asyncio.to_thread(store.ack_inbox, caller.id, delivery_id, time.time())
        if events is None:
            raise NotFound(f"No waiting message {delivery_id} in your inbox.")
        intake.emit(events)
        return _json({"id": delivery_id, "status": "delivered"})

    @app.get("/healthz", summary="The process is alive")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz", summary="The hub can accept messages (store reachable); lists plugins that failed to load")
    async def readyz() -> Response:
        try:
            store.ping()
        except Exception as exc:
            return problem_response(503, "Not ready", f"The store cannot be reached: {type(exc).__name__}")
        failed = [i.name for i in hub.plugins.errors]
        return _json({"status": "ready", "plugins_failed": failed})

    @app.get("/metrics", summary="Prometheus metrics (operators only: they name partners)")
    async def metrics_endpoint(request: Request) -> Response:
        if not authenticate(request).is_operator:
            raise Forbidden("Metrics are for operators.")
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original_openapi()
            schema.setdefault("components", {}).setdefault("schemas", {})["CanonicalMessage"] = {
                "description": "A canonical message; see schemas/canonical/v1 for each type's JSON Schema.",
                "type": "object",
                "required": ["message_id", "type", "schema_version", "created_at", "sender", "payload"],
            }
            schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
