"""The alerts' channels: a webhook (an HTTP POST of the alert's JSON, optionally signed) and e-mail (SMTP).

Each ``send`` either returns (the channel took the alert) or raises ``AlertNotSent`` with a reason that holds no
secret; ``hub.services.alerts`` retries with back-off. An alert's JSON carries partner ids, counts, measure and
milestone names only, never personal data (``hub.services.alerts.payload``).

The webhook's request: ``Content-Type: application/json``, ``X-Hub-Alert-Id`` (the same on every attempt, so a
receiver drops repeats), and with a secret ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 of the exact body.
Any 2xx answer is taken; anything else, or no answer within ``timeout_seconds``, is an attempt failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiohttp

from hub.alert_settings import Smtp, Webhook

SIGNATURE_HEADER = "X-Hub-Signature-256"
ALERT_ID_HEADER = "X-Hub-Alert-Id"


class AlertNotSent(Exception):
    """A channel did not take an alert; ``str(exc)`` says why (a status, an error's type), never a secret."""


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256 under ``secret``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


async def send_webhook(webhook: Webhook, alert_id: str, body: bytes) -> None:
    """POST ``body`` to the webhook; raise ``AlertNotSent`` unless it answers 2xx in time."""
    headers = {"Content-Type": "application/json", ALERT_ID_HEADER: alert_id}
    secret = webhook.secret()
    if secret == b"":
        raise AlertNotSent(f"webhook {webhook.name}: the variable {webhook.secret_env} holds no signing secret")
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    timeout = aiohttp.ClientTimeout(total=webhook.timeout_seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(webhook.url, data=body, headers=headers, allow_redirects=False) as response,
        ):
            if not 200 <= response.status < 300:
                raise AlertNotSent(f"webhook {webhook.name} answered HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise AlertNotSent(f"webhook {webhook.name} could not be reached ({type(exc).__name__})") from None


def email_of(smtp: Smtp, alert: dict[str, Any]) -> EmailMessage:
    """The e-mail of one alert: its summary as the subject, the summary and the JSON as the text."""
    mail = EmailMessage()
    mail["Subject"] = f"[hub {alert['hub']}] {alert['summary']}"
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(smtp.to)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex, domain=smtp.sender.rpartition("@")[2] or "hub.invalid")
    mail[ALERT_ID_HEADER] = alert["id"]
    mail.set_content(f"{alert['summary']}\n\n{json.dumps(alert, indent=2, sort_keys=True)}\n")
    return mail


def _send_mail(smtp: Smtp, mail: EmailMessage) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
        client.ehlo()
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
            client.ehlo()
        if smtp.username is not None and smtp.password_env is not None:
            client.login(smtp.username, os.environ.get(smtp.password_env, ""))
        client.send_message(mail)


async def send_email(smtp: Smtp, alert: dict[str, Any]) -> None:
    """Send the alert's e-mail (in a thread: ``smtplib`` blocks); raise ``AlertNotSent`` when the server refuses."""
    try:
        await asyncio.to_thread(_send_mail, smtp, email_of(smtp, alert))
    except smtplib.SMTPResponseException as exc:
        raise AlertNotSent(f"the mail server answered {exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise AlertNotSent(f"the mail server could not take it ({type(exc).__name__})") from None
