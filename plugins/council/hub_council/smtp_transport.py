"""The ``smtp`` transport: a referral by secure e-mail, for councils that take Duty to Refer by mail.

The message travels as an attachment to a plain e-mail whose subject and
headers identify nothing about the person ("Secure referral from the partner
hub", a random delivery reference). The attachment is the hub's sealed JOSE
envelope (``application/jose``, signed by the hub, encrypted to the council's
key from the partners file; the delivery worker seals it before this transport
sees it). E-mail is stored and relayed by mail servers, so STARTTLS protects
only each hop: a council without envelope keys is refused unless its
``receive.options`` say ``allow_unsealed = true`` explicitly.

Options (``receive.options`` in partners.toml)::

    host = "smtp.council.example"   port = 587
    from = "hub@trust.example"      to = "dtr@council.example"   (or a list)
    starttls = true                 # required; a server without STARTTLS is refused
    ca_file = "council-ca.pem"      # trust this CA for the server's certificate (system CAs otherwise)
    reply_to = "dtr-replies@hub.example"   # optional: Reply-To, the address of the hub's smtp-replies listener
    username = "hub"                password_env = "HUB_SMTP_PASSWORD"   (optional AUTH after STARTTLS)
    allow_unsealed = false

A 4xx answer or a network failure is retried; a 5xx answer is not.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

from hub import DeliveryOutcome, Rendered

if TYPE_CHECKING:
    from hub import Partner

SUBJECT = "Secure referral from the partner hub"
SEALED_TYPES = ("application/jose", "application/jose+json")
BODY_TEXT = """This e-mail carries one message from the partner hub as an attachment.

The attachment is a sealed envelope (a JWE: compact, application/jose, or, while you have several encryption keys
registered, general JSON, application/jose+json): open it with any of your hub decryption keys and verify the
signature with the hub's published signing key. Reply by posting to the hub's API; do not reply to this e-mail
with personal details.

Reference (quote it if you contact the hub's operators): {reference}
"""
REPLY_TEXT = """
To tell the referrer where the referral is (received, contact made, the duty owed, closed...), reply to this e-mail
with one attachment: a HousingStatus sealed for the hub (signed with your key, encrypted to the hub's), as you would
post it to the API. The hub answers in the SMTP conversation: a bounce says why a reply was refused.
"""
_EXTENSIONS = {"application/jose": "jwe", "application/jose+json": "json", "application/xml": "xml",
               "application/json": "json"}  # fmt: skip


class SmtpSettingsError(ValueError):
    """A partner's ``receive.options`` cannot drive the smtp transport; ``str(exc)`` says which option."""


def build_email(rendered: Rendered, *, options: dict[str, Any], message_id: str, delivery_id: str) -> EmailMessage:
    """The e-mail for one delivery: neutral subject and headers, the content as one attachment."""
    sender, recipients = options.get("from"), options.get("to")
    if not sender or not recipients:
        raise SmtpSettingsError("receive.options needs 'from' and 'to' for the smtp transport")
    mail = EmailMessage()
    mail["Subject"] = SUBJECT
    mail["From"] = str(sender)
    mail["To"] = ", ".join(recipients) if isinstance(recipients, list) else str(recipients)
    mail["Date"] = formatdate(usegmt=True)
    domain = str(sender).rpartition("@")[2] or "hub.invalid"
    mail["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex, domain=domain)
    mail["X-Hub-Message-Id"] = message_id  # a random UUID: lets the council drop duplicates of one message
    mail["X-Hub-Delivery-Id"] = delivery_id
    text = BODY_TEXT.format(reference=delivery_id)
    if options.get("reply_to"):  # the hub's smtp-replies listener takes sealed statuses sent to this address
        mail["Reply-To"] = str(options["reply_to"])
        text += REPLY_TEXT
    mail.set_content(text)
    maintype, _, subtype = rendered.content_type.partition("/")
    extension = _EXTENSIONS.get(rendered.content_type, "bin")
    mail.add_attachment(rendered.body, maintype=maintype, subtype=subtype or "octet-stream",
                        filename=f"hub-message-{message_id}.{extension}")  # fmt: skip
    return mail


def tls_context(options: dict[str, Any]) -> ssl.SSLContext:
    """Verifying TLS 1.2+ context for STARTTLS: the partner's CA file, or the system's trust store."""
    context = ssl.create_default_context(cafile=options.get("ca_file"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _send(mail: EmailMessage, options: dict[str, Any], timeout: float) -> None:
    """Send over SMTP with mandatory STARTTLS (blocking; run in a thread); raise on any failure."""
    host = str(options.get("host") or "")
    if not host:
        raise SmtpSettingsError("receive.options needs 'host' for the smtp transport")
    if options.get("starttls", True) is not True:
        raise SmtpSettingsError("receive.options.starttls must be true: the hub never sends e-mail without TLS")
    port = int(options.get("port", 587))
    with smtplib.SMTP(host, port, timeout=timeout) as client:
        client.ehlo()
        if not client.has_extn("starttls"):
            raise SmtpSettingsError(f"the mail server {host}:{port} does not offer STARTTLS; the hub will not send")
        client.starttls(context=tls_context(options))
        client.ehlo()
        username = options.get("username")
        if username:
            password = os.environ.get(str(options.get("password_env") or ""), "")
            if not password:
                raise SmtpSettingsError(f"the environment variable {options.get('password_env')} is unset")
            client.login(str(username), password)
        refused = client.send_message(mail)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)


class SmtpTransport:
    """The ``smtp`` transport (see module docstring)."""

    name = "smtp"

    def __init__(self) -> None:
        self.timeout = 10.0

    async def start(self, *, timeout_seconds: float = 10.0, max_connections: int = 64) -> None:
        """Remember the per-attempt timeout; one connection per delivery, nothing to pool."""
        self.timeout = timeout_seconds

    async def close(self) -> None:
        """Nothing to release."""

    async def deliver(
        self, rendered: Rendered, *, partner: Partner, message_id: str, delivery_id: str
    ) -> DeliveryOutcome:
        """E-mail ``rendered`` to the partner; a 250 answer after DATA is delivered."""
        options = dict(partner.receive.options)
        sealed = rendered.content_type in SEALED_TYPES
        if not sealed and options.get("allow_unsealed") is not True:
            return DeliveryOutcome(
                False, False,
                f"{partner.id} receives by e-mail but has no envelope keys: register its keys in partners.toml "
                "(or, knowingly, set receive.options.allow_unsealed = true)", failure="hub",
            )  # fmt: skip
        try:
            mail = build_email(rendered, options=options, message_id=message_id, delivery_id=delivery_id)
            await asyncio.to_thread(_send, mail, options, self.timeout)
        except SmtpSettingsError as exc:
            return DeliveryOutcome(False, True, f"{partner.id}: {exc}", failure="hub")
        except ssl.SSLCertVerificationError as exc:
            return DeliveryOutcome(False, True, f"{partner.id}'s mail server certificate is not trusted: {exc.reason}")
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            return DeliveryOutcome(False, not permanent, f"{partner.id}'s mail server answered {exc.smtp_code}")
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            permanent = all(500 <= code < 600 for code in codes)
            return DeliveryOutcome(False, not permanent, f"{partner.id}'s mail server refused the recipient ({codes})")
        except (OSError, smtplib.SMTPException) as exc:
            return DeliveryOutcome(False, True, f"could not reach {partner.id}'s mail server: {type(exc).__name__}")
        return DeliveryOutcome(True, receipt=delivery_id)
