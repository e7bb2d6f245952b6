"""MLLP against a real ``hub serve``: ACKs after commit, refusals with reasons, framing edge cases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hl7_support import DISCHARGE_TO_TRUST_B, MllpClient, adt_a03, hl7_hub_factory, mllp_hub, segment
from hub_nhs.hl7v2.framing import frame

from hub.testing import HubWorld, free_port, stop_process, wait_until
from hub.testing.world import Partner, build_world

__all__ = ["hl7_hub_factory"]  # the fixture, imported so that pytest finds it here


@pytest.fixture
def mllp(hl7_hub_factory):
    """A hub with the MLLP listener (4 KiB frame limit) and its port."""
    return mllp_hub(hl7_hub_factory, max_frame_bytes=4096, idle_timeout_seconds=5)


def messages_of_type(hub: HubWorld, message_type: str) -> int:
    return hub.db_count(message_type=message_type)


def test_an_adt_a03_is_committed_then_answered_aa(mllp) -> None:
    world, port = mllp
    with MllpClient(port) as client:
        ack = client.send(adt_a03(control="C-100"))
    assert ack["code"] == "AA"
    assert ack["control"] == "C-100"
    assert ack["msh"][8].startswith("ACK")
    assert messages_of_type(world, "DischargeNotice") == 1


def test_the_accepted_discharge_is_routed_and_delivered(mllp) -> None:
    world, port = mllp
    with MllpClient(port) as client:
        assert client.send(adt_a03())["code"] == "AA"
    trust = world.sims["trust-b"]
    assert trust.wait_for(lambda s: s.messages("DischargeNotice"))
    delivered = trust.messages("DischargeNotice")[0]
    assert delivered["sender"]["org_id"] == "trust-a"
    assert delivered["payload"]["discharge"]["destination"] == "19"


def test_several_messages_on_one_connection_are_each_answered_in_order(mllp) -> None:
    world, port = mllp
    with MllpClient(port) as client:
        controls = [client.send(adt_a03(control=f"M{i}"))["control"] for i in range(5)]
    assert controls == [f"M{i}" for i in range(5)]
    assert messages_of_type(world, "DischargeNotice") == 5


def test_pipelined_frames_in_one_write_get_one_ack_each(mllp) -> None:
    _world, port = mllp
    with MllpClient(port) as client:
        client.send_raw(b"".join(frame(adt_a03(control=f"P{i}")) for i in range(3)))
        acks = [client.read_ack() for _ in range(3)]
    assert [(ack["code"], ack["control"]) for ack in acks] == [("AA", f"P{i}") for i in range(3)]


def test_a_frame_split_across_many_writes_is_reassembled(mllp) -> None:
    _world, port = mllp
    data = frame(adt_a03(control="SPLIT", separator="\r\n"))
    with MllpClient(port) as client:
        for i in range(0, len(data), 7):
            client.send_raw(data[i : i + 7])
            time.sleep(0.001)
        ack = client.read_ack()
    assert (ack["code"], ack["control"]) == ("AA", "SPLIT")


def test_a_resent_message_is_acknowledged_but_stored_once(mllp) -> None:
    world, port = mllp
    with MllpClient(port) as client:
        assert client.send(adt_a03(control="SAME"))["code"] == "AA"
        assert client.send(adt_a03(control="SAME"))["code"] == "AA"
    assert messages_of_type(world, "DischargeNotice") == 1


def test_an_invalid_nhs_number_is_answered_ae_with_the_reason_and_nothing_is_stored(mllp) -> None:
    world, port = mllp
    with MllpClient(port) as client:
        ack = client.send(adt_a03(control="BAD", nhs_number="9990000019"))
    assert ack["code"] == "AE"
    assert ack["control"] == "BAD"
    assert ("PID^1^3", "102") in {(e["location"], e["code"]) for e in ack["errors"]}
    assert ack["text"].startswith("PID-3: this is not a valid NHS number")  # v2.4: MSA-3, 80 characters
    assert "9990000019" not in str(ack)
    assert messages_of_type(world, "DischargeNotice") == 0


def test_every_missing_required_field_is_listed(mllp) -> None:
    _world, port = mllp
    with MllpClient(port) as client:
        pid = segment("PID", {1: "1", 3: "9990000018^^^NHS^NH", 5: "Example^Alex"})  # no birth date (PID-7)
        ack = client.send(adt_a03(replace={"PID": pid, "PV1": segment("PV1", {1: "1", 3: "Willow Ward"})}))
    assert ack["code"] == "AE"  # PV1-44 (admission date) is optional: a warning, never an error
    assert {(e["location"], e["code"]) for e in ack["errors"]} == {("PID^1^7", "101"), ("PV1^1^45", "101")}


def test_a_discharge_without_attending_doctor_is_aa_with_warnings_of_severity_w(mllp) -> None:
    world, port = mllp
    pv1 = segment("PV1", {1: "1", 2: "I", 3: "Willow Ward", 36: "19", 44: "20261002", 45: "20261127110000"})
    v25 = adt_a03(control="V25", replace={"PV1": pv1}).replace(b"|P|2.4|", b"|P|2.5|")
    v24 = adt_a03(control="V24", replace={"PV1": pv1})
    with MllpClient(port) as client:
        ack25, ack24 = client.send(v25), client.send(v24)
    assert (ack25["code"], ack25["control"]) == ("AA", "V25")
    assert {(e["location"], e["severity"]) for e in ack25["errors"]} == {("PV1^1^7", "W"), ("PV1^1^36", "W")}
    assert (ack24["code"], ack24["errors"]) == ("AA", [])  # v2.4 has no warning severity: MSA-3 names them
    assert "PV1-7" in ack24["text"] and "PV1-36" in ack24["text"]
    assert messages_of_type(world, "DischargeNotice") == 2


def test_an_unknown_sending_facility_is_rejected_ar(mllp) -> None:
    _world, port = mllp
    with MllpClient(port) as client:
        ack = client.send(adt_a03(facility="ZZZ99"))
    assert ack["code"] == "AR"
    assert [(e["location"], e["code"]) for e in ack["errors"]] == [("MSH^1^4", "103")]


def test_a_frame_of_two_messages_is_refused_whole(mllp) -> None:
    world, port = mllp
    with MllpClient(port) as client:
        ack = client.send(adt_a03(control="PAIR-1") + adt_a03(control="PAIR-2"))
        assert (ack["code"], ack["control"]) == ("AR", "PAIR-1")
        assert client.send(adt_a03(control="PAIR-3"))["code"] == "AA"  # the connection goes on
    assert messages_of_type(world, "DischargeNotice") == 1


def test_another_message_type_is_rejected_ar(mllp) -> None:
    _world, port = mllp
    a01 = adt_a03(control="A01").replace(b"ADT^A03^ADT_A03", b"ADT^A01^ADT_A01")
    with MllpClient(port) as client:
        ack = client.send(a01)
    assert (ack["code"], ack["control"], ack["msh"][8]) == ("AR", "A01", "ACK^A01^ACK")
    assert "A03" in ack["text"] and [e["code"] for e in ack["errors"]] == ["201"]


def test_garbage_in_a_frame_is_rejected_and_the_connection_keeps_working(mllp) -> None:
    _world, port = mllp
    with MllpClient(port) as client:
        assert client.send(b"\x00\xff not hl7 at all")["code"] == "AR"
        half = adt_a03(control="HALF").replace(b"|P|2.4|", b"|P|2.5|") + b"not a segment\r"
        ack = client.send(half)  # its MSH is readable: the ACK names its control id, trigger and version
        assert (ack["code"], ack["control"], ack["msh"][8], ack["msh"][11]) == ("AR", "HALF", "ACK^A03^ACK", "2.5")
        assert client.send(adt_a03(control="AFTER"))["code"] == "AA"


def test_bytes_outside_frames_are_ignored(mllp) -> None:
    _world, port = mllp
    with MllpClient(port) as client:
        client.send_raw(b"hello?\r\n")
        assert client.send(adt_a03(control="OK"))["code"] == "AA"


def test_an_oversized_frame_is_rejected_ar_and_the_next_frame_is_served(mllp) -> None:
    world, port = mllp
    with MllpClient(port) as client:
        ack = client.send(adt_a03(extra=["NTE|1||" + "x" * 10_000]))
        assert ack["code"] == "AR" and "4096" in ack["text"]
        assert client.send(adt_a03(control="NEXT"))["code"] == "AA"
    assert messages_of_type(world, "DischargeNotice") == 1


def test_a_truncated_frame_is_dropped_and_the_listener_serves_others(mllp) -> None:
    world, port = mllp
    with MllpClient(port) as client:
        client.send_raw(frame(adt_a03())[:-40])
    with MllpClient(port) as client:
        assert client.send(adt_a03(control="OTHER"))["code"] == "AA"
    assert messages_of_type(world, "DischargeNotice") == 1


def test_a_frame_restarted_before_its_end_is_abandoned(mllp) -> None:
    world, port = mllp
    with MllpClient(port) as client:
        client.send_raw(frame(adt_a03(control="CUT"))[:-60])
        ack = client.send(adt_a03(control="WHOLE"))
    assert (ack["code"], ack["control"]) == ("AA", "WHOLE")
    assert messages_of_type(world, "DischargeNotice") == 1


def test_an_idle_connection_is_closed(hl7_hub_factory) -> None:
    _world, port = mllp_hub(hl7_hub_factory, idle_timeout_seconds=0.5)
    with MllpClient(port, timeout=5) as client:
        assert client.closed_by_peer()


def test_a_facility_outside_its_allowed_addresses_is_rejected(hl7_hub_factory) -> None:
    _world, port = mllp_hub(hl7_hub_factory, sources={"RWK": ["10.0.0.0/8"], "RXY": ["127.0.0.1/32"]})
    with MllpClient(port) as client:
        assert client.send(adt_a03(facility="RWK"))["code"] == "AR"
        assert client.send(adt_a03(facility="RXY"))["code"] == "AA"


def test_many_clients_at_once_are_all_answered(mllp) -> None:
    from concurrent.futures import ThreadPoolExecutor

    world, port = mllp

    def one(i: int) -> str:
        with MllpClient(port) as client:
            code: str = client.send(adt_a03(control=f"T{i}"))["code"]
            return code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(16))) == ["AA"] * 16
    assert messages_of_type(world, "DischargeNotice") == 16


def test_hub_worker_can_host_the_listeners_while_hub_serve_only_answers_http(hl7_hub_factory) -> None:
    port = free_port()
    world = hl7_hub_factory(listeners={"mllp": {"host": "127.0.0.1", "port": port}},
                            serve_args=["--no-worker", "--no-listeners"])  # fmt: skip
    log_path = world.config_dir / "worker.log"
    with log_path.open("ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "hub", "worker", "--listeners", "--config",
                                   str(world.config_dir)], stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert wait_until(lambda: accepts_connections(port) or worker.poll() is not None), log_path.read_text()
        with MllpClient(port) as client:
            assert client.send(adt_a03(control="W-1"))["code"] == "AA"
        trust = world.sims["trust-b"]
        assert trust.wait_for(lambda s: s.messages("DischargeNotice")), log_path.read_text()
    finally:
        stop_process(worker)
    assert worker.returncode == 0, log_path.read_text()
    assert not accepts_connections(port)


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@contextmanager
def postgres_database() -> Iterator[tuple[str, Callable[[bool], None]]]:
    """A fresh database on the test server (``HUB_TEST_POSTGRES_URL``) and a switch that cuts it off and back.

    ``reachable(False)`` refuses new connections to it and ends those open (as a database that went away);
    ``reachable(True)`` lets them in again. Skipped without a server, unless ``HUB_REQUIRE_SERVICES=1``.
    """
    psycopg = pytest.importorskip("psycopg")
    server = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(f"HUB_REQUIRE_SERVICES=1 but no PostgreSQL test server: {type(exc).__name__}")
        pytest.skip(f"no PostgreSQL test server (set HUB_TEST_POSTGRES_URL): {type(exc).__name__}")
    name = f"hubtest_pg_mllp_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')

    def reachable(on: bool) -> None:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(on).lower()}')
        if not on:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    try:
        yield server.partition("?")[0].rpartition("/")[0] + f"/{name}", reachable
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_a_store_that_cannot_be_reached_is_answered_ar_and_the_message_resent_later_aa(tmp_path) -> None:
    port = free_port()
    with postgres_database() as (url, reachable):
        world = build_world(
            tmp_path / "hub",
            [Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}, receive="pull"),
             Partner("trust-b", "nhs_trust", {"ods_code": "RXY"})],
            routes=DISCHARGE_TO_TRUST_B,
            settings={"store": {"url": url, "pool_timeout_seconds": 1.0},
                      "listeners": {"mllp": {"host": "127.0.0.1", "port": port}}},
        )  # fmt: skip
        try:
            with MllpClient(port) as client:
                assert client.send(adt_a03(control="C-1"))["code"] == "AA"
                reachable(False)
                later = adt_a03(control="C-2")
                refused = client.send(later)
                assert refused["code"] == "AR" and refused["control"] == "C-2"  # "resend later", on the same connection
                assert "cannot store" in refused["text"], refused
                reachable(True)
                answers: list[str] = []

                def resent() -> bool:
                    answers.append(client.send(later)["code"])
                    return answers[-1] == "AA"

                assert wait_until(resent, timeout=30, interval=0.5), answers
            assert messages_of_type(world, "DischargeNotice") == 2
        finally:
            world.stop()
