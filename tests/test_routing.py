"""Route conditions, the retry schedule, and routing with a plugin's own vocabulary, checked without a server."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest

from hub import (
    CodeField,
    DestinationResolver,
    InvalidMessage,
    MessageType,
    PartnerKind,
    ResolveContext,
    RouteSetup,
    Unresolved,
    hookimpl,
)
from hub.config import RetryPolicy, load_config
from hub.plugin_api.problems import ConfigError
from hub.plugins import load_plugins
from hub.retry import next_delay, should_dead_letter
from hub.routes import Condition
from hub.runtime import build_hub
from hub.testing import write_config

MESSAGE = {"type": "DischargeNotice", "payload": {"housing": {"situation": "no_fixed_abode"}, "n": 3}}


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (Condition("payload.housing.situation", "equals", "no_fixed_abode"), True),
        (Condition("payload.housing.situation", "not_equals", "housed"), True),
        (Condition("payload.housing.situation", "in", ["no_fixed_abode", "threatened_within_56_days"]), True),
        (Condition("payload.housing.situation", "not_in", ["no_fixed_abode"]), False),
        (Condition("payload.housing", "exists", True), True),
        (Condition("payload.employment", "exists", True), False),
        (Condition("payload.employment", "exists", False), True),
        (Condition("payload.employment.wants_work", "equals", True), False),
        (Condition("payload.employment.wants_work", "not_equals", True), True),
    ],
)
def test_conditions(condition: Condition, holds: bool) -> None:
    assert condition.holds(MESSAGE) is holds


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(initial_seconds=1, multiplier=2, max_delay_seconds=30, jitter=0.5, max_attempts=10)
    rng = random.Random(7)
    for attempt, base in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 30), (9, 30)]:
        delays = [next_delay(policy, attempt, rng) for _ in range(200)]
        assert all(base * 0.5 <= d <= base for d in delays)
        assert max(delays) - min(delays) > base * 0.3  # jitter spreads retries out


def test_dead_letter_after_the_last_attempt_or_an_unretryable_failure() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert not should_dead_letter(policy, 2, retryable=True)
    assert should_dead_letter(policy, 3, retryable=True)
    assert should_dead_letter(policy, 1, retryable=False)


class FoodBanks:
    """A third party's plugin: a message type with its schema, a partner kind, a code and a destination resolver."""

    @hookimpl
    def hub_register_message_types(self, register) -> None:
        register(MessageType("FoodParcelRequest", {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://example.org/schemas/food-parcel-request.schema.json",
            "$ref": "https://hub.invalid/schemas/canonical/v1/envelope.schema.json",
            "properties": {
                "type": {"const": "FoodParcelRequest"},
                "payload": {"type": "object", "required": ["charity_number", "district"], "additionalProperties": False,
                            "properties": {"charity_number": {"type": "string", "pattern": "^[0-9]{7}$"},
                                           "district": {"type": "string", "maxLength": 8}}},
            },
            "unevaluatedProperties": False,
        }))  # fmt: skip

    @hookimpl
    def hub_register_partner_kinds(self, register) -> None:
        register(PartnerKind("food_bank"))

    @hookimpl
    def hub_register_code_fields(self, register) -> None:
        register(CodeField("charity_number"))

    @hookimpl
    def hub_register_destinations(self, register) -> None:
        def check(options, setup: RouteSetup) -> None:
            if set(options) != {"field", "partners"} or not isinstance(options["partners"], dict):
                raise ValueError("give 'field' and 'partners' (a table from district to partner id)")
            for partner_id in options["partners"].values():
                if setup.partners.get(partner_id) is None:
                    raise ValueError("partners", f"{partner_id!r} is not a partner")

        def resolve(message, options, context: ResolveContext) -> str:
            district = message["payload"].get(options["field"].removeprefix("payload."))
            if district not in options["partners"]:
                raise Unresolved(f"no food bank covers the district in {options['field']}")
            partner: str = options["partners"][district]
            return partner

        register(DestinationResolver("district", resolve, check, lambda options: "the district's food bank"))


