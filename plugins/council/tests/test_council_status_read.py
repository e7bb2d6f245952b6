"""A referral's current Duty to Refer status (the council's latest status time wins), over the CLI, API and /metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from council_helpers import json_status, status_xml
from hub_council.status_stats import referral_statuses, status_stats
from test_council_appointments import referral_to_bristol, referral_to_luton

from hub import ReplyTime, StatusReply
from hub.testing.metrics_text import parse_samples, sample


def soon(seconds: int) -> str:
    """The council's status time: ``seconds`` from now (within the five minutes' skew the hub allows)."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds").replace("+00:00", "Z")


def hub_cli(world, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "hub", "council-stats", *args, "--config", str(world.config_dir)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out


def test_statuses_in_any_order_with_a_correction_keep_their_history_and_the_latest_is_current(council_world) -> None:
    referral = referral_to_luton(council_world)
    sent = [("relief_duty", 120), ("received", 10), ("contact_made", 60), ("prevention_duty", 90)]
    for status, offset in sent:  # the decision arrives first; a slow system posts "received" after it
        message = json_status("council-luton", "E06000032", referral, status, soon(offset))
        assert council_world.post("council-luton", message).status_code == 202
    view = council_world.get("trust-a", f"/plugins/council/referrals/{referral}/status")
    assert view.status_code == 200, view.text
    [found] = view.json()["referrals"]
    assert (found["council"], found["referrer"]) == ("council-luton", "trust-a")
    assert [h["status"] for h in found["history"]] == ["received", "contact_made", "prevention_duty", "relief_duty"]
    assert found["current"]["status"] == "relief_duty"
    # a correction: the council decided prevention, not relief, and says so with a later time
    correction = json_status("council-luton", "E06000032", referral, "prevention_duty", soon(150))
    assert council_world.post("council-luton", correction).status_code == 202
    [found] = council_world.get("council-luton", f"/plugins/council/referrals/{referral}/status").json()["referrals"]
    assert found["current"]["status"] == "prevention_duty" and len(found["history"]) == 5
    # the ward received each one, in the order sent, each with its own time to order by
    trust = council_world.sims["trust-a"]
    assert trust.wait_for(lambda s: len(s.messages("HousingStatus")) == 5)


def test_only_the_referrer_the_council_and_operators_see_a_referral_s_status(council_world) -> None:
    referral = referral_to_luton(council_world)
    message = json_status("council-luton", "E06000032", referral, "received", soon(0))
    assert council_world.post("council-luton", message).status_code == 202
    path = f"/plugins/council/referrals/{referral}/status"
    for who in ("trust-a", "council-luton", "ops"):
        assert council_world.get(who, path).status_code == 200, who
    assert council_world.get("council-bristol", path).status_code == 404  # another council
    assert council_world.get("trust-a", "/plugins/council/referrals/no-such-referral/status").status_code == 404
    assert council_world.get("trust-a", "/plugins/council/stats").status_code == 403  # operators only


def test_council_stats_count_current_statuses_and_time_each_status_from_delivery(council_world) -> None:
    luton = [referral_to_luton(council_world)]
    bristol = referral_to_bristol(council_world)
    for status, offset in (("received", 60), ("relief_duty", 120)):
        assert council_world.post("council-luton", json_status("council-luton", "E06000032", luton[0], status,
                                                               soon(offset))).status_code == 202  # fmt: skip
    body = status_xml(bristol, "not_eligible", soon(30))
    assert council_world.post("council-bristol", body, "application/xml").status_code == 202
    rows = {row["partner"]: row for row in json.loads(hub_cli(council_world, "--json").stdout)}
    luton_row, bristol_row = rows["council-luton"], rows["council-bristol"]
    assert luton_row["by_current_status"]["relief_duty"] == 1 and luton_row["by_current_status"]["received"] == 0
    assert bristol_row["by_current_status"]["not_eligible"] == 1 and bristol_row["by_current_status"]["none"] == 0
    received = luton_row["to_status"]["received"]
    assert received["reached"] == 1 and 40 <= received["median_seconds"] <= 70  # by the council's own time
    assert 100 <= luton_row["to_status"]["relief_duty"]["max_seconds"] <= 130
    assert luton_row["to_status"]["withdrawn"] == {"reached": 0, "median_seconds": None, "max_seconds": None}
    assert rows == {row["partner"]: row for row in council_world.get("ops", "/plugins/council/stats").json()}
    table = hub_cli(council_world).stdout
    assert "relief_duty" in table and "not_eligible" in table
    listing = json.loads(hub_cli(council_world, "--referrals", "--json").stdout)
    assert {(r["message_id"], r["current"]["status"]) for r in listing} == {(luton[0], "relief_duty"),
                                                                             (bristol, "not_eligible")}  # fmt: skip
    samples = parse_samples(council_world.as_("ops").get(f"{council_world.url}/metrics", timeout=5).text)
    assert sample(samples, "hub_council_referrals_by_status", partner="council-luton", status="relief_duty") == 1


def test_status_stats_from_rows_put_referrals_without_a_status_under_none() -> None:
    times = [ReplyTime("council-a", "HousingRequest", 100.0, None, None) for _ in range(3)]
    rows = [
        StatusReply("council-a", "trust-a", "m-1", "HousingRequest", 100.0, "s-2", "HousingStatus", "relief_duty",
                    400.0, 500.0),
        StatusReply("council-a", "trust-a", "m-1", "HousingRequest", 100.0, "s-1", "HousingStatus", "received",
                    160.0, 600.0),  # received later, but earlier by the council's time
        StatusReply("council-a", "trust-a", "m-2", "HousingRequest", 100.0, "s-3", "HousingStatus", "received",
                    40.0, 700.0),  # before the delivery was recorded: 0 s
    ]  # fmt: skip
    referrals = referral_statuses(rows)
    assert [r.current.status for r in referrals if r.current] == ["relief_duty", "received"]
    [stats] = status_stats(times, referrals)
    assert (stats.current["relief_duty"], stats.current["received"], stats.current["none"]) == (1, 1, 1)
    assert (stats.to_status["received"].reached, stats.to_status["received"].median_seconds) == (2, 30.0)
    assert stats.to_status["relief_duty"].max_seconds == 300.0


def test_two_referrers_sharing_a_message_id_each_see_only_their_own_referral_s_status(hub_world_factory) -> None:
    """Message ids are unique per sender only: trust-b's HousingRequest may carry the id of trust-a's. The council's
    status answers trust-a's (it names trust-a as recipient); trust-b neither sees it nor has it counted."""
    from hub.testing.messages import housing_request
    from hub.testing.world import Partner, example_routes

    partners = [Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}),
                Partner("trust-b", "nhs_trust", {"ods_code": "RAT"}),
                Partner("council-luton", "council", {"gss_code": "E06000032"})]  # fmt: skip
    world = hub_world_factory(partners, routes=example_routes())
    first = housing_request("trust-a")
    second = housing_request("trust-b") | {"message_id": first["message_id"]}
    second["sender"]["ods_code"] = "RAT"
    for who, message in (("trust-a", first), ("trust-b", second)):
        answer = world.post(who, message)
        assert answer.status_code == 202, answer.text
    # both delivered (the simulator counts the second as a repeat: it keys on the Idempotency-Key, the message id)
    assert world.sims["council-luton"].wait_for(lambda s: len(s.received) == 2)
    status = json_status("council-luton", "E06000032", first["message_id"], "relief_duty", soon(0))
    status["recipient"] = {"org_id": "trust-a"}  # two referrers' requests have this id: say whose is answered
    answer = world.post("council-luton", status)
    assert answer.status_code == 202, answer.text
    path = f"/plugins/council/referrals/{first['message_id']}/status"
    [found] = world.get("trust-a", path).json()["referrals"]
    assert (found["referrer"], found["current"]["status"]) == ("trust-a", "relief_duty")
    assert world.get("trust-b", path).status_code == 404
    [row] = world.get("ops", "/plugins/council/stats").json()
    assert row["by_current_status"]["relief_duty"] == 1 and row["by_current_status"]["none"] == 1
