"""The directory in a running hub: the scheduled refresh, ``hub directory list|show`` and the capacity API.

A real hub (``hub serve``) with two hostels and an operator; a real feed on loopback; the refresh listener
imports it at start-up, and the providers record capacity over HTTP, each for its own services only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hostels_feed import Feed, FeedServer, oruk_fixtures, synthetic_service

from hub.testing.world import HubWorld, Partner


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = FeedServer(Feed(count=3, make=lambda i: synthetic_service(i, available=2)))
    yield server
    server.close()


@pytest.fixture
def world(feed: FeedServer, hub_world_factory: Callable[..., HubWorld]) -> HubWorld:
    partners = [Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}), Partner("hostel-a", "hostel"),
                Partner("hostel-b", "hostel")]  # fmt: skip
    settings = {
        "plugins": {"hostels": {"needs_from_terms": {"mental health": "mental_health"}, "service": [
            {"id": "svc-000000", "partner": "hostel-a", "unit": "bed", "maximum": 10, "areas": ["LU1"],
             "needs": ["mental_health"]},
            {"id": "svc-000001", "partner": "hostel-b"},
        ]}},
        "listeners": {"directory-refresh": {"feeds": [feed.url], "every_minutes": 600}},
    }  # fmt: skip
    return hub_world_factory(partners, routes=[], settings=settings)


def _listed(world: HubWorld) -> list[dict[str, object]]:
    result = world.cli("directory", "list", "--json", "--all")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_refresh_list_show_and_capacity_from_providers(world: HubWorld, feed: FeedServer) -> None:
    deadline = time.monotonic() + 30
    while len(listed := _listed(world)) < 3:
        assert time.monotonic() < deadline, "the scheduled refresh did not import the feed"
        time.sleep(0.3)
    assert {s["id"] for s in listed} == {"svc-000000", "svc-000001", "svc-000002"}
    first = next(s for s in listed if s["id"] == "svc-000000")
    assert first["capacities"][0]["source"] == "feed" and first["capacities"][0]["available"] == 2  # type: ignore[index]

    again = world.cli("directory", "import", feed.url)  # by hand, as an operator would: nothing changed
    assert again.returncode == 0, again.stderr
    assert "3 listed; 0 added, 0 changed, 3 unchanged, 0 withdrawn" in again.stdout
    saved = world.cli("directory", "import", str(oruk_fixtures() / "uk-profile-3.0" / "service_full.json"))
    assert saved.returncode == 0, saved.stderr
    assert "1 listed; 1 added" in saved.stdout and "nothing was withdrawn" in saved.stdout
    broken = world.cli("directory", "import", str(oruk_fixtures() / "README.md"))
    assert broken.returncode == 2 and "not JSON" in broken.stderr

    table = world.cli("directory", "list")
    assert table.returncode == 0 and "4 services (0 withdrawn)" in table.stdout
    assert "complete" in table.stdout and "hostel-a" in table.stdout

    person = ("directory", "match", "--age", "30", "--need", "mental_health", "--postcode", "LU1 1AA")
    before = world.cli(*person)
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines()[:2] == ["1. svc-000000  partner hostel-a  available 2",
                                              "2. svc-000001  partner hostel-b  available 2"]  # fmt: skip

    put = world.as_("hostel-a").put(f"{world.url}/plugins/hostels/services/svc-000000/capacity", timeout=10,
                                    json={"unit": {"name": "bed"}, "available": 0, "maximum": 10})  # fmt: skip
    assert put.status_code == 200, put.text
    [figure] = put.json()["capacities"]
    assert figure["source"] == "partner:hostel-a" and figure["available"] == 0 and figure["age_seconds"] < 60

    after = world.cli(*person)  # hostel-a is full now: only hostel-b's service, and why not hostel-a's
    assert after.stdout.splitlines() == ["1. svc-000001  partner hostel-b  available 2",
                                         "   not svc-000000: no place is available"]  # fmt: skip
    too_young = world.cli("directory", "match", "--age", "16", "--postcode", "LU1 1AA")
    assert "No linked service may take this person now." in too_young.stdout
    assert "the person's age is outside the service's range" in too_young.stdout  # the feed's 18-65

    shown = world.cli("directory", "show", "svc-000000")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["capacities"][0]["source"] == "partner:hostel-a"
    assert document["link"]["partner"] == "hostel-a" and document["link"]["areas"] == ["LU1"]
    assert world.cli("directory", "show", "nope").returncode == 1


def test_a_provider_sees_and_updates_only_its_own_services(world: HubWorld) -> None:
    url = f"{world.url}/plugins/hostels/services"
    other = world.as_("hostel-a").put(f"{url}/svc-000001/capacity", json={"available": 1}, timeout=10)
    unknown = world.as_("hostel-a").put(f"{url}/svc-999999/capacity", json={"available": 1}, timeout=10)
    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"] == unknown.json()["detail"]  # nothing tells another's service from none
    assert world.as_("hostel-a").get(f"{url}/svc-000001", timeout=10).status_code == 404
    mine = world.as_("hostel-a").get(url, timeout=10).json()["services"]
    assert [s["id"] for s in mine] == ["svc-000000"]
    assert len(world.as_("ops").get(url, timeout=10).json()["services"]) == 2  # an operator sees every link
    assert world.as_("ops").put(f"{url}/svc-000000/capacity", json={"available": 1}, timeout=10).status_code == 403
    assert requests_without_token(f"{url}/svc-000000/capacity") == 401


def requests_without_token(url: str) -> int:
    import requests

    return requests.put(url, json={"available": 1}, timeout=10).status_code


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({}, "/available"),
    ({"available": -1}, "/available"),
    ({"available": "3"}, "/available"),
    ({"available": 11}, "/available"),  # above the link's maximum (10)
    ({"available": 3, "maximum": 2}, "/available"),
    ({"available": 3, "unit": {"name": "room"}}, "/unit/name"),  # counted in beds
    ({"available": 3, "updated": "yesterday"}, "/updated"),
    ({"available": 3, "colour": "red"}, "/colour"),
]


def test_bad_capacity_is_refused_naming_the_field_and_changes_nothing(world: HubWorld) -> None:
    url = f"{world.url}/plugins/hostels/services/svc-000000"
    ok = world.as_("hostel-a").put(f"{url}/capacity", json={"available": 5, "unit": "bed"}, timeout=10)
    assert ok.status_code == 200, ok.text
    before = figures(world, url)
    for body, location in BAD_BODIES:
        answer = world.as_("hostel-a").put(f"{url}/capacity", json=body, timeout=10)
        assert answer.status_code == 422, (body, answer.text)
        assert location in [e["location"] for e in answer.json()["errors"]], body
    assert figures(world, url) == before


def figures(world: HubWorld, url: str) -> list[dict[str, object]]:
    """The service's capacity figures without their age (which moves on by itself)."""
    capacities = world.as_("hostel-a").get(url, timeout=10).json()["capacities"]
    return [{k: v for k, v in c.items() if k not in ("age_seconds", "freshness")} for c in capacities]


