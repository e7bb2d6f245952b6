"""The test partners' ``stop`` is idempotent: a second stop, a stop before start or after a failed start does
nothing and raises nothing; a stopped partner refuses connections and can be started again where it says so."""

from __future__ import annotations

import smtplib
import socket
from pathlib import Path

import pytest
import requests

from hub.testing.simulator import PartnerSimulator
from hub.testing.smtp_server import smtp_server


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def test_http_simulator_stops_twice_and_starts_again_on_its_port() -> None:
    simulator = PartnerSimulator("twice").start()
    port = simulator.port
    assert requests.post(f"{simulator.url}/inbound", data=b"{}", timeout=5).status_code == 200
    simulator.stop()
    simulator.stop()
    assert _refused(port)
    simulator.start()
    try:
        assert simulator.port == port
        assert requests.post(f"{simulator.url}/inbound", data=b"{}", timeout=5).status_code == 200
    finally:
        simulator.stop()
    simulator.stop()
    assert _refused(port)


def test_http_simulator_stop_before_start_does_nothing() -> None:
    PartnerSimulator("never-started").stop()


def test_http_simulator_stop_after_a_failed_start_does_nothing() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        simulator = PartnerSimulator("clash", port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="did not start") as failed:
            simulator.start()
        assert isinstance(failed.value.__cause__, OSError)  # the reason is kept: the port is taken
        simulator.stop()
        simulator.stop()


def test_http_simulator_as_context_manager_then_stop_again() -> None:
    with PartnerSimulator("block") as simulator:
        port = simulator.port
    simulator.stop()
    assert _refused(port)


def test_smtp_server_stops_twice_inside_and_on_leaving_its_block(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
            assert client.noop()[0] == 250
        server.stop()
        server.stop()
        assert _refused(server.port)
    server.stop()


def test_smtp_server_failed_start_raises_its_own_error_and_stop_does_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError), smtp_server(tmp_path, port=taken.getsockname()[1]):
            pytest.fail("the server started on a port already taken")