FOOD_PARTNERS = [
    {"id": "trust-a", "kind": "nhs_trust", "ods_code": "RWK", "receive": {"mode": "pull"}},
    {"id": "foodbank-luton", "kind": "food_bank", "charity_number": "1234567", "receive": {"mode": "pull"}},
    {"id": "foodbank-dunstable", "kind": "food_bank", "charity_number": "7654321", "receive": {"mode": "pull"}},
]
FOOD_ROUTES = [
    {"name": "by-number", "type": "FoodParcelRequest",
     "to": {"code": "charity_number", "field": "payload.charity_number"}},
    {"name": "by-district", "type": "FoodParcelRequest",
     "to": {"kind": "district", "field": "payload.district", "partners": {"LU6": "foodbank-dunstable"}}},
]  # fmt: skip


def parcel_request(sender: dict[str, str], district: str) -> dict[str, object]:
    return {
        "message_id": str(uuid.uuid4()), "type": "FoodParcelRequest", "schema_version": "1",
        "created_at": "2025-05-01T09:00:00Z", "sender": sender,
        "payload": {"charity_number": "1234567", "district": district},
    }  # fmt: skip


def test_a_plugins_type_kind_code_and_destination_are_used_end_to_end_by_routing(tmp_path: Path) -> None:
    config_dir = write_config(tmp_path / "config", partners=FOOD_PARTNERS, routes=FOOD_ROUTES)
    with pytest.raises(ConfigError, match="'food_bank' is not one of"):
        load_config(config_dir)  # without the plugin, the names mean nothing
    hub = build_hub(config_dir, plugins=load_plugins(env={}, extra_plugins=[FoodBanks()]))
    try:
        accepted = hub.intake.submit_now(parcel_request({"org_id": "trust-a"}, "LU6"), sender_id="trust-a")
        view = hub.store.message_view(accepted.id)
        assert view is not None
        assert {(d["partner"], d["route"]) for d in view["deliveries"]} == {
            ("foodbank-luton", "by-number"), ("foodbank-dunstable", "by-district")}  # fmt: skip

        elsewhere = hub.intake.submit_now(parcel_request({"org_id": "trust-a"}, "ZZ9"), sender_id="trust-a")
        assert elsewhere.notes == ["route by-district: not sent: no food bank covers the district in payload.district"]

        # the new code is the food bank's own in a message's sender, and nobody else's
        own = {"org_id": "foodbank-luton", "charity_number": "1234567"}
        hub.intake.submit_now(parcel_request(own, "LU6"), sender_id="foodbank-luton")
        with pytest.raises(InvalidMessage) as caught:
            hub.intake.submit_now(
                parcel_request({**own, "charity_number": "7654321"}, "LU6"), sender_id="foodbank-luton"
            )
        assert [p.location for p in caught.value.problems] == ["$.sender.charity_number"]
        with pytest.raises(InvalidMessage) as caught:
            hub.intake.submit_now(parcel_request({**own, "parish_code": "X1"}, "LU6"), sender_id="foodbank-luton")
        assert [p.location for p in caught.value.problems] == ["$.sender.<name>"]
    finally:
        hub.close()


def test_a_plugins_destination_checks_its_options_when_the_routes_load(tmp_path: Path) -> None:
    routes = [dict(FOOD_ROUTES[1], to={"kind": "district", "field": "payload.district", "partners": {"LU6": "nobody"}})]
    config_dir = write_config(tmp_path / "config", partners=FOOD_PARTNERS, routes=routes)
    vocabulary = load_plugins(env={}, extra_plugins=[FoodBanks()]).vocabulary
    with pytest.raises(ConfigError, match=r"route\[0\]\.to\.partners: 'nobody' is not a partner"):
        load_config(config_dir, vocabulary)
    write_config(config_dir, partners=FOOD_PARTNERS, routes=[dict(FOOD_ROUTES[1], to={"kind": "teleport"})])
    with pytest.raises(ConfigError, match="no loaded plugin resolves destinations of kind 'teleport'"):
        load_config(config_dir, vocabulary)


