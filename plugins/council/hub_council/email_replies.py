"""The ``smtp-replies`` listener: councils that take referrals by e-mail send their statuses back by e-mail.

A council on the ``smtp`` transport replies to the referral e-mail (its
``Reply-To`` is the address this listener receives for, ``receive.options.reply_to``)
with **one sealed envelope attached**: ``application/jose`` (or
``application/jose+json``), signed with the council's registered signing key and
encrypted to the hub's key, holding a HousingStatus (or HousingAppointment) in
the council's format (council XML or canonical JSON). E-mail is relayed and kept
in clear by mail servers and its From can be forged, so the envelope's signature
is what authenticates the reply: the hub verifies it against the council's key
before it reads anything, exactly as for a sealed message posted to the API.

The council is the partner whose ``receive.options.to`` (or ``reply_from``) lists
the reply's From address; its signature must then verify, so a forged From
gets nothing in. The answer is given in the SMTP conversation, after the commit:

- ``250`` once the status is stored (the reply then travels like any other);
- ``550`` when the reply is refused (not from a council of this hub, not exactly
  one sealed attachment, a signature that does not verify, a status the hub
  refuses: the reason and the problems' locations, never a value), so the
  council's mail server bounces it to the sender; the refusal is also on the
  audit log (``hub dlq list``);
- ``451`` when the hub's store cannot take it now, so the mail server retries.

Options (``[listeners.smtp-replies]`` in hub.toml): ``host`` (127.0.0.1), ``port``
(2525), ``cert_file`` and ``key_file`` (PEM; required: STARTTLS is offered and
required before any mail is taken), ``max_bytes`` (1 MiB), relative to the config
directory unless absolute.
"""

from __future__ import annotations

import asyncio
import email
import email.parser
import email.policy
import email.utils
import hashlib
import logging
import re
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from hub import ConfigError, ListenerContext, Partner

log = logging.getLogger("hub_council.email_replies")
SEALED = ("application/jose", "application/jose+json")
MAX_PARTS = 32
MAX_HEADER_BYTES = 16 * 1024


class ReplyRefused(Exception):
    """The reply cannot be taken; ``str(exc)`` is the SMTP answer's text (never a value from the mail)."""

    status = 422

    @property
    def detail(self) -> str:
        """The reason, as the audit log records it."""
        return str(self)


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATEXT}(?:\.{_ATEXT})*"
MSG_ID = re.compile(rf"<{_DOT_ATOM}@(?:{_DOT_ATOM}|\[[!-Z^-~]*\])>")
"""RFC 5322 3.6.4 msg-id: ``<id-left@id-right>``, dot-atoms (or a domain literal on the right); no spaces."""


def audit_reference(message_id: str) -> str:
    """What the audit log records of a reply's Message-ID (it comes from whoever sent the mail, unauthenticated).

    The Message-ID itself when it has the RFC 5322 msg-id shape and is at most 200 characters; otherwise
    ``sha256:`` and the first 32 hex digits of its digest (so free text in it never reaches the log), or ``-``
    when the header is absent.
    """
    text = message_id.strip()
    if not text:
        return "-"
    if len(text) <= 200 and MSG_ID.fullmatch(text):
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def council_for(address: str, partners: dict[str, Partner]) -> Partner | None:
    """The partner on the smtp transport whose ``to`` (or ``reply_from``) lists ``address`` (case ignored)."""
    wanted = address.strip().lower()
    for partner in partners.values():
        if partner.receive.transport != "smtp":
            continue
        options = partner.receive.options
        known: list[str] = []
        for key in ("to", "reply_from"):
            value = options.get(key)
            known += [value] if isinstance(value, str) else list(value or [])
        if wanted and wanted in {str(a).strip().lower() for a in known}:
            return partner
    return None


def header_text(mail: EmailMessage, name: str) -> str:
    """The text of header ``name``, or "" when it is missing or so malformed that Python's e-mail parser fails on
    it (it raises IndexError on some cut-short headers, such as ``Message-ID: <abc@``)."""
    try:
        return str(mail.get(name, ""))
    except Exception:  # any failure of the header parser: the reply is then read as one without the header
        return ""


def read_reply(raw: bytes) -> tuple[EmailMessage, str, str]:
    """(the message, its From address, its audit reference) of one reply as received; never raises for what the
    mail holds.

    A mail with more lines starting ``--`` than ``MAX_PARTS`` parts could have (boundaries) is read for its
    headers only, and ``sealed_attachment`` refuses it: Python's MIME parser takes about a second per 100 KB of
    nested parts on a small machine, and a reply needs two or three. A mail whose headers are over
    ``MAX_HEADER_BYTES`` is read for its first ``MAX_HEADER_BYTES`` of headers only, and so refused too (a
    256 KB Content-Type took the parser 68 MB and seconds).
    """
    headers_only = raw.count(b"\n--") > 2 * MAX_PARTS
    ends = [at for at in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if at >= 0]
    if (min(ends) if ends else len(raw)) > MAX_HEADER_BYTES:  # the parser's memory grows fast with a header's size
        raw = raw[: raw.rfind(b"\n", 0, MAX_HEADER_BYTES) + 1] + b"\n"
        headers_only = True
    mail = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=headers_only)
    assert isinstance(mail, EmailMessage)
    address = email.utils.parseaddr(header_text(mail, "From"))[1]
    return mail, address, audit_reference(header_text(mail, "Message-ID"))


