"""A partner reads only what it sent or what is addressed to it; pull partners collect from their inbox."""

from __future__ import annotations

import uuid

from hub.testing.messages import housing_request


def test_sender_recipient_and_operator_can_read_a_message_but_another_partner_cannot(world) -> None:
    record = world.send("trust-a", housing_request()).json()["id"]
    url = f"{world.url}/v1/messages/{record}"
    assert world.as_("trust-a").get(url).status_code == 200
    assert world.as_("council-luton").get(url).status_code == 200
    assert world.as_("ops").get(url).status_code == 200
    for outsider in ("trust-b", "council-beds", "steps-luton"):
        response = world.as_(outsider).get(url)
        assert response.status_code == 404, outsider
        assert response.headers["content-type"] == "application/problem+json"


def test_an_unknown_id_and_a_forbidden_id_look_the_same(world) -> None:
    record = world.send("trust-a", housing_request()).json()["id"]
    hidden = world.as_("trust-b").get(f"{world.url}/v1/messages/{record}")
    missing = world.as_("trust-b").get(f"{world.url}/v1/messages/{uuid.uuid4()}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["title"] == missing.json()["title"]


def test_a_pull_partner_collects_from_its_inbox_and_acknowledges(world) -> None:
    record = world.send("trust-a", housing_request(target="E06000056")).json()["id"]
    inbox = world.as_("council-beds").get(f"{world.url}/v1/inbox").json()["items"]
    assert len(inbox) == 1 and inbox[0]["type"] == "HousingRequest"
    assert inbox[0]["body"]["payload"]["target_authority_gss"] == "E06000056"
    assert world.as_("council-luton").get(f"{world.url}/v1/inbox").json()["items"] == []

    delivery = inbox[0]["id"]
    stolen = world.as_("council-luton").post(f"{world.url}/v1/inbox/{delivery}/ack")
    assert stolen.status_code == 404
    taken = world.as_("council-beds").post(f"{world.url}/v1/inbox/{delivery}/ack")
    assert taken.status_code == 200 and taken.json()["status"] == "delivered"
    assert world.as_("council-beds").get(f"{world.url}/v1/inbox").json()["items"] == []
    assert world.view(record)["deliveries"][0]["state"] == "delivered"
    again = world.as_("council-beds").post(f"{world.url}/v1/inbox/{delivery}/ack")
    assert again.status_code == 404


def test_operators_may_read_but_not_send(world) -> None:
    response = world.send("ops", housing_request())
    assert response.status_code == 403
    assert world.db_count("messages") == 0


def test_a_recipient_sees_only_its_own_delivery_and_events(world) -> None:
    from hub.testing.messages import discharge_notice

    record = world.send("trust-a", discharge_notice()).json()["id"]
    assert world.sims["council-luton"].wait_for(lambda s: s.messages("HousingRequest"))
    derived = next(d["id"] for d in world.view(record)["derived"] if d["type"] == "HousingRequest")
    seen = world.as_("council-luton").get(f"{world.url}/v1/messages/{derived}").json()
    assert {d["partner"] for d in seen["deliveries"]} == {"council-luton"}
    assert all(e["partner"] == "council-luton" for e in seen["timeline"])
    assert world.as_("council-luton").get(f"{world.url}/v1/messages/{record}").status_code == 404
    full = world.view(record)
    assert {d["partner"] for d in full["deliveries"]} == {"council-luton", "steps-luton", "ips-luton"}


def _partner_search(world, who: str, nhs_number: str) -> list[dict]:
    response = world.as_(who).get(f"{world.url}/v1/messages", params={"nhs_number": nhs_number})
    response.raise_for_status()
    return response.json()["items"]  # type: ignore[no-any-return]


def test_a_partners_nhs_number_search_does_the_same_work_whether_or_not_the_hub_holds_the_person(world) -> None:
    """Item 2 of issue 8: the work of a partner's search never depends on other partners' messages."""
    import os
    import sqlite3

    from hub.bodies import CodecRegistry, NoKeysCodec
    from hub.crypto.blind_index import nhs_index
    from hub.crypto.keyring import FileKeyRing
    from hub.store.sqlite import FIND_FOR_PARTNER_SQL, SQLiteStore
    from hub.testing.messages import discharge_notice

    held, not_held = "9434765919", "9434765870"  # both valid; only the first is in anyone's message
    notice = discharge_notice()
    notice["payload"]["person"]["nhs_number"] = held
    world.send("trust-a", notice)
    assert world.sims["council-luton"].wait_for(lambda s: s.messages("HousingRequest"))
    assert len(_partner_search(world, "ops", held)) == 4
    assert _partner_search(world, "trust-b", held) == _partner_search(world, "trust-b", not_held) == []

    index_key = FileKeyRing.open(world.config_dir / "keys", os.environ["HUB_KEY_PASSPHRASE"]).index_key()
    store = SQLiteStore(world.config_dir / "hub.db", CodecRegistry(NoKeysCodec()))
    try:
        reader = store._reader()  # the connection find_by_index runs on: count the SQLite VM steps it takes
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        reader.set_progress_handler(count, 1)
        work = {}
        for label, number in (("held", held), ("not held", not_held)):
            steps[0] = 0
            assert store.find_by_index(nhs_index(index_key, number), "trust-b") == []
            work[label] = steps[0]
        reader.set_progress_handler(None, 1)
        assert work["held"] == work["not held"] > 0, work
    finally:
        store.close()

    # and the plan: the partner's own (partner, nhs_index) entries first, messages only by primary key
    conn = sqlite3.connect(world.config_dir / "hub.db")
    statement = FIND_FOR_PARTNER_SQL.format(marks="?, ?")  # under two index keys at once, as during a rebuild
    plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", ("trust-b", "x", "y"))]
    conn.close()
    assert plan[0].startswith("SEARCH i USING PRIMARY KEY (partner=? AND nhs_index=?)"), plan
    assert any(p.startswith("SEARCH m USING INDEX sqlite_autoindex_messages_1 (id=?)") for p in plan), plan
    assert not any(p.startswith("SCAN") for p in plan), plan


def test_a_partner_finds_by_nhs_number_only_what_its_own_copy_carried(make_world, hostel_agreement) -> None:
    """Item 3 of issue 8: minimisation cannot be bypassed through the NHS-number search."""
    from hub.testing.messages import discharge_notice

    world = make_world(agreements={"steps-luton": hostel_agreement})
    number = "9434765919"
    notice = discharge_notice()
    notice["payload"]["person"]["nhs_number"] = number
    record = world.send("trust-a", notice).json()["id"]
    assert world.sims["steps-luton"].wait_for(lambda s: s.messages("Referral"))
    referral = next(d["id"] for d in world.view(record)["derived"] if d["type"] == "Referral")
    # the hostel holds the Referral and may read its state, but its copy had no NHS number
    assert world.as_("steps-luton").get(f"{world.url}/v1/messages/{referral}").status_code == 200
    assert "nhs_number" not in world.sims["steps-luton"].messages("Referral")[0]["payload"]["person"]
    assert _partner_search(world, "steps-luton", number) == []
    assert [f["type"] for f in _partner_search(world, "council-luton", number)] == ["HousingRequest"]
    assert [f["type"] for f in _partner_search(world, "ips-luton", number)] == ["IPSReferral"]
    sender_sees = {f["type"] for f in _partner_search(world, "trust-a", number)}
    assert sender_sees == {"DischargeNotice", "HousingRequest", "Referral", "IPSReferral"}
    assert {f["type"] for f in _partner_search(world, "ops", number)} == sender_sees


def test_partners_see_outcome_categories_and_operators_the_error_text(make_world) -> None:
    """Item 6 of issue 8: a sender is not shown another partner's hosts, ports or addresses."""
    import json
    from urllib.parse import urlparse

    from hub.testing import run_hub_cli, wait_until
    from hub.testing.messages import discharge_notice

    world = make_world({"retry": {"max_attempts": 1000}})
    council = world.sims["council-luton"]
    where = f"127.0.0.1:{urlparse(council.url).port}"
    world.sims.pop("council-luton").stop()  # connection refused: the transport's error names the council's address
    world.sims["steps-luton"].fail_next(1, status=400)  # the hostel refuses it: no retry can help
    record = world.send("trust-a", discharge_notice()).json()["id"]

    def outcomes(view: dict) -> dict[str, str]:
        return {d["partner"]: d["outcome"] for d in view["deliveries"]}

    expected = {"council-luton": "partner_unavailable", "steps-luton": "refused_by_partner", "ips-luton": "delivered"}
    assert wait_until(lambda: outcomes(world.view(record)) == expected), outcomes(world.view(record))
    full = world.view(record)
    errors = {d["partner"]: d["last_error"] for d in full["deliveries"]}
    assert where in errors["council-luton"] and "answered HTTP 400" in errors["steps-luton"]
    assert errors["ips-luton"] is None
    shown = json.loads(run_hub_cli(world.config_dir, "messages", "show", record).stdout)
    assert where in next(d["last_error"] for d in shown["deliveries"] if d["partner"] == "council-luton")

    sender = world.view(record, "trust-a")
    assert outcomes(sender) == expected
    assert where not in json.dumps(sender) and "HTTP 400" not in json.dumps(sender)
    assert all("last_error" not in d for d in sender["deliveries"])
    retries = [e for e in sender["timeline"] if e["event"] == "retry_scheduled"]
    assert retries and all(e["detail"]["failure"] == "partner_unavailable" for e in retries)
    assert all("error" not in e.get("detail", {}) for e in sender["timeline"])
    dead = next(e for e in sender["timeline"] if e["event"] == "dead_lettered")
    assert dead["partner"] == "steps-luton" and dead["detail"]["failure"] == "refused_by_partner"

    housing = next(d["message"] for d in full["deliveries"] if d["partner"] == "council-luton")
    recipient = world.view(housing, "council-luton")
    assert outcomes(recipient) == {"council-luton": "partner_unavailable"}
    assert where not in json.dumps(recipient)
