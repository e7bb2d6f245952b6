"""HTTP push transport: POST each delivery to the partner's URL over pooled connections.

One ``aiohttp`` session serves every partner, with keep-alive connections (the
measured fast path on this hardware; see docs/performance.md). Certificates are
verified by default. Each request carries the message id as ``Idempotency-Key``
so that a partner can drop the duplicates at-least-once delivery may produce.
A partner may require a bearer token from the hub: name the environment variable
holding it in ``receive.token_env``.

The partner's reference for a message comes from its ``X-Receipt-Id`` answer
header, or, for a partner with a ``receive.reply`` table, from its JSON answer,
which may also carry its decision (accepted or rejected): the hub records that
as the partner's Acknowledgement. An answer that cannot be read never fails a
2xx delivery; it gives warnings instead.
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING

import aiohttp

from hub.plugin_api.records import DeliveryOutcome, Rendered

if TYPE_CHECKING:
    from hub.plugin_api.partner import Partner

RETRYABLE_STATUSES = frozenset({408, 425, 429})


class HttpPushTransport:
    """The ``http`` transport (see module docstring)."""

    name = "http"

    def __init__(self) -> None:
        self.timeout = aiohttp.ClientTimeout(total=10.0)
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[str, ssl.SSLContext | bool] = {}

    def _tls_for(self, partner: Partner) -> ssl.SSLContext | bool:
        """The TLS settings for one partner: system trust by default, or its own CA and client certificate.

        ``receive.options`` may name ``ca_file`` (trust this CA for the partner's
        server certificate) and ``client_cert`` / ``client_key`` (present this
        certificate, for partners that require mutual TLS). Verification is never
        switched off.
        """
        cached = self._contexts.get(partner.id)
        if cached is not None:
            return cached
        options = partner.receive.options
        context: ssl.SSLContext | bool = True
        if options.get("ca_file") or options.get("client_cert"):
            context = ssl.create_default_context(cafile=options.get("ca_file"))
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if options.get("client_cert"):
                context.load_cert_chain(options["client_cert"], options.get("client_key"))
        self._contexts[partner.id] = context
        return context

    async def start(self, *, timeout_seconds: float = 10.0, max_connections: int = 64) -> None:
        """Open the shared connection pool: one keep-alive connection per delivery in flight at most."""
        if self._session is None:
            self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
            connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=max_connections)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)

    async def close(self) -> None:
        """Close the pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(
        self, rendered: Rendered, *, partner: Partner, message_id: str, delivery_id: str
    ) -> DeliveryOutcome:
        """POST to ``partner.receive.url``; 2xx is delivered, 5xx/408/429/network errors are retried."""
        if self._session is None:
            await self.start()
        assert self._session is not None
        headers = {
            "Content-Type": rendered.content_type,
            "Idempotency-Key": message_id,
            "X-Hub-Delivery-Id": delivery_id,
            **rendered.headers,
        }
        token_env = partner.receive.options.get("token_env")
        if token_env:
            token = os.environ.get(str(token_env))
            if not token:
                return DeliveryOutcome(
                    False, True, f"environment variable {token_env} (the partner's token) is unset", failure="hub"
                )
            headers["Authorization"] = f"Bearer {token}"
        url = partner.receive.url or ""
        try:
            tls = self._tls_for(partner)
        except (OSError, ssl.SSLError) as exc:
            return DeliveryOutcome(False, True, f"TLS settings of {partner.id} cannot be loaded: {exc}", failure="hub")
        try:
            async with self._session.post(url, data=rendered.body, headers=headers, ssl=tls) as response:
                answer = await response.read()
                status = response.status
                receipt = response.headers.get("X-Receipt-Id")
        except TimeoutError:
            return DeliveryOutcome(False, True, f"no answer from {partner.id} within {self.timeout.total:g}s")
        except aiohttp.ClientConnectorCertificateError as exc:
            return DeliveryOutcome(False, True, f"{partner.id}'s certificate is not trusted: {exc.certificate_error}")
        except aiohttp.ClientError as exc:
            return DeliveryOutcome(False, True, f"could not reach {partner.id}: {type(exc).__name__}: {exc}")
        if 200 <= status < 300:
            if partner.receive.reply is None:
                return DeliveryOutcome(True, receipt=receipt)
            reading = partner.receive.reply.read(answer)
            return DeliveryOutcome(True, receipt=reading.receipt or receipt, reply=reading.reply,
                                   warnings=list(reading.warnings))  # fmt: skip
        retryable = status >= 500 or status in RETRYABLE_STATUSES
        return DeliveryOutcome(False, retryable, f"{partner.id} answered HTTP {status}")
