"""An ADT^A03 can make a Duty to Refer when its ZDR segment carries the referrer's contact details."""

from __future__ import annotations

import requests
from hl7_support import adt_a03


def post_hl7(hub_world, body: bytes) -> requests.Response:
    return requests.post(f"{hub_world.url}/v1/messages", data=body, timeout=10,
                         headers={"Authorization": f"Bearer {hub_world.tokens['trust-a']}",
                                  "Content-Type": "application/hl7-v2"})  # fmt: skip


def test_an_adt_with_consents_and_referrer_contact_reaches_the_council(hub_world) -> None:
    zdr = (
        "ZDR|Y|Y|W|20261123153000|Chris Placeholder, Ward Manager|01582 700100|liaison@example.org|Mental health trust"
    )
    response = post_hl7(hub_world, adt_a03(facility="RWK", replace={"ZDR": zdr}))
    assert response.status_code == 202, response.text
    council = hub_world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    referrer = council.messages("HousingRequest")[0]["payload"]["referrer"]
    assert (referrer["phone"], referrer["email"]) == ("01582 700100", "liaison@example.org")


def test_without_the_referrers_contact_the_trust_is_told_what_is_missing(hub_world) -> None:
    response = post_hl7(hub_world, adt_a03(facility="RWK"))
    assert response.status_code == 422
    locations = {e["location"] for e in response.json()["errors"]}
    assert any("contact" in location for location in locations), locations
    assert hub_world.db_count() == 0
