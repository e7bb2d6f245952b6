"""The Duty to Refer transform: a HousingRequest built from a DischargeNotice.

Homelessness Reduction Act 2017, s.213B: a trust must refer a person who is
homeless or threatened with homelessness within 56 days to the English housing
authority they choose, and only with their consent to the referral and to
sharing their contact details.

- Without both consents the transform refuses (``Refusal``): nothing is sent and
  the trust is told why in the 202's notes.
- The authority is the person's choice, else the one their address postcode lies
  in (``authority.choose_authority``); no authority is a ``Refusal`` that says why.
- No way for the council to contact the person (phone, e-mail or address) makes
  the whole notice invalid: ``InvalidMessage`` (422) naming the field, so the
  trust can fix and resend it (the law asks for the person's contact details).
- The referrer is the notice's contact (``payload.contact``) when it gives a
  telephone number and an e-mail address. Otherwise (a discharge with no lead
  clinician) it is the sending trust's ``referral_contact`` from partners.toml,
  typically its discharge liaison team, with a warning saying so; a trust with
  none configured gets a ``Refusal``: the notice is accepted and its other
  routes apply, and the ward is told to refer the person another way.

Route options (``[route.options]`` in routes.toml): ``geo_db`` (path of the
imported postcode directory) and ``postcodes`` (path of a small CSV table).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub import InvalidMessage, Problem, Refusal, TransformContext, derive_message
from hub_council.authority import NOT_SENT, choose_authority
from hub_council.postcodes import PostcodeDirectory

REASONS = {"no_fixed_abode": "homeless", "threatened_within_56_days": "threatened_within_56_days"}
CONSENTS = {"referral": "to the referral", "share_contact": "to sharing contact details"}
AUTHORITY_TYPE = "NHS trust (mental health)"


def check_consent(source: dict[str, Any]) -> None:
    """Raise ``Refusal`` unless the person consented to the referral and to sharing contact details."""
    consent = source.get("consent") or {}
    missing = [name for name in CONSENTS if consent.get(name) is not True]
    if missing:
        what = " and ".join(CONSENTS[m] for m in missing)
        raise Refusal(
            f"{NOT_SENT}: the person has not consented {what} (consent.{missing[0]} is not true). "
            "The law requires both consents; record them and resend."
        )


def missing_content(payload: dict[str, Any]) -> list[Problem]:
    """What a council needs that the DischargeNotice lacks and nothing else can give, at its path in the notice."""
    person = payload.get("person") or {}
    if any(person.get(key) for key in ("phone", "email", "address")):
        return []
    return [
        Problem("$.payload.person", "required for a Duty to Refer: a way for the council to contact the person "
                                    "(phone, email or address)")
    ]  # fmt: skip


def choose_referrer(payload: dict[str, Any], context: TransformContext) -> dict[str, Any]:
    """Who the council contacts about the referral: the notice's contact, else the sending trust's referral contact.

    The notice's contact serves when it gives both a telephone number and an e-mail
    address. Otherwise the trust's ``referral_contact`` (partners.toml) is the whole
    referrer, and a warning says so; without one, ``Refusal`` says what the ward must do.
    """
    contact = payload.get("contact") or {}
    if contact.get("phone") and contact.get("email"):
        discharging = payload.get("discharging_org") or {}
        return {
            "name": contact.get("name"),
            "organisation": contact.get("organisation") or discharging.get("name") or discharging.get("ods_code"),
            "phone": contact["phone"],
            "email": contact["email"],
        }
    sender = context.sender
    fallback = sender.referral_contact if sender is not None else None
    if sender is None or not fallback:
        who = f"partners.toml gives {sender.id} no referral_contact" if sender else "the sender has no referral_contact"
        raise Refusal(
            f"{NOT_SENT}: the notice gives no referrer's telephone number and e-mail address "
            f"(payload.contact.phone, payload.contact.email; HL7: a lead clinician in PV1-7 with ZDR-6 and ZDR-7) and "
            f"{who}. Refer the person to the housing authority another way, or resend with the referrer's contact."
        )
    context.warnings.append(
        f"the notice gives no referrer's telephone number and e-mail address (payload.contact.phone, "
        f"payload.contact.email): the Duty to Refer names {sender.id}'s referral contact (partners.toml "
        "referral_contact, such as its discharge liaison team) as the referrer"
    )
    return {key: fallback.get(key) for key in ("name", "organisation", "phone", "email")}


def build_request(source: dict[str, Any], authority: str, context: TransformContext,
                  referrer: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The HousingRequest payload for a DischargeNotice that passed every check, from ``referrer``."""
    payload = source["payload"]
    housing = payload.get("housing") or {}
    chosen = referrer if referrer is not None else choose_referrer(payload, context)
    referrer = {**chosen, "authority_type": AUTHORITY_TYPE}
    request = {
        "referral_id": context.new_message_id(),
        "referrer": {k: v for k, v in referrer.items() if v is not None},
        "person": payload["person"],
        "reason": REASONS[housing["situation"]],
        "target_authority_gss": authority,
        "discharge_date": payload["discharge"]["date_time"][:10],
        "housing_situation": housing.get("details") or housing["situation"].replace("_", " "),
        "support_needs": housing.get("support_needs") or (payload.get("support") or {}).get("needs") or [],
        "urgent": bool(housing.get("urgent", False)),
    }
    return request


def make_duty_to_refer(directory: PostcodeDirectory) -> Callable[[dict[str, Any], TransformContext], dict[str, Any]]:
    """The transform function, looking postcodes up in ``directory``."""

    def duty_to_refer(source: dict[str, Any], context: TransformContext) -> dict[str, Any]:
        """Build the HousingRequest for ``source``; raise ``Refusal`` or ``InvalidMessage`` saying why not."""
        check_consent(source)
        payload = source["payload"]
        housing = payload.get("housing") or {}
        if housing.get("situation") not in REASONS:
            raise Refusal(f"{NOT_SENT}: the person is neither homeless nor threatened within 56 days")
        problems = missing_content(payload)
        if problems:
            raise InvalidMessage("The DischargeNotice lacks what a council needs for a Duty to Refer.", problems)
        referrer = choose_referrer(payload, context)
        geo_db = context.options.get("geo_db")
        if not geo_db and context.state_dir is not None and (context.state_dir / "geo.db").exists():
            geo_db = str(context.state_dir / "geo.db")  # 'hub geo import' writes it beside the store
        table = context.options.get("postcodes")

        base = context.config_dir or Path(".")  # route options name files relative to the config directory

        def lookup(postcode: str) -> str | None:
            return directory.lookup(postcode, geo_db=base / geo_db if geo_db else None,
                                    table=base / table if table else None)  # fmt: skip

        authority = choose_authority(payload, lookup)
        request = build_request(source, authority, context, referrer)
        return derive_message(source, "HousingRequest", request, message_id=context.new_message_id(),
                              created_at=context.now)  # fmt: skip

    return duty_to_refer
