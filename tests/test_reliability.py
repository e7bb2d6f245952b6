"""Nothing accepted is lost: idempotency, retries, dead letters, replay, and a crash mid-flight."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from hub.testing import RunningHub, run_hub_cli, wait_until
from hub.testing.messages import housing_request


def hub_cli(world, *args: str) -> subprocess.CompletedProcess[str]:
    return run_hub_cli(world.config_dir, *args)


def test_the_same_message_sent_twice_is_stored_once_and_answered_as_a_duplicate(world) -> None:
    message = housing_request()
    first = world.send("trust-a", message)
    second = world.send("trust-a", message)
    assert first.status_code == second.status_code == 202
    assert first.json()["duplicate"] is False
    assert second.json() == {"id": first.json()["id"], "status": "accepted", "duplicate": True}
    assert world.db_count("messages") == 1
    council = world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    time.sleep(0.3)
    assert len(council.messages("HousingRequest")) == 1


def test_a_request_retried_with_its_idempotency_key_is_answered_as_a_duplicate(world) -> None:
    message = housing_request()
    first = world.send("trust-a", message, **{"Idempotency-Key": "retry-42"})
    second = world.send("trust-a", message, **{"Idempotency-Key": "retry-42"})
    assert first.status_code == second.status_code == 202
    assert second.json()["duplicate"] is True and second.json()["id"] == first.json()["id"]
    assert world.db_count("messages") == 1


def test_an_idempotency_key_reused_for_another_message_is_a_conflict(world) -> None:
    assert world.send("trust-a", housing_request(), **{"Idempotency-Key": "k-7"}).status_code == 202
    response = world.send("trust-a", housing_request(), **{"Idempotency-Key": "k-7"})
    assert response.status_code == 409
    assert response.json()["errors"] == [{"location": "header Idempotency-Key",
                                          "detail": "already used for a different message"}]  # fmt: skip
    assert world.db_count("messages") == 1


def test_reusing_a_message_id_for_different_content_is_a_conflict_not_a_silent_drop(world) -> None:
    message = housing_request()
    assert world.send("trust-a", message).status_code == 202
    changed = dict(message, payload={**message["payload"], "urgent": not message["payload"]["urgent"]})
    response = world.send("trust-a", changed)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert world.db_count("messages") == 1


def test_the_same_key_from_two_partners_is_two_messages(world) -> None:
    message = housing_request()
    a = world.send("trust-a", message, **{"Idempotency-Key": "k1"})
    b = world.send("trust-b", dict(message, sender={"org_id": "trust-b"}), **{"Idempotency-Key": "k1"})
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]
    assert b.json()["duplicate"] is False


def test_a_partner_that_fails_then_recovers_gets_the_message_after_backoff(world) -> None:
    council = world.sims["council-luton"]
    council.fail_next(3, status=503)
    response = world.send("trust-a", housing_request())
    assert response.status_code == 202
    assert council.wait_for(lambda s: s.messages("HousingRequest"), timeout=15)
    record = response.json()["id"]
    assert wait_until(lambda: world.view(record)["status"] == "delivered")
    view = world.view(record)
    delivery = view["deliveries"][0]
    assert delivery["state"] == "delivered"
    assert delivery["attempts"] == 4
    retries = [e["detail"] for e in view["timeline"] if e["event"] == "retry_scheduled"]
    assert [r["attempts"] for r in retries] == [1, 2, 3]
    assert all("HTTP 503" in r["error"] for r in retries)
    waits = [r["retry_in_seconds"] for r in retries]
    # initial 0.1 s doubling, capped at 0.5 s, each scaled by [0.8, 1]: the waits grow, then stop at the cap
    assert 0.08 <= waits[0] <= 0.1 and 0.16 <= waits[1] <= 0.2 and 0.32 <= waits[2] <= 0.4


def test_a_partner_that_never_recovers_is_dead_lettered_then_replayed_once_fixed(world) -> None:
    council = world.sims["council-luton"]
    council.down = True
    response = world.send("trust-a", housing_request())
    record = response.json()["id"]
    assert wait_until(lambda: world.view(record)["status"] == "dead_lettered")
    delivery = world.view(record)["deliveries"][0]
    assert delivery["attempts"] == 4
    assert "HTTP 503" in delivery["last_error"]

    listed = hub_cli(world, "dlq", "list")
    assert listed.returncode == 0 and delivery["id"] in listed.stdout and "HTTP 503" in listed.stdout

    council.down = False
    replayed = hub_cli(world, "replay", "--all-dead")
    assert replayed.returncode == 0 and "1 deliveries queued again" in replayed.stdout
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    assert wait_until(lambda: world.view(record)["status"] == "delivered")
    events = [e["event"] for e in world.view(record)["timeline"]]
    assert events.index("dead_lettered") < events.index("replayed") < events.index("delivered")
    assert "No dead letters." in hub_cli(world, "dlq", "list").stdout


def test_a_client_error_from_the_partner_is_not_retried(world) -> None:
    world.sims["council-luton"].fail_next(1, status=400)
    record = world.send("trust-a", housing_request()).json()["id"]
    assert wait_until(lambda: world.view(record)["status"] == "dead_lettered")
    assert world.view(record)["deliveries"][0]["attempts"] == 1


def test_kill_9_with_500_messages_in_flight_loses_none(make_world) -> None:
    world = make_world({"delivery": {"concurrency": 4, "lease_seconds": 2.5, "timeout_seconds": 1.0}})
    council = world.sims["council-luton"]
    council.delay = 0.01  # a slow partner keeps deliveries queued and in flight when the hub dies
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
    session.headers["Authorization"] = f"Bearer {world.tokens['trust-a']}"
    accepted: dict[str, str] = {}
    unanswered = 0
    url = world.url

    def send_one(_: int) -> None:
        nonlocal unanswered
        message = housing_request()
        try:
            response = session.post(f"{url}/v1/messages", json=message, timeout=10)
        except requests.RequestException:
            unanswered += 1
            return
        if response.status_code == 202:
            accepted[message["message_id"]] = response.json()["id"]

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(send_one, i) for i in range(500)]
        assert wait_until(lambda: len(accepted) >= 250, timeout=60)
        world.hub.kill()
        for future in futures:
            future.result()
    delivered_before_restart = len(council.unique_ids() & set(accepted))
    assert len(accepted) >= 250
    assert len(accepted) + unanswered <= 500
    assert delivered_before_restart < len(accepted), "nothing was in flight at the kill; the test proves nothing"

    restarted = RunningHub(world.config_dir, port=world.hub.port).start()
    world.hub = restarted
    assert council.wait_for(lambda s: set(accepted) <= s.unique_ids(), timeout=60), (
        f"{len(set(accepted) - council.unique_ids())} of {len(accepted)} accepted messages never arrived"
    )
    last = list(accepted.values())[-1]
    assert wait_until(lambda: world.view(last)["status"] == "delivered")
    assert world.db_count("messages") >= len(accepted)


def test_a_separate_worker_process_delivers_what_serve_accepts(make_world) -> None:
    import subprocess
    import sys

    from hub.testing import stop_process

    world = make_world()
    world.hub.stop()
    world.hub = RunningHub(world.config_dir, port=world.hub.port, extra_args=["--no-worker"]).start()
    record = world.send("trust-a", housing_request()).json()["id"]
    assert world.view(record)["status"] == "in_progress"  # accepted, nobody delivering yet
    log = (world.config_dir / "worker.log").open("ab")
    worker = subprocess.Popen([sys.executable, "-m", "hub", "worker", "--config", str(world.config_dir)],
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert world.sims["council-luton"].wait_for(lambda s: s.messages("HousingRequest"))
        assert wait_until(lambda: world.view(record)["status"] == "delivered")
    finally:
        stop_process(worker)
        log.close()


def test_a_worker_keeps_the_lease_of_a_slow_delivery_and_sends_it_once(world) -> None:
    """The heartbeat: a lease shorter than one attempt is extended while the attempt runs, so nobody re-sends it.

    (``hub.toml`` refuses a lease this short; the worker is built here with it to make an attempt outlast it.)
    """
    import asyncio
    from dataclasses import replace

    from hub.runtime import build_hub

    world.hub.stop()
    council = world.sims["council-luton"]
    council.delay = 2.5
    hub = build_hub(world.config_dir)
    short = replace(hub.config.settings, lease_seconds=0.9, delivery_timeout_seconds=5.0, poll_interval_seconds=0.05)
    hub.config = replace(hub.config, settings=short)
    try:
        record = hub.intake.submit_now(housing_request(), sender_id="trust-a").id

        async def deliver() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(hub.make_worker().run(stop))
            await asyncio.to_thread(council.wait_for, lambda s: s.received, 10)
            await asyncio.sleep(3.5)  # several leases' worth beyond the first: time enough to re-send it
            stop.set()
            await task

        asyncio.run(deliver())
        assert len(council.received) == 1
        view = hub.store.message_view(record)
        assert view is not None
        [delivery] = view["deliveries"]
        assert (delivery["state"], delivery["attempts"]) == ("delivered", 1)
    finally:
        hub.close()
