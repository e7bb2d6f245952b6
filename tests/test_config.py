"""Configuration errors name the file and the key, and say what would be right."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_config
from hub.plugin_api.problems import ConfigError
from hub.testing import write_config

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config"
TRUST = {"id": "trust-a", "kind": "nhs_trust", "receive": {"mode": "pull"}}
COUNCIL = {"id": "council-luton", "kind": "council", "gss_code": "E06000032", "receive": {"mode": "pull"}}


def test_the_example_deployment_loads() -> None:
    config = load_config(REPO_CONFIG)
    assert {p.kind for p in config.partners.partners.values()} == {
        "nhs_trust", "council", "hostel", "ips_provider"}  # fmt: skip
    assert [r.name for r in config.routes][:3] == ["duty-to-refer", "support-referral", "ips-referral"]


@pytest.mark.parametrize(
    ("partners", "settings", "message"),
    [
        ([dict(TRUST, kind="hotel")], None, "partners.toml: partner[0].kind: 'hotel' is not one of"),
        ([TRUST, dict(TRUST)], None, "partner id 'trust-a' is declared twice"),
        ([dict(TRUST, receive={"mode": "push"})], None, "partner[0].receive.url: required when mode is 'push'"),
        ([dict(TRUST, receive={"url": "http://x"})], None, "partner[0].receive.mode: required: 'push' or 'pull'"),
        ([dict(TRUST, receive={"mode": "pull", "colour": 1})], None, "partner[0].receive.colour: unknown setting"),
        ([dict(TRUST, token_sha256="abc")], None, "partner[0].token_sha256: 'abc' is not a token digest"),
        ([COUNCIL, dict(COUNCIL, id="council-2")], None, "gss_code 'E06000032' is claimed by both"),
        ([TRUST], {"retry": {"jitter": 2.0}}, "hub.toml: retry.jitter: must be between 0 and 1"),
        ([TRUST], {"delivery": {"concurrency": "many"}}, "hub.toml: delivery.concurrency: expected int"),
        ([TRUST], {"server": {"prot": 1}}, "hub.toml: server.prot: unknown setting"),
        ([TRUST], {"pathway": {"cancel_confirm_seconds": -1}}, "hub.toml: pathway.cancel_confirm_seconds: give 0 or"),
        ([TRUST], {"pathway": {"cancel_confirm_seconds": float("nan")}}, "pathway.cancel_confirm_seconds: give 0 or"),
        ([dict(TRUST, referral_contact={"phone": "01582 700200", "email": "team@example.org"})], None,
         "partners.toml: partner[0].referral_contact.name: required"),
        ([dict(TRUST, referral_contact={"name": "Liaison", "email": "team@example.org"})], None,
         "partners.toml: partner[0].referral_contact.phone: required: a telephone number"),
        ([dict(TRUST, referral_contact={"name": "Liaison", "phone": "call me", "email": "team@example.org"})], None,
         "partners.toml: partner[0].referral_contact.phone: is not a telephone number"),
        ([dict(TRUST, referral_contact={"name": "Liaison", "phone": "01582 700200", "email": "team"})], None,
         "partners.toml: partner[0].referral_contact.email: is not an e-mail address"),
        ([dict(TRUST, referral_contact={"name": "L", "phone": "01582 700200", "email": "t@x.org", "fax": "1"})],
         None, "partners.toml: partner[0].referral_contact.fax: unknown setting"),
        ([dict(TRUST, referral_contact="the ward")], None, "partners.toml: partner[0].referral_contact: expected dict"),
    ],
)  # fmt: skip
def test_bad_configuration_is_reported_with_file_and_key(tmp_path: Path, partners, settings, message) -> None:
    write_config(tmp_path, partners=partners, settings=settings)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert message in str(caught.value)


def test_a_referral_contact_is_read_and_its_errors_never_repeat_the_value(tmp_path: Path) -> None:
    contact = {"name": "Discharge liaison team", "phone": "01582 700200", "email": "liaison@example.org"}
    write_config(tmp_path / "good", partners=[dict(TRUST, name="Example Trust", referral_contact=contact)])
    partner = load_config(tmp_path / "good").partners.get("trust-a")
    assert partner is not None and partner.referral_contact == {**contact, "organisation": "Example Trust"}
    write_config(tmp_path / "bad", partners=[dict(TRUST, referral_contact=dict(contact, email="not-an-address"))])
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "bad")
    assert "referral_contact.email" in str(caught.value) and "not-an-address" not in str(caught.value)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"name": "r", "type": "Telegram", "to": "trust-a"}, "route[0].type: 'Telegram' is not one of"),
        ({"name": "r", "type": "Referral", "to": "nobody"}, "route[0].to: no partner has id 'nobody'"),
        ({"name": "r", "type": "Referral"}, "route[0].to: required"),
        ({"name": "r", "type": "Referral", "to": "trust-a", "when": [{"field": "a", "like": 1}]},
         "route[0].when[0]: give exactly one of"),
        ({"name": "r", "type": "Referral", "to": {"code": "postcode", "field": "x"}}, "route[0].to.code"),
    ],
)  # fmt: skip
def test_bad_routes_are_reported_with_the_route(tmp_path: Path, route, message) -> None:
    write_config(tmp_path, partners=[TRUST], routes=[route])
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert message in str(caught.value)


def test_a_route_naming_a_transform_no_plugin_provides_stops_start_up(tmp_path: Path) -> None:
    from hub.runtime import build_hub

    write_config(tmp_path, partners=[TRUST], routes=[
        {"name": "r", "type": "DischargeNotice", "transform": "teleport", "to": "trust-a"}])  # fmt: skip
    with pytest.raises(ConfigError, match="transform 'teleport', which no loaded plugin registers"):
        build_hub(tmp_path)


def test_a_transform_on_the_wrong_message_type_stops_start_up(tmp_path: Path) -> None:
    from hub.runtime import build_hub

    write_config(tmp_path, partners=[TRUST], routes=[
        {"name": "r", "type": "Referral", "transform": "duty-to-refer", "to": "trust-a"}])  # fmt: skip
    with pytest.raises(ConfigError, match="takes Referral but transform 'duty-to-refer' takes DischargeNotice"):
        build_hub(tmp_path)
