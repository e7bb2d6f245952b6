"""TLS for ``hub serve``: certificates, optional client certificates, and mapping them to partners.

The server side uses uvicorn's TLS settings. So that a client certificate can
identify a partner, the HTTP protocol below adds the SHA-256 fingerprint of the
peer's certificate to each request's ASGI scope (``scope["extensions"]["tls"]``)
once the TLS handshake has verified it against the configured client CA.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import MutableMapping
from typing import Any

from hub.api.header_deadline import HeaderDeadlineProtocol


class ClientCertHttpProtocol(HeaderDeadlineProtocol):
    """The hub's httptools protocol (a deadline on headers), plus the verified client certificate's fingerprint."""

    _client_cert_sha256: str | None = None

    # uvicorn's HttpToolsProtocol narrows asyncio.Protocol's BaseTransport to Transport (with its own ignore);
    # this override keeps uvicorn's signature, which mypy reports against asyncio.Protocol's
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Remember the fingerprint of the client's certificate, if it presented one."""
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self._client_cert_sha256 = hashlib.sha256(der).hexdigest() if der else None

    def on_message_begin(self) -> None:
        """Start a request's scope with the TLS extension filled in."""
        super().on_message_begin()
        if self._client_cert_sha256:
            self.scope["extensions"] = {"tls": {"client_cert_sha256": self._client_cert_sha256}}


def client_cert_fingerprint(scope: MutableMapping[str, Any]) -> str | None:
    """The verified client certificate's SHA-256 fingerprint for this request, or None."""
    value = scope.get("extensions", {}).get("tls", {}).get("client_cert_sha256")
    return value if isinstance(value, str) else None


def certificate_fingerprint(pem: bytes) -> str:
    """SHA-256 fingerprint (hex) of a PEM certificate, as partners.toml's ``client_cert_sha256`` wants it."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))).hexdigest()
