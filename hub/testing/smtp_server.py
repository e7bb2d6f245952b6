"""A real SMTP server on loopback for tests: aiosmtpd requiring STARTTLS, its certificate made by a test CA.

Contract: ``with smtp_server(folder) as server:`` starts it on a free port of 127.0.0.1 and stops it on leaving;
``server.port`` and ``server.ca_file`` (the CA that signed its certificate, for the hub's ``ca_file`` option) are
what a partner's ``smtp`` transport needs. Each mail it accepts is appended to ``server.mails`` (a ``Mail`` with the
raw bytes as received, the envelope sender and recipients, and whether the session was under TLS), under
``server.lock``. ``server.stop()`` is idempotent. aiosmtpd must be installed (it comes with the hub's test extras).
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from hub.testing.certs import TestCA
from hub.testing.running_hub import free_port


@dataclass
class Mail:
    """One e-mail the test SMTP server accepted."""

    content: bytes
    mail_from: str
    rcpt_tos: list[str]
    tls: bool

    def message(self) -> EmailMessage:
        """The mail parsed with the standard library's modern policy."""
        return email.message_from_bytes(self.content, policy=email.policy.default)


@dataclass
class SmtpServer:
    """A running test SMTP server: where it listens, the CA of its certificate, and what it accepted."""

    port: int
    ca_file: Path
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    controller: Any = field(default=None, repr=False)
    """The aiosmtpd controller serving, None once stopped."""

    def stop(self) -> None:
        """Stop serving; idempotent (a second stop, or one after a failed start, does nothing and raises nothing)."""
        controller, self.controller = self.controller, None
        if controller is not None:
            controller.stop(no_assert=True)

    def received(self) -> list[Mail]:
        """A copy of the mails accepted so far, in order."""
        with self.lock:
            return list(self.mails)


class _Collect:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = Mail(bytes(envelope.original_content or envelope.content), envelope.mail_from,
                    list(envelope.rcpt_tos), session.ssl is not None)  # fmt: skip
        with self.server.lock:
            self.server.mails.append(mail)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(folder: Path, ca_name: str = "SMTP Test CA", port: int | None = None) -> Iterator[SmtpServer]:
    """Start the server (on ``port``, else a free one), its CA and certificate written under ``folder``; stop it on
    leaving the block (``server.stop()`` inside the block stops it earlier: a mail server that went down)."""
    import aiosmtpd.controller as controller_module

    ca = TestCA(folder / "smtp-ca", ca_name)
    issued = ca.issue("smtp-server", "127.0.0.1", server=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(issued.cert, issued.key)
    server = SmtpServer(free_port() if port is None else port, ca.path)
    server.controller = controller_module.Controller(_Collect(server), hostname="127.0.0.1", port=server.port,
                                                     tls_context=context, require_starttls=True)  # fmt: skip
    try:
        server.controller.start()
        yield server
    finally:
        server.stop()
