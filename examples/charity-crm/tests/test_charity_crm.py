"""The charity CRM form adapter: the hub's conformance suite, and a referral form routed through a running hub."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import parse_qs

import pytest
from hub_charity_crm.plugin import FORM_TYPE, CharityCrmFormAdapter
from samples import referral

from hub import InvalidMessage, Partner, Receive
from hub.testing import HubWorld, wait_until
from hub.testing import Partner as WorldPartner
from hub.testing.conformance import AdapterConformance, DeliveryConformance

CHARITY = Partner("hope-charity", "Hope Charity", "charity", adapter="charity-crm-form", receive=Receive("pull"))
FORM = (b"message_id=0b7c8a52-6d0e-4bd9-9df4-0c1a3c1b2f10&created_at=2026-11-24T09%3A05%3A00Z"
        b"&lawful_basis=UK+GDPR+Art+6%281%29%28e%29&consent_referral=yes&consent_share_contact=yes"
        b"&consent_method=written&consent_recorded_at=2026-11-23T15%3A30%3A00Z&consent_recorded_by=Support+worker"
        b"&referral_id=REF-HOPE-000043&service_id=steps-luton&family_name=Example&given_name=Sam"
        b"&birth_date=1988-02-03&no_fixed_abode=yes&referrer_name=Jordan+Demo&reason=Sleeping+rough"
        b"&risk_summary=None+known&support_need=Tenancy+support&received_at=2026-11-24T09%3A05%3A00Z"
        b"&assessment_due_at=2026-11-26T09%3A05%3A00Z")  # fmt: skip


class TestFormAdapterConformance(AdapterConformance):
    adapter_name = "charity-crm-form"
    round_trip_fields: ClassVar[tuple[str, ...]] = ("type", "payload", "consent", "recipient", "lawful_basis")

    def render_samples(self) -> list[dict[str, Any]]:
        return [referral()]

    def parse_samples(self) -> list[tuple[bytes, str]]:
        return [(FORM, FORM_TYPE)]


class TestFormDeliveryConformance(DeliveryConformance):
    adapter_name = "charity-crm-form"
    partner_kind = "charity"

    def message(self, to: str) -> dict[str, Any]:
        message = referral(to)
        message["sender"]["ods_code"] = "RWK"
        return message


def test_the_form_carries_each_field_once_and_lists_by_repeating() -> None:
    rendered = CharityCrmFormAdapter().render(referral(), partner=CHARITY)
    form = parse_qs(rendered.body.decode())
    assert form["support_need"] == ["Support to manage a tenancy", "Help registering with a GP"]
    assert form["consent_referral"] == ["yes"] and form["nhs_number"] == ["9434765919"]
    assert rendered.notes == ()


def test_what_the_form_has_no_field_for_is_named_in_the_notes_never_sent() -> None:
    message = referral()
    message["payload"]["person"]["gender"] = "female"
    rendered = CharityCrmFormAdapter().render(message, partner=CHARITY)
    assert rendered.notes == ("the charity CRM form has no field for payload.person.gender",)
    assert b"female" not in rendered.body


def test_a_form_with_problems_names_every_field_and_no_value() -> None:
    body = b"message_id=x&consent_referral=maybe&family_name=Smith&family_name=Smyth&password=hunter2"
    with pytest.raises(InvalidMessage) as raised:
        CharityCrmFormAdapter().parse(body, content_type=FORM_TYPE, sender_id="hope-charity")
    locations = {p.location for p in raised.value.problems}
    assert {"form.consent_referral", "form.family_name", "form.created_at", "form.reason", "form"} <= locations
    text = str([(p.location, p.message) for p in raised.value.problems])
    assert "maybe" not in text and "Smith" not in text and "hunter2" not in text and "password" not in text


@pytest.mark.hub_world(
    partners=[WorldPartner("hope-charity", "charity", adapter="charity-crm-form", receive="pull"),
              WorldPartner("steps-luton", "hostel")],
    routes=[{"name": "referral", "type": "Referral", "to": {"field": "payload.service_id"}}],
)  # fmt: skip
def test_a_form_posted_by_the_charitys_crm_is_routed_to_the_hostel(hub_world: HubWorld) -> None:
    response = hub_world.post("hope-charity", FORM, content_type=FORM_TYPE)
    assert response.status_code == 202, response.text
    hostel = hub_world.sims["steps-luton"]
    assert wait_until(lambda: hostel.messages("Referral"), timeout=20)
    (delivered,) = hostel.messages("Referral")
    assert delivered["sender"]["org_id"] == "hope-charity"
    assert delivered["payload"]["person"]["given_name"] == "Sam"


def test_the_hub_refuses_a_bad_form_with_the_fields_named(hub_world_factory: Callable[..., HubWorld]) -> None:
    world = hub_world_factory([WorldPartner("hope-charity", "charity", adapter="charity-crm-form", receive="pull")],
                              routes=[])  # fmt: skip
    response = world.post("hope-charity", b"given_name=Sam&no_fixed_abode=perhaps", content_type=FORM_TYPE)
    assert response.status_code == 422
    assert {"location": "form.no_fixed_abode", "detail": "must be yes or no"} in response.json()["errors"]
    assert "Sam" not in response.text and "perhaps" not in response.text
