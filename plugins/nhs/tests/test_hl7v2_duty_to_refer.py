"""An ADT^A03 can make a Duty to Refer when its ZDR segment carries the referrer's contact details."""

from __future__ import annotations

import requests
from hl7_support import adt_a03, segment

from hub.testing.world import standard_partners


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


def test_without_the_referrers_contact_the_discharge_is_accepted_and_the_ward_told_to_refer_another_way(
    hub_world,
) -> None:
    response = post_hl7(hub_world, adt_a03(facility="RWK"))  # ZDR-6 and ZDR-7 empty; trust-a has no referral_contact
    assert response.status_code == 202, response.text
    [note] = [n for n in response.json()["notes"] if n.startswith("route duty-to-refer: ")]
    assert "no Duty to Refer was sent" in note and "ZDR-6" in note and "another way" in note
    view = hub_world.view(response.json()["id"])
    assert [e["detail"]["reason"] for e in view["timeline"] if e["event"] == "refused"] == [note.split(": ", 1)[1]]
    assert not any(d["partner"] == "council-luton" for d in view["deliveries"])
    assert hub_world.db_count() == 1


def test_an_adt_without_a_lead_clinician_names_the_trusts_liaison_team_as_referrer(hub_world_factory) -> None:
    liaison = {"name": "Discharge liaison team", "phone": "01582 700200", "email": "liaison.team@example.org"}
    hub_world = hub_world_factory(partners=standard_partners({"trust-a": {"referral_contact": liaison}}))
    pv1 = segment("PV1", {1: "1", 2: "I", 3: "Willow Ward^^^RWK", 19: "V0001", 36: "1", 37: "19", 44: "20261002",
                          45: "20261127110000"})  # PV1-7 empty  # fmt: skip
    response = post_hl7(hub_world, adt_a03(facility="RWK", replace={"PV1": pv1}))
    assert response.status_code == 202, response.text
    notes = response.json()["notes"]
    assert any(n.startswith("warning at PV1-7: ") for n in notes), notes
    assert any(n.startswith("route duty-to-refer: warning: ") and "referral contact" in n for n in notes), notes
    council = hub_world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    referrer = council.messages("HousingRequest")[0]["payload"]["referrer"]
    assert {k: referrer[k] for k in liaison} == liaison
    assert referrer["organisation"] == "trust-a"  # none configured: the partner's name in partners.toml
