"""Canonical validation: schemas, NHS numbers, the Duty to Refer consents and housing authority codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub import hookimpl
from hub.canonical import CanonicalValidator
from hub.identifiers import housing_authority_problem, is_valid_nhs_number, nhs_number_problem
from hub.plugins import load_plugins
from hub.testing.messages import EXAMPLES, discharge_notice, housing_request


@pytest.fixture(scope="module")
def validator() -> CanonicalValidator:
    return CanonicalValidator()


@pytest.mark.parametrize("number", ["9434765919", "943 476 5919", "9434765870", "4010232137", "9990000018"])
def test_valid_nhs_numbers_pass_modulus_11(number: str) -> None:
    assert is_valid_nhs_number(number)


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("9434765918", "fails the Modulus 11 check"),
        ("123456789", "exactly 10 digits"),
        ("94347659A9", "exactly 10 digits"),
    ],
)
def test_invalid_nhs_numbers_say_why(number: str, why: str) -> None:
    assert why in (nhs_number_problem(number) or "")


def test_a_number_whose_check_digit_would_be_10_is_invalid() -> None:
    # 1 0 0 0 0 0 0 0 1 weighted 10..2 sums to 12; 12 % 11 = 1; 11 - 1 = 10: no check digit can be valid
    for last in "0123456789":
        assert "Modulus 11 gives 10" in (nhs_number_problem("100000001" + last) or "")


@pytest.mark.parametrize("code", ["E06000032", "E07000240", "E08000025", "E09000033"])
def test_housing_authorities_are_e06_to_e09(code: str) -> None:
    assert housing_authority_problem(code) is None


def test_a_county_is_not_a_housing_authority() -> None:
    assert "county (E10)" in (housing_authority_problem("E10000015") or "")
    assert "not an English housing authority" in (housing_authority_problem("W06000015") or "")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_example_is_valid(validator: CanonicalValidator, path: Path) -> None:
    message = json.loads(path.read_text())
    problems = validator.problems(message, message["sender"]["org_id"])
    if message["type"] == "ReferralUpdate":  # valid in shape, and refused from any sender but the hub itself
        assert [p.location for p in problems] == ["$.type"]
    else:
        assert problems == []


def test_there_is_a_schema_and_an_example_for_each_of_the_ten_types(validator) -> None:
    assert len(validator.message_types) == 10
    examples = {json.loads(p.read_text())["type"] for p in EXAMPLES.glob("*.json")}
    assert examples == set(validator.message_types)
    assert set(validator.schemas) == set(validator.message_types)


def test_each_built_in_plugin_registers_the_types_it_brings() -> None:
    registered = {info.name: {r for r in info.registered if r.startswith("message type:")}
                  for info in load_plugins(env={}).infos}  # fmt: skip
    assert registered["hub.defaults"] == {"message type:Acknowledgement", "message type:PathwayNotice"}
    assert registered["council"] == {"message type:HousingRequest", "message type:HousingAppointment",
                                     "message type:HousingStatus"}  # fmt: skip
    assert registered["nhs"] == {"message type:DischargeNotice", "message type:IPSReferral", "message type:FollowUp"}
    assert registered["hostels"] == {"message type:Referral", "message type:ReferralUpdate"}


def test_the_duty_to_refer_rules_are_the_council_plugins() -> None:
    message = housing_request()
    message["consent"]["share_contact"] = False
    message["payload"]["target_authority_gss"] = "E10000015"
    with_council = {
        p.location: p.message for p in CanonicalValidator(load_plugins(env={})).problems(message, "trust-a")
    }
    assert set(with_council) == {"$.consent.share_contact", "$.payload.target_authority_gss"}
    assert "s.213B" in with_council["$.consent.share_contact"]
    assert "county (E10)" in with_council["$.payload.target_authority_gss"]  # replacing the schema's sentence

    class HousingRequestOnly:  # the type and the code without the council plugin's rules
        @hookimpl
        def hub_register_message_types(self, register) -> None:
            from hub_council import plugin

            plugin.hub_register_message_types(register)

        @hookimpl
        def hub_register_code_fields(self, register) -> None:
            from hub_council import plugin

            plugin.hub_register_code_fields(register)

    without = load_plugins(env={"HUB_DISABLE_PLUGINS": "council"}, extra_plugins=[HousingRequestOnly()])
    (only_schema,) = CanonicalValidator(without).problems(message, "trust-a")  # no consent rule, the schema's pattern
    assert only_schema.location == "$.payload.target_authority_gss" and "county" not in only_schema.message


def test_a_housing_request_without_both_consents_is_refused_with_the_law_cited(validator) -> None:
    message = housing_request()
    message["consent"]["referral"] = False
    message["consent"]["share_contact"] = False
    problems = {p.location: p.message for p in validator.problems(message, "trust-a")}
    assert set(problems) == {"$.consent.referral", "$.consent.share_contact"}
    assert all("Homelessness Reduction Act 2017, s.213B" in m for m in problems.values())


def test_a_housing_request_without_a_consent_record_is_refused(validator) -> None:
    message = housing_request()
    del message["consent"]
    problems = {p.location: p.message for p in validator.problems(message, "trust-a")}
    assert "$.consent" in problems and "consent" in problems["$.consent"]


def test_every_problem_is_reported_at_once_with_its_path(validator) -> None:
    message = housing_request()
    message["created_at"] = "yesterday"
    message["payload"]["urgent"] = "yes"
    message["payload"]["person"]["birth_date"] = "17/05/1990"
    message["payload"]["support_needs"] = "lots"
    locations = {p.location for p in validator.problems(message, "trust-a")}
    assert {"$.created_at", "$.payload.urgent", "$.payload.person.birth_date", "$.payload.support_needs"} <= locations


def test_a_message_in_reply_must_say_what_it_answers(validator) -> None:
    message = json.loads((EXAMPLES / "housing-appointment.json").read_text())
    del message["in_reply_to"]
    assert any("in_reply_to" in p.message for p in validator.problems(message, None))


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\ufffe", "\uffff"])
def test_a_character_no_partner_format_can_carry_is_refused_anywhere_with_its_path(validator, char: str) -> None:
    message = housing_request()
    message["payload"]["person"]["given_name"] = f"Al{char}ex"
    message["payload"]["housing_situation"] = f"Sleeping rough{char}"  # even in free text
    message["payload"]["support_needs"] = ["Tenancy support", f"GP{char}"]
    found = {p.location: p.message for p in validator.problems(message, "trust-a")}
    assert set(found) == {"$.payload.person.given_name", "$.payload.housing_situation", "$.payload.support_needs[1]"}
    assert f"U+{ord(char):04X}" in found["$.payload.person.given_name"]
    assert all("Al" not in text and "rough" not in text for text in found.values())


def test_a_control_character_in_a_member_name_is_refused(validator) -> None:
    message = housing_request()
    message["payload"]["person"]["x\x00"] = "y"
    assert "$.payload.person.<name>" in {p.location for p in validator.problems(message, "trust-a")}


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_line_breaks_and_tabs_only_in_fields_the_schema_marks_as_free_text(validator, char: str) -> None:
    message = housing_request()
    message["payload"]["housing_situation"] = f"Sleeping rough{char}since March"
    message["payload"]["support_needs"] = [f"Tenancy{char}support"]
    assert validator.problems(message, "trust-a") == []
    message["payload"]["person"]["family_name"] = f"Ex{char}ample"
    message["payload"]["referrer"]["name"] = f"Chris{char}Placeholder"
    locations = {p.location for p in validator.problems(message, "trust-a")}
    assert locations == {"$.payload.person.family_name", "$.payload.referrer.name"}


def test_an_unknown_type_is_refused_without_repeating_it(validator) -> None:
    (problem,) = validator.problems(dict(housing_request(), type="Quennevilleworth"), "trust-a")
    assert problem.location == "$.type" and "Quennevilleworth" not in problem.message


def test_an_unexpected_member_is_named_only_when_it_looks_like_a_schema_name() -> None:
    """A member name can be personal data (a name, an NHS number): errors never quote it (issue 8, item 13)."""
    message = discharge_notice()
    message["payload"]["person"]["John Smith 9434765919"] = "x"
    message["payload"]["person"]["middle_name"] = "x"
    problems = CanonicalValidator().problems(message, "trust-a")
    text = " ".join(p.message for p in problems)
    assert "John" not in text and "9434765919" not in text
    assert "'middle_name'" in text and "1 other member" in text
