"""Which council gets the Duty to Refer: the person's choice, else the postcode; and what stops it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from council_helpers import notice_by_postcode, notice_for
from hub_council.duty_to_refer import make_duty_to_refer
from hub_council.geo_import import import_onspd
from hub_council.postcodes import PostcodeDirectory

from hub import InvalidMessage, Partner, Refusal, TransformContext


@pytest.fixture
def council_transform(tmp_path: Path):
    source = tmp_path / "onspd.csv"
    source.write_text("pcds,oslaua\nOX1 1AA,E10000025\nCF10 1AA,W06000015\nBS1 4DJ,E06000023\n")
    geo_db = tmp_path / "geo.db"
    import_onspd(source, geo_db)
    transform = make_duty_to_refer(PostcodeDirectory())
    ids = iter(f"00000000-0000-4000-8000-{n:012d}" for n in range(100))
    context = TransformContext("duty-to-refer", datetime(2026, 11, 24, tzinfo=UTC), lambda: next(ids),
                               {"geo_db": str(geo_db)})  # fmt: skip
    return lambda message: transform(message, context)


def test_the_chosen_authority_wins_over_the_postcode(council_transform) -> None:
    notice = notice_for("E06000032")
    notice["payload"]["person"]["address"] = {"lines": ["1 Example Street"], "postcode": "BS1 4DJ"}
    assert council_transform(notice)["payload"]["target_authority_gss"] == "E06000032"


@pytest.mark.parametrize(
    ("postcode", "authority"),
    [("BS1 4DJ", "E06000023"), ("lu1 2ah", "E06000032"), ("SG15 6AB", "E06000056"), ("SN1 1AA", "E06000030")],
)
def test_without_a_choice_the_postcode_decides(council_transform, postcode: str, authority: str) -> None:
    request = council_transform(notice_by_postcode(postcode))
    assert request["type"] == "HousingRequest"
    assert request["payload"]["target_authority_gss"] == authority


@pytest.mark.parametrize(
    ("postcode", "expected"),
    [
        ("YO1 7HH", "not in the hub's postcode directory"),
        ("OX1 1AA", "E10000025, a county (E10)"),
        ("CF10 1AA", "W06000015, which is not an English housing authority"),
    ],
)
def test_a_postcode_with_no_housing_authority_is_refused_saying_why(council_transform, postcode, expected) -> None:
    with pytest.raises(Refusal) as caught:
        council_transform(notice_by_postcode(postcode))
    assert expected in caught.value.reason
    assert "no Duty to Refer was sent" in caught.value.reason
    assert postcode not in caught.value.reason  # refusal reasons are kept on the timeline: no postcode there


def test_no_choice_and_no_address_is_refused(council_transform) -> None:
    notice = notice_for("E06000032")
    del notice["payload"]["housing"]["chosen_authority_gss"]
    with pytest.raises(Refusal, match="no address postcode"):
        council_transform(notice)


@pytest.mark.parametrize("missing", ["referral", "share_contact"])
def test_without_both_consents_the_transform_refuses(council_transform, missing: str) -> None:
    notice = notice_for("E06000032")
    notice["consent"][missing] = False
    with pytest.raises(Refusal, match=f"consent.{missing} is not true"):
        council_transform(notice)


def test_no_way_to_contact_the_person_is_named_at_its_place_in_the_notice(council_transform) -> None:
    notice = notice_for("E06000032")
    del notice["payload"]["contact"]["phone"]
    for key in ("phone", "email"):
        del notice["payload"]["person"][key]
    with pytest.raises(InvalidMessage) as caught:
        council_transform(notice)
    assert [p.location for p in caught.value.problems] == ["$.payload.person"]


LIAISON = {"name": "Discharge liaison team", "phone": "01582 700200", "email": "liaison@example.org",
           "organisation": "Example Trust"}  # fmt: skip


@pytest.mark.parametrize("missing", ["phone", "email"])
def test_without_the_referrers_contact_the_trusts_referral_contact_is_the_referrer(tmp_path: Path,
                                                                                   missing: str) -> None:  # fmt: skip
    trust = Partner("trust-a", "Example Trust", "nhs_trust", referral_contact=LIAISON)
    context = TransformContext("duty-to-refer", datetime(2026, 11, 24, tzinfo=UTC), lambda: str(uuid.uuid4()),
                               sender=trust)  # fmt: skip
    notice = notice_for("E06000032")
    del notice["payload"]["contact"][missing]
    referrer = make_duty_to_refer(PostcodeDirectory())(notice, context)["payload"]["referrer"]
    assert {k: referrer[k] for k in LIAISON} == LIAISON  # the whole referrer, never half a clinician
    [warning] = context.warnings
    assert "trust-a's referral contact" in warning and LIAISON["phone"] not in warning
    without = TransformContext("duty-to-refer", context.now, context.new_message_id,
                               sender=Partner("trust-a", "Example Trust", "nhs_trust"))  # fmt: skip
    with pytest.raises(Refusal, match="gives trust-a no referral_contact"):
        make_duty_to_refer(PostcodeDirectory())(notice, without)


def test_the_request_carries_everything_a_council_asks_for(council_transform) -> None:
    notice = notice_for("E06000032")
    request = council_transform(notice)
    payload = request["payload"]
    assert set(payload["referrer"]) == {"name", "organisation", "authority_type", "phone", "email"}
    assert payload["person"]["family_name"] == "Example" and payload["person"]["phone"]
    assert payload["reason"] == "homeless" and payload["discharge_date"] == "2026-11-27"
    assert payload["housing_situation"].startswith("Sleeping rough") and payload["urgent"] is True
    assert payload["support_needs"] == notice["payload"]["housing"]["support_needs"]
    assert request["consent"] == notice["consent"]
