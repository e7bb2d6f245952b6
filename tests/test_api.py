"""The rest of the HTTP API: batch intake, health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import json
import time

import requests

from hub.testing.messages import housing_request
from hub.testing.metrics_text import parse_samples, sample


def test_a_batch_accepts_good_lines_and_reports_each_bad_one(world) -> None:
    good = [housing_request() for _ in range(3)]
    bad = housing_request()
    bad["payload"]["target_authority_gss"] = "E10000015"
    lines = [json.dumps(good[0]), json.dumps(good[1]), "{oops", json.dumps(bad), json.dumps(good[2]), ""]
    response = world.as_("trust-a").post(f"{world.url}/v1/messages:batch", data="\n".join(lines).encode(),
                                         headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 3 and body["rejected"] == 2
    statuses = {r["line"]: r["status"] for r in body["results"]}
    assert statuses == {1: 202, 2: 202, 3: 400, 4: 422, 5: 202}
    assert body["results"][3]["errors"][0]["location"] == "$.payload.target_authority_gss"
    assert world.db_count("messages") == 3
    assert world.sims["council-luton"].wait_for(lambda s: len(s.messages("HousingRequest")) == 3)


def test_health_readiness_and_openapi_answer(world) -> None:
    assert requests.get(f"{world.url}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{world.url}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    spec = requests.get(f"{world.url}/openapi.json", timeout=5).json()
    for path in ("/v1/messages", "/v1/messages:batch", "/v1/messages/{message_id}", "/v1/inbox",
                 "/v1/inbox/{delivery_id}/ack", "/healthz", "/readyz", "/metrics"):  # fmt: skip
        assert path in spec["paths"], path
    content = spec["paths"]["/v1/messages"]["post"]["requestBody"]["content"]
    assert "application/json" in content and "application/fhir+json" in content
    assert requests.get(f"{world.url}/docs", timeout=5).status_code == 200


def test_metrics_count_what_happened_without_personal_data(world) -> None:
    message = housing_request()
    world.send("trust-a", message)
    expected = [
        ("hub_messages_accepted_total", {"type": "HousingRequest"}),
        ("hub_deliveries_total", {"partner": "council-luton", "result": "delivered"}),
        ("hub_submit_to_delivery_seconds_count", {"partner": "council-luton"}),
        ("hub_deliveries", {"state": "delivered"}),
    ]
    deadline = time.monotonic() + 10
    text = ""
    found = {}
    while time.monotonic() < deadline:
        text = world.as_("ops").get(f"{world.url}/metrics", timeout=5).text
        found = parse_samples(text)
        if all(sample(found, name, **labels) == 1 for name, labels in expected):
            break
        time.sleep(0.05)
    for name, labels in expected:
        assert sample(found, name, **labels) == 1, (name, labels, text)
    assert requests.get(f"{world.url}/metrics", timeout=5).status_code == 401
    assert world.as_("trust-a").get(f"{world.url}/metrics", timeout=5).status_code == 403
    person = message["payload"]["person"]
    for secret in (person["nhs_number"], person["family_name"]):
        assert secret not in text