def test_each_refusal_is_a_problem_the_openapi_document_declares(world: HubWorld) -> None:
    """Every error a hostels route answers is in its operation's ``responses``, as a problem document."""
    paths = world.as_("ops").get(f"{world.url}/openapi.json", timeout=10).json()["paths"]
    base = f"{world.url}/plugins/hostels"
    capacity = f"{base}/services/svc-000000/capacity"
    not_utf8 = b'{"answer": "\xff"}'  # the framework cannot decode it: 400, before any JSON is read
    cases = [  # (who, method, path template, url, body, expected status); who None: no token
        (None, "get", "/services", f"{base}/services", None, 401),
        ("hostel-a", "get", "/services/{service_id}", f"{base}/services/svc-000001", None, 404),
        ("ops", "put", "/services/{service_id}/capacity", capacity, {"available": 1}, 403),
        ("hostel-a", "put", "/services/{service_id}/capacity", capacity, [1], 422),
        ("hostel-a", "put", "/services/{service_id}/capacity", capacity, not_utf8, 400),
        ("hostel-a", "get", "/queue", f"{base}/queue", None, 403),
        ("hostel-a", "post", "/queue/{record_id}/allocate", f"{base}/queue/r-1/allocate", {"service_id": "x"}, 403),
        ("ops", "post", "/queue/{record_id}/allocate", f"{base}/queue/r-1/allocate", {"service_id": "x"}, 422),
        ("trust-a", "post", "/referrals/{record_id}/match", f"{base}/referrals/r-1/match", None, 404),
        ("trust-a", "get", "/referrals/{record_id}", f"{base}/referrals/r-1", None, 404),
        ("hostel-a", "post", "/offers/{offer_id}/answer", f"{base}/offers/o-1/answer", {"answer": "accept"}, 404),
        ("hostel-a", "post", "/offers/{offer_id}/answer", f"{base}/offers/o-1/answer", {"nonsense": 1}, 422),
        ("hostel-a", "post", "/offers/{offer_id}/answer", f"{base}/offers/o-1/answer", not_utf8, 400),
        ("hostel-a", "post", "/offers/{offer_id}/arrived", f"{base}/offers/o-1/arrived", None, 404),
        ("hostel-a", "post", "/offers/{offer_id}/withdraw", f"{base}/offers/o-1/withdraw", None, 404),
    ]  # fmt: skip
    for who, method, template, url, body, expected in cases:
        session = world.as_(who) if who else requests.Session()
        if isinstance(body, bytes):
            answer = session.request(method.upper(), url, data=body, headers={"Content-Type": "application/json"},
                                     timeout=10)  # fmt: skip
        else:
            answer = session.request(method.upper(), url, json=body, timeout=10)
        where = (who, method, template, body)
        assert answer.status_code == expected, (where, answer.text)
        assert answer.headers["content-type"] == "application/problem+json", where
        assert answer.json()["status"] == expected, where
        declared = paths[f"/plugins/hostels{template}"][method]["responses"]
        assert str(expected) in declared, where
        assert set(declared[str(expected)]["content"]) == {"application/problem+json"}, where
    for template, operations in paths.items():
        if template.startswith("/plugins/hostels/"):
            for method, operation in operations.items():
                assert {"401", "500", "503"} <= set(operation["responses"]), (method, template)