def sealed_attachment(mail: EmailMessage) -> tuple[bytes, str]:
    """The one sealed envelope attached to ``mail``: (bytes, media type); raise ``ReplyRefused`` otherwise."""
    try:
        if mail.get_content_maintype() == "multipart" and not mail.is_multipart():
            raise ReplyRefused(f"the reply's MIME parts cannot be read (a reply has at most {MAX_PARTS})")
        found = [part for part in mail.walk() if part.get_content_type() in SEALED]
    except ReplyRefused:
        raise
    except Exception:  # a MIME header Python's parser fails on (see header_text)
        raise ReplyRefused("the reply's MIME parts cannot be read") from None
    if len(found) != 1:
        raise ReplyRefused(f"attach exactly one sealed envelope (application/jose) holding the status; "
                           f"this reply has {len(found)}")  # fmt: skip
    try:
        payload = found[0].get_payload(decode=True)
    except Exception:  # a transfer encoding Python's parser fails on
        raise ReplyRefused("the sealed envelope attached cannot be decoded") from None
    if not isinstance(payload, bytes) or not payload.strip():
        raise ReplyRefused("the sealed envelope attached is empty")
    return payload.strip(), found[0].get_content_type()


class _Handler:
    """aiosmtpd handler: one DATA is one reply, answered after the commit."""

    def __init__(self, listener: SmtpRepliesListener) -> None:
        self.listener = listener

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return await self.listener.take(bytes(envelope.original_content or envelope.content))


class SmtpRepliesListener:
    """Receives councils' e-mail replies over SMTP with STARTTLS (see module docstring)."""

    name = "smtp-replies"

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._context: ListenerContext | None = None

    async def start(self, context: ListenerContext) -> None:
        """Read the options and start listening on the hub's event loop; return once the socket is bound."""
        from aiosmtpd.smtp import SMTP

        options = context.options
        self._context = context
        base = Path(getattr(context.settings, "config_dir", None) or ".")
        cert, key = options.get("cert_file"), options.get("key_file")
        if not cert or not key:
            raise ConfigError("hub.toml: listeners.smtp-replies: cert_file and key_file are required "
                              "(the listener requires STARTTLS before it takes any mail)")  # fmt: skip
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(base / str(cert), base / str(key))
        limit = int(options.get("max_bytes", 1 << 20))
        host, port = str(options.get("host", "127.0.0.1")), int(options.get("port", 2525))
        handler = _Handler(self)

        def protocol() -> SMTP:
            return SMTP(handler, data_size_limit=limit, tls_context=tls, require_starttls=True, hostname=host)

        self._server = await asyncio.get_running_loop().create_server(protocol, host, port)
        log.info("smtp-replies listening on %s:%d", host, port)

    async def stop(self) -> None:
        """Stop accepting; a reply being committed finishes (the sender gets no 250 otherwise and resends)."""
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def take(self, raw: bytes) -> str:
        """Submit one reply as its council; the SMTP answer (250 after the commit, 550 refused, 451 retry)."""
        assert self._context is not None
        mail, address, reference = read_reply(raw)
        partner = council_for(address, self._context.partners.partners)
        return _smtp_answer(await self._take(mail, partner, reference))

    async def _take(self, mail: EmailMessage, partner: Partner | None, reference: str) -> str:
        assert self._context is not None
        try:
            if partner is None:
                raise ReplyRefused("the sender is not a council of this hub that takes referrals by e-mail")
            body, media_type = sealed_attachment(mail)
            accepted = await self._context.submit(body, content_type=media_type, sender_id=partner.id)
        except ReplyRefused as refused:
            await self._record(reference, partner, refused)
            return f"550 5.6.0 {refused}"
        except Exception as error:  # the hub's refusal (HubError) or a failure: never taken silently
            if getattr(error, "status", 0) == 503:
                log.warning("smtp-replies: store unavailable; answered 451 so the mail server retries")
                return "451 4.3.0 the hub cannot store the reply now; try again later"
            if not hasattr(error, "status"):
                log.exception("smtp-replies: the reply could not be stored")
                return "451 4.3.0 the hub could not store the reply; try again later"
            await self._record(reference, partner, error)
            where = ", ".join(p.location for p in getattr(error, "problems", []) or [])
            return f"550 5.6.0 {getattr(error, 'detail', 'refused')}" + (f" (at {where})" if where else "")
        answers = accepted if isinstance(accepted, list) else [accepted]
        log.info("smtp-replies: reply from %s accepted", partner.id)
        return "250 2.0.0 accepted " + " ".join(str(getattr(a, "id", "")) for a in answers)

    async def _record(self, reference: str, partner: Partner | None, error: Exception) -> None:
        """Put the refusal on the audit log (reason and problem locations only)."""
        assert self._context is not None
        if self._context.record_refusal is None:
            return
        await self._context.record_refusal(listener=self.name, reference=reference or "-",
                                           source=partner.id if partner else "unknown sender", error=error)  # fmt: skip


MAX_REPLY_TEXT = 400  # an SMTP reply line is at most 512 octets (RFC 5321 4.5.3.1.5)


def _smtp_answer(text: str) -> str:
    """``text`` as one SMTP reply line: control characters become spaces, cut to fit."""
    line = " ".join("".join(c if c.isprintable() and c.isascii() else " " for c in text).split())
    return line if len(line) <= MAX_REPLY_TEXT else line[: MAX_REPLY_TEXT - 3] + "..."
