"""The Duty to Refer transform: a HousingRequest built from a DischargeNotice.

Homelessness Reduction Act 2017, s.213B: a trust must refer a person who is
homeless or threatened with homelessness within 56 days to the English housing
authority they choose, and only with their consent to the referral and to
sharing their contact details.

- Without both consents the transform refuses (``Refusal``): nothing is sent and
  the trust is told why in the 202's notes.
- The authority is the person's choice, else the one their address postcode lies
  in (``authority.choose_authority``); no authority is a ``Refusal`` that says why.
- What a council needs and the notice lacks (the referrer's phone or e-mail, a
  way to contact the person) makes the whole notice invalid: ``InvalidMessage``
  (422) naming each missing field of the DischargeNotice, so the trust can fix
  and resend it.

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
    """What a council needs that the DischargeNotice lacks, each at its path in the notice."""
    problems = []
    contact = payload.get("contact") or {}
    for key, what in (("phone", "telephone number"), ("email", "e-mail address")):
        if not contact.get(key):
            problems.append(
                Problem(f"$.payload.contact.{key}", f"required for a Duty to Refer: the referrer's {what}, which "
                                                   "the council uses to reach the referrer")
            )  # fmt: skip
    person = payload.get("person") or {}
    if not any(person.get(key) for key in ("phone", "email", "address")):
        problems.append(
            Problem("$.payload.person", "required for a Duty to Refer: a way for the council to contact the person "
                                        "(phone, email or address)")
        )  # fmt: skip
    return problems


def build_request(source: dict[str, Any], authority: str, context: TransformContext) -> dict[str, Any]:
    """The HousingRequest payload for a DischargeNotice that passed every check."""
    payload = source["payload"]
    housing = payload.get("housing") or {}
    contact = payload.get("contact") or {}
    discharging = payload.get("discharging_org") or {}
    referrer = {
        "name": contact.get("name"),
        "organisation": contact.get("organisation") or discharging.get("name") or discharging.get("ods_code"),
        "authority_type": AUTHORITY_TYPE,
        "phone": contact.get("phone"),
        "email": contact.get("email"),
    }
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
        geo_db = context.options.get("geo_db")
        if not geo_db and context.state_dir is not None and (context.state_dir / "geo.db").exists():
            geo_db = str(context.state_dir / "geo.db")  # 'hub geo import' writes it beside the store
        table = context.options.get("postcodes")

        base = context.config_dir or Path(".")  # route options name files relative to the config directory

        def lookup(postcode: str) -> str | None:
            return directory.lookup(postcode, geo_db=base / geo_db if geo_db else None,
                                    table=base / table if table else None)  # fmt: skip

        authority = choose_authority(payload, lookup)
        request = build_request(source, authority, context)
        return derive_message(source, "HousingRequest", request, message_id=context.new_message_id(),
                              created_at=context.now)  # fmt: skip

    return duty_to_refer