# -- order where it matters ------------------------------------------------------------------------
ORDER_PARTNERS = [
    {"id": "trust-a", "kind": "nhs_trust", "ods_code": "RWK", "receive": {"mode": "pull"}},
    {"id": "council-luton", "kind": "council", "gss_code": "E06000032",
     "receive": {"mode": "push", "transport": "http", "url": "http://127.0.0.1:9/inbound"}},
]  # fmt: skip
HOUSING_ROUTE = {"name": "housing-request", "type": "HousingRequest",
                 "to": {"code": "gss_code", "field": "payload.target_authority_gss"}}  # fmt: skip


def about(correlation_id: str | None) -> dict[str, object]:
    """A HousingRequest from trust-a to council-luton about the episode ``correlation_id`` (None: no correlation)."""
    from hub.testing.messages import housing_request

    message = housing_request()
    message.pop("correlation_id", None)
    return message if correlation_id is None else {**message, "correlation_id": correlation_id}


@pytest.mark.parametrize(
    ("route_order", "claimed"),
    [({}, ["anne-1", "bob-1"]), ({"order": "correlation"}, ["anne-1", "bob-1"]),
     ({"order": "none"}, ["anne-1", "anne-2", "bob-1"])],
)  # fmt: skip
def test_a_routes_order_decides_whether_one_persons_messages_to_a_partner_wait_for_each_other(
    tmp_path: Path, route_order: dict[str, str], claimed: list[str]
) -> None:
    import asyncio
    import time

    config_dir = write_config(tmp_path / "config", partners=ORDER_PARTNERS, routes=[{**HOUSING_ROUTE, **route_order}])
    hub = build_hub(config_dir)
    try:
        names = {}
        for name, episode in (("anne-1", "episode-anne"), ("anne-2", "episode-anne"), ("bob-1", "episode-bob")):
            message = about(episode)
            hub.intake.submit_now(message, sender_id="trust-a")
            names[message["message_id"]] = name
        jobs = asyncio.run(hub.store.claim(10, time.time() + 1, 30.0))
        assert sorted(names[j.message_id] for j in jobs) == claimed
    finally:
        hub.close()


def test_messages_without_a_correlation_id_are_not_ordered(tmp_path: Path) -> None:
    import asyncio
    import time

    config_dir = write_config(tmp_path / "config", partners=ORDER_PARTNERS, routes=[HOUSING_ROUTE])
    hub = build_hub(config_dir)
    try:
        for _ in range(3):
            hub.intake.submit_now(about(None), sender_id="trust-a")
        assert len(asyncio.run(hub.store.claim(10, time.time() + 1, 30.0))) == 3
    finally:
        hub.close()


def test_the_order_key_is_a_digest_of_partner_and_correlation_never_the_ids_in_clear(tmp_path: Path) -> None:
    import re

    from hub.router import order_key

    config_dir = write_config(tmp_path / "config", partners=ORDER_PARTNERS, routes=[HOUSING_ROUTE])
    hub = build_hub(config_dir)
    try:
        message = about("episode-anne")
        [delivery] = hub.intake.router.plan(message, sender="trust-a", body=b"{}").intake.deliveries
        assert delivery.order_key == order_key("council-luton", "episode-anne")
        assert re.fullmatch("[0-9a-f]{32}", delivery.order_key)
        assert order_key("council-luton", "episode-anne") != order_key("council-beds", "episode-anne")
        assert order_key("council-luton", "episode-anne") != order_key("council-luton", "episode-bob")
    finally:
        hub.close()


def test_an_unknown_order_is_a_configuration_error_naming_the_route(tmp_path: Path) -> None:
    config_dir = write_config(tmp_path / "config", partners=ORDER_PARTNERS, routes=[{**HOUSING_ROUTE, "order": "fifo"}])
    with pytest.raises(ConfigError, match=r"routes\.toml: route\[0\]\.order: must be 'correlation' .* got 'fifo'"):
        load_config(config_dir)
