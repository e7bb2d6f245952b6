"""Referrals from everyone the pathway names, with consent enforced as for the Duty to Refer (real hub, HTTP).

Partners: a trust, a care coordinators' team (kind ``referrer``), a hostel that takes in self-referrals
(``steps-luton``, the route's ``takers``), a charity that does not (``charity-x``) and a second hostel.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from hub.testing.messages import discharge_notice, example
from hub.testing.world import HubWorld, Partner, example_routes


@pytest.fixture
def world(hub_world_factory: Callable[..., HubWorld]) -> HubWorld:
    routes = example_routes()
    for route in routes:
        if route["name"] == "referral":
            route["to"] = {"kind": "referral-taker", "takers": ["steps-luton"]}
    partners = [
        Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}),
        Partner("cc-team", "referrer"),
        Partner("steps-luton", "hostel"),
        Partner("charity-x", "charity"),
        Partner("hostel-b", "hostel"),
    ]
    return hub_world_factory(partners, routes=routes)


def referral(sender: str, to: str, source: str, **consent: Any) -> dict[str, Any]:
    message = example("referral", sender={"org_id": sender}, recipient={"org_id": to})
    message["payload"]["service_id"] = to
    message["payload"]["source"] = source
    message["consent"] = {**copy.deepcopy(message["consent"]), **consent}
    return message


def test_a_care_coordinator_refers_with_consent(world: HubWorld) -> None:
    answer = world.send("cc-team", referral("cc-team", "hostel-b", "professional"))
    assert answer.status_code == 202, answer.text
    assert world.sims["hostel-b"].wait_for(lambda s: s.messages("Referral"))
    got = world.sims["hostel-b"].messages("Referral")[0]
    assert got["payload"]["source"] == "professional" and got["sender"]["org_id"] == "cc-team"


@pytest.mark.parametrize(("consent", "location"), [({"referral": False}, "$.consent.referral"),
                                                    ({"share_contact": False}, "$.consent.share_contact")])  # fmt: skip
def test_a_referral_without_consent_is_refused_whole(world: HubWorld, consent: dict[str, Any], location: str) -> None:
    answer = world.send("cc-team", referral("cc-team", "hostel-b", "professional", **consent))
    assert answer.status_code == 422, answer.text
    assert location in [e["location"] for e in answer.json()["errors"]]
    no_consent = referral("cc-team", "hostel-b", "professional")
    del no_consent["consent"]
    answer = world.send("cc-team", no_consent)
    assert answer.status_code == 422 and "$.consent" in [e["location"] for e in answer.json()["errors"]]
    assert world.sims["hostel-b"].messages() == []


def test_a_self_referral_is_taken_in_only_by_a_partner_that_accepts_them(world: HubWorld) -> None:
    taken = world.send("steps-luton", referral("steps-luton", "hostel-b", "self"))
    assert taken.status_code == 202, taken.text
    assert world.sims["hostel-b"].wait_for(lambda s: s.messages("Referral"))
    refused = world.send("charity-x", referral("charity-x", "hostel-b", "self"))
    assert refused.status_code == 202
    assert any("self-referral is taken in only by a partner that accepts them" in n
               for n in refused.json().get("notes", [])), refused.json()  # fmt: skip
    view = world.view(refused.json()["id"])
    assert view["deliveries"] == []
    assert len(world.sims["hostel-b"].messages("Referral")) == 1
    # the same charity may refer as a professional
    assert world.send("charity-x", referral("charity-x", "hostel-b", "professional")).status_code == 202
    assert world.sims["hostel-b"].wait_for(lambda s: len(s.messages("Referral")) == 2)


def test_a_discharge_without_consent_sends_no_support_referral(world: HubWorld) -> None:
    notice = discharge_notice()
    notice["consent"]["referral"] = False
    answer = world.send("trust-a", notice)
    assert answer.status_code == 202, answer.text
    assert any("no support referral was sent" in n and "consent.referral" in n for n in answer.json()["notes"])
    with_consent = world.send("trust-a", discharge_notice())
    assert with_consent.status_code == 202
    assert world.sims["steps-luton"].wait_for(lambda s: s.messages("Referral"))
    [sent] = world.sims["steps-luton"].messages("Referral")
    assert sent["payload"]["source"] == "discharge"


def test_bad_takers_stop_the_hub_naming_the_option(tmp_path: Any) -> None:
    from hub_hostels.referrals import check_taker

    class Partners:
        def get(self, partner_id: str) -> object | None:
            return object() if partner_id == "steps-luton" else None

    class Setup:
        partners = Partners()

    check_taker({"takers": ["steps-luton"]}, Setup())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a partner"):
        check_taker({"takers": ["nobody"]}, Setup())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an option"):
        check_taker({"takerz": []}, Setup())  # type: ignore[arg-type]
