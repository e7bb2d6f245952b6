"""Bad input gets the right status and a problem+json listing every problem, and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from hub.testing.messages import housing_request


def post(world, body: bytes, content_type: str = "application/json", token: str | None = "trust-a",
         **headers: str) -> requests.Response:  # fmt: skip
    if token is not None:
        headers["Authorization"] = f"Bearer {world.tokens.get(token, token)}"
    headers["Content-Type"] = content_type
    return requests.post(f"{world.url}/v1/messages", data=body, headers=headers, timeout=10)


def invalid_request() -> bytes:
    message = housing_request()
    message["payload"]["person"]["nhs_number"] = "9434765918"  # wrong check digit
    message["payload"]["target_authority_gss"] = "E10000015"  # a county
    message["consent"]["share_contact"] = False
    del message["payload"]["referrer"]
    message["colour"] = "blue"
    return json.dumps(message).encode()


CASES: dict[str, tuple[Callable[[], bytes], dict[str, Any], int]] = {
    "unparseable JSON": (lambda: b'{"type": "HousingRequest",', {}, 400),
    "schema violations": (invalid_request, {}, 422),
    "unknown type": (lambda: json.dumps(dict(housing_request(), type="Telegram")).encode(), {}, 422),
    "not an object": (lambda: b"[1, 2, 3]", {}, 400),
    "oversized body": (lambda: b'{"pad": "' + b"x" * 70_000 + b'"}', {}, 413),
    "no token": (lambda: json.dumps(housing_request()).encode(), {"token": None}, 401),
    "wrong token": (lambda: json.dumps(housing_request()).encode(), {"token": "hub_not-a-real-token"}, 401),
    "unsupported content type": (lambda: b"a,b\n1,2\n", {"content_type": "text/csv"}, 415),
    "a media type no adapter reads": (lambda: b"%PDF-1.7", {"content_type": "application/pdf"}, 415),
    "no content type at all": (lambda: b"{}", {"content_type": ""}, 415),
    "sender is someone else": (lambda: json.dumps(housing_request(sender="trust-b")).encode(), {}, 422),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_with_problem_details_and_nothing_is_stored(world, case: str) -> None:
    make_body, options, status = CASES[case]
    response = post(world, make_body(), **options)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert world.db_count("messages") == 0
    assert world.db_count("deliveries") == 0


def test_every_schema_and_rule_problem_is_listed_with_its_location(world) -> None:
    problem = post(world, invalid_request()).json()
    by_location = {e["location"]: e["detail"] for e in problem["errors"]}
    assert "Modulus 11" in by_location["$.payload.person.nhs_number"]
    assert "county (E10)" in by_location["$.payload.target_authority_gss"]
    assert "Homelessness Reduction Act 2017" in by_location["$.consent.share_contact"]
    assert "referrer" in by_location["$.payload"]
    assert "colour" in by_location["$"]
    assert "9434765918" not in json.dumps(problem), "problems must not echo personal data"


def test_an_unparseable_body_says_where(world) -> None:
    problem = post(world, b'{\n  "type": "HousingRequest",\n  oops\n}').json()
    assert problem["errors"][0]["location"].startswith("line 3")


def test_a_chunked_body_over_the_limit_is_refused_before_it_is_stored(world) -> None:
    def chunks():
        for _ in range(20):
            yield b"x" * 8192

    response = requests.post(f"{world.url}/v1/messages", data=chunks(), timeout=10,
                             headers={"Authorization": f"Bearer {world.tokens['trust-a']}",
                                      "Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert world.db_count("messages") == 0


def test_control_characters_are_refused_at_intake_with_their_field_path(world) -> None:
    for text in ("Smi\x00th", "Smi\x1bth", "Smi\x7fth", "Smi\nth", "Smi\tth"):
        message = housing_request()
        message["payload"]["person"]["family_name"] = text
        response = post(world, json.dumps(message).encode())
        assert response.status_code == 422, (repr(text), response.text)
        (error,) = response.json()["errors"]
        assert error["location"] == "$.payload.person.family_name", repr(text)
        assert "Smi" not in response.text
    assert world.db_count("messages") == 0


def test_line_breaks_and_tabs_are_accepted_in_free_text_and_delivered(world) -> None:
    message = housing_request()
    message["payload"]["housing_situation"] = "Sleeping rough\nsince March;\tno local connection\r\n"
    message["payload"]["person"]["family_name"] = "Smith"
    response = post(world, json.dumps(message).encode())
    assert response.status_code == 202, response.text
    council = world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    delivered = council.messages("HousingRequest")[0]
    assert delivered["payload"]["housing_situation"] == message["payload"]["housing_situation"]


def test_a_body_that_is_not_utf8_is_refused_with_its_byte_offset(world) -> None:
    body = json.dumps(housing_request(), ensure_ascii=False).encode("utf-8")
    at = body.index(b'"family_name": "') + len(b'"family_name": "')
    broken = body[:at] + b"\xe9" + body[at:]  # a Latin-1 e-acute where UTF-8 was promised
    response = post(world, broken)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["location"] == f"byte {at}"
    assert world.db_count("messages") == 0


def test_a_repeated_member_name_is_refused_with_its_path_so_no_two_readers_disagree(world) -> None:
    message = housing_request()
    body = json.dumps(message).encode()
    first = f'"nhs_number": "{message["payload"]["person"]["nhs_number"]}"'.encode()
    assert body.count(first) == 1
    twice = body.replace(first, first + b', "nhs_number": "9990000018"')  # another valid number, read by "last wins"
    response = post(world, twice)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["location"] == "$.payload.person.nhs_number"
    batch = requests.post(f"{world.url}/v1/messages:batch", data=json.dumps(housing_request()).encode() + b"\n" + twice,
                          headers={"Authorization": f"Bearer {world.tokens['trust-a']}",
                                   "Content-Type": "application/x-ndjson"}, timeout=10)  # fmt: skip
    results = batch.json()["results"]
    assert [r["status"] for r in results] == [202, 400]
    assert results[1]["errors"][0]["location"] == "$.payload.person.nhs_number"
    assert world.db_count("messages") == 1


def test_refusals_do_not_echo_the_type_or_sender_that_was_sent(world) -> None:
    unknown = post(world, json.dumps(dict(housing_request(), type="Telegram-Quennevilleworth")).encode())
    assert unknown.status_code == 422 and "Quennevilleworth" not in unknown.text
    assert unknown.json()["errors"][0]["location"] == "$.type"
    impostor = housing_request()
    impostor["sender"]["org_id"] = "trust-quennevilleworth"
    response = post(world, json.dumps(impostor).encode())
    assert response.status_code == 422 and "quennevilleworth" not in response.text
