"""Every refusal on the way to a council, as the sender sees it."""

from __future__ import annotations

from council_helpers import notice_by_postcode, notice_for

from hub.testing.messages import housing_request


def test_a_postcode_in_a_county_is_refused_in_the_notes(council_world) -> None:
    response = council_world.post("trust-a", notice_by_postcode("OX1 1AA"))
    assert response.status_code == 202, response.text
    [note] = response.json()["notes"]
    assert "county (E10)" in note and "OX1" not in note


def test_a_postcode_that_maps_to_nothing_is_refused_in_the_notes(council_world) -> None:
    response = council_world.post("trust-a", notice_by_postcode("YO1 7HH"))
    assert response.status_code == 202, response.text
    assert "not in the hub's postcode directory" in response.json()["notes"][0]


def test_a_notice_by_postcode_reaches_the_council_of_that_area(council_world) -> None:
    assert council_world.post("trust-a", notice_by_postcode("LU2 7DL")).status_code == 202
    council = council_world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))


def test_without_consent_nothing_is_sent_and_the_trust_is_told(council_world) -> None:
    notice = notice_for("E06000032")
    notice["consent"]["referral"] = False
    response = council_world.post("trust-a", notice)
    assert response.status_code == 202
    assert "has not consented to the referral" in response.json()["notes"][0]


def test_a_direct_housing_request_without_consent_is_refused_422(council_world) -> None:
    request = housing_request("trust-a", "E06000032")
    request["consent"]["share_contact"] = False
    response = council_world.post("trust-a", request)
    assert response.status_code == 422
    assert "$.consent.share_contact" in [e["location"] for e in response.json()["errors"]]


def test_a_notice_lacking_the_referrers_phone_is_accepted_and_the_refusal_names_it(council_world) -> None:
    notice = notice_for("E06000032")
    del notice["payload"]["contact"]["phone"]
    response = council_world.post("trust-a", notice)  # trust-a has no referral_contact to fall back on
    assert response.status_code == 202, response.text
    [note] = response.json()["notes"]
    assert note.startswith("route duty-to-refer: no Duty to Refer was sent: ") and "payload.contact.phone" in note
    assert council_world.sims["council-luton"].messages() == []
