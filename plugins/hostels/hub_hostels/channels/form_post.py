"""A referral as an HTML form POST, with the charity's synchronous answer read as its decision and reference.

Many charity CRMs take external referrals on a web form: ``application/x-www-form-urlencoded`` fields such as
``first_name``, ``surname`` and ``organisation_type``, and answer the POST with a case reference and sometimes
a decision. The ``referral-form`` adapter renders a Referral as those fields (``FIELDS`` below; fields the
partner's data-sharing agreement leaves out are already gone when it renders, and are simply not sent). The
``form-post`` transport POSTs them to the partner's ``receive.url`` and reads its answer with the partner's
``receive.reply`` table (JSON Pointers, hub/replies.py), whether the charity answers in JSON or, as forms do,
form-encoded (``status=accepted&reference=CRM-17``: each field becomes a member, ``/status``, ``/reference``).
A 2xx is delivered; a 5xx, 408, 429 or network failure is retried; another 4xx is not.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
from typing import TYPE_CHECKING, Any

import requests

from hub import DeliveryOutcome, Rendered, RenderError

if TYPE_CHECKING:
    from hub import Partner

FORM = "application/x-www-form-urlencoded"
MAX_ANSWER = 64 * 1024
RETRYABLE = frozenset({408, 429})
ORGANISATION_TYPES = {"nhs_trust": "NHS", "council": "Local authority", "referrer": "Professional",
                      "hostel": "Voluntary sector", "charity": "Voluntary sector"}  # fmt: skip


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def form_fields(message: dict[str, Any]) -> list[tuple[str, str]]:
    """The form fields of a Referral (empty fields are left out)."""
    payload = message.get("payload") or {}
    person = payload.get("person") or {}
    address = person.get("address") or {}
    referrer = payload.get("referrer") or {}
    sender = message.get("sender") or {}
    fields = [
        ("referral_id", payload.get("referral_id")),
        ("service_id", payload.get("service_id")),
        ("offer_id", payload.get("offer_id")),
        ("first_name", person.get("given_name")),
        ("surname", person.get("family_name")),
        ("date_of_birth", person.get("birth_date")),
        ("gender", person.get("gender")),
        ("nhs_number", person.get("nhs_number")),
        ("address", ", ".join(address.get("lines") or [])),
        ("postcode", address.get("postcode")),
        ("no_fixed_abode", "yes" if person.get("no_fixed_abode") else "no" if "no_fixed_abode" in person else None),
        ("phone", person.get("phone")),
        ("email", person.get("email")),
        ("referrer_name", referrer.get("name")),
        ("referrer_role", referrer.get("role")),
        ("referrer_organisation", referrer.get("organisation") or sender.get("org_id")),
        ("referrer_phone", referrer.get("phone")),
        ("referrer_email", referrer.get("email")),
        ("organisation_type", ORGANISATION_TYPES.get(str(payload.get("referrer_kind")), "Professional")),
        ("reason", payload.get("reason")),
        ("risk_summary", payload.get("risk_summary")),
        ("support_needs", payload.get("support_needs")),
        ("assessment_due_at", payload.get("assessment_due_at")),
    ]
    return [(name, _text(value)) for name, value in fields if _text(value)]


class ReferralFormAdapter:
    """Renders a Referral as form fields (render only: charities answer through the transport's reply)."""

    name = "referral-form"
    content_types: tuple[str, ...] = ()

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        """Never called: the adapter parses nothing (``content_types`` is empty)."""
        raise NotImplementedError("referral-form renders only")

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        """The Referral's form fields; another type cannot be put on the form (``RenderError``)."""
        if message.get("type") != "Referral":
            raise RenderError(f"referral-form carries Referrals only, not {message.get('type')!r}")
        body = urllib.parse.urlencode(form_fields(message)).encode()
        return Rendered(FORM, body)


def answer_document(body: bytes, content_type: str) -> bytes:
    """The answer as JSON for ``receive.reply``: JSON as it is; form-encoded fields as a JSON object."""
    if content_type.split(";")[0].strip().lower() == FORM:
        try:
            pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return b""  # read() then warns that the answer is not usable, naming no content
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            return b"{" + b'"a": 1, "a": 2' + b"}"  # a field named twice: refused like a JSON duplicate member
        return json.dumps(dict(pairs)).encode()
    return body


class FormPostTransport:
    """POSTs the rendered form to ``receive.url`` and reads the answer (see the module's docstring)."""

    name = "form-post"

    def __init__(self) -> None:
        self.timeout = 10.0

    async def start(self, *, timeout_seconds: float = 10.0, max_connections: int = 64) -> None:
        """Keep the per-attempt time limit."""
        self.timeout = timeout_seconds

    async def close(self) -> None:
        """Nothing to close: each attempt uses its own connection."""

    async def deliver(self, rendered: Rendered, *, partner: Partner, message_id: str, delivery_id: str
                      ) -> DeliveryOutcome:  # fmt: skip
        """POST the form; 2xx delivered (with the reply read), 5xx/408/429/network retried, other 4xx final."""
        url = partner.receive.url
        if not url:
            return DeliveryOutcome(False, True, f"{partner.id} has no receive.url for form-post", failure="hub")
        headers = {"Content-Type": rendered.content_type, "Idempotency-Key": message_id,
                   "X-Hub-Delivery-Id": delivery_id, **rendered.headers}  # fmt: skip
        token_env = partner.receive.options.get("token_env")
        if token_env:
            token = os.environ.get(str(token_env))
            if not token:
                return DeliveryOutcome(False, True, f"environment variable {token_env} (the partner's token) is unset",
                                       failure="hub")  # fmt: skip
            headers["Authorization"] = f"Bearer {token}"
        verify: Any = partner.receive.options.get("ca_file") or True
        try:
            status, answer, answer_type, receipt = await asyncio.to_thread(
                self._post, url, rendered.body, headers, verify)  # fmt: skip
        except requests.Timeout:
            return DeliveryOutcome(False, True, f"no answer from {partner.id} within {self.timeout:g}s")
        except requests.RequestException as exc:
            return DeliveryOutcome(False, True, f"could not reach {partner.id}: {type(exc).__name__}")
        if 200 <= status < 300:
            if partner.receive.reply is None:
                return DeliveryOutcome(True, receipt=receipt)
            reading = partner.receive.reply.read(answer_document(answer, answer_type))
            return DeliveryOutcome(True, receipt=reading.receipt or receipt, reply=reading.reply,
                                   warnings=list(reading.warnings))  # fmt: skip
        return DeliveryOutcome(False, status >= 500 or status in RETRYABLE, f"{partner.id} answered HTTP {status}")

    def _post(self, url: str, body: bytes, headers: dict[str, str], verify: Any
              ) -> tuple[int, bytes, str, str | None]:  # fmt: skip
        with requests.post(url, data=body, headers=headers, timeout=self.timeout, verify=verify, stream=True,
                           allow_redirects=False) as response:  # fmt: skip
            answer = response.raw.read(MAX_ANSWER + 1, decode_content=True)
            return (response.status_code, answer if len(answer) <= MAX_ANSWER else b"",
                    response.headers.get("Content-Type", ""), response.headers.get("X-Receipt-Id"))  # fmt: skip
