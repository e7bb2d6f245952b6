"""When Airflow cannot take a call, every call of the ``airflow`` scheduler raises ``SchedulerUnavailable``
saying why (the hub keeps the timer, retries with backoff and shows it). No Airflow needed: a closed port, a
server that accepts and never answers, and one that answers 503 stand in for an Airflow that is down."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hub_airflow.scheduler import AirflowScheduler, open_airflow_scheduler

from hub import SchedulerUnavailable
from hub.testing import free_port


class Answers503(BaseHTTPRequestHandler):
    """An API server whose database is down: 503 with a detail, for every method."""

    def _answer(self) -> None:
        body = json.dumps({"detail": "the metadata database is restarting"}).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def broken_airflows() -> Iterator[dict[str, str]]:
    """URL -> what the scheduler must say: a closed port, a silent listener, a 503 server."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers503)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield {
            f"http://127.0.0.1:{free_port()}": "could not be reached",
            f"http://127.0.0.1:{silent.getsockname()[1]}": "could not be reached",
            f"http://127.0.0.1:{server.server_address[1]}": "answered 503: the metadata database is restarting",
        }
    finally:
        server.shutdown()
        server.server_close()
        silent.close()


def calls(scheduler: AirflowScheduler) -> list[Callable[[], object]]:
    due = datetime.now(UTC) + timedelta(minutes=5)
    return [lambda: scheduler.schedule("m1.due", due, {}), lambda: scheduler.cancel("m1.due"), scheduler.queued]


def test_every_call_raises_scheduler_unavailable_when_airflow_is_down(
    broken_airflows: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_TEST_AIRFLOW_TOKEN", "a-token")
    for url, said in broken_airflows.items():
        scheduler = open_airflow_scheduler({"url": url, "hub_url": "http://127.0.0.1:9",
                                            "token_env": "HUB_TEST_AIRFLOW_TOKEN", "timeout_seconds": 1})  # fmt: skip
        for call in calls(scheduler):
            with pytest.raises(SchedulerUnavailable, match=said) as raised:
                call()
            assert "a-token" not in raised.value.detail
        scheduler.close()


def test_signing_in_to_an_airflow_that_is_down_raises_scheduler_unavailable(
    broken_airflows: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_TEST_USER", "hub")
    monkeypatch.setenv("HUB_TEST_PASSWORD", "secret-password")
    for url in broken_airflows:
        table = {"url": url, "hub_url": "http://127.0.0.1:9", "timeout_seconds": 1,
                 "username_env": "HUB_TEST_USER", "password_env": "HUB_TEST_PASSWORD"}  # fmt: skip
        scheduler = open_airflow_scheduler(table)
        for call in calls(scheduler):
            with pytest.raises(SchedulerUnavailable, match="sign") as raised:
                call()
            assert "secret-password" not in raised.value.detail


def test_opening_the_scheduler_makes_no_request() -> None:
    """The hub opens its scheduler at start-up (every command builds the hub): Airflow down must not stop it."""
    scheduler = open_airflow_scheduler({"url": f"http://127.0.0.1:{free_port()}", "hub_url": "http://127.0.0.1:9"})
    assert scheduler.in_store is False
    assert scheduler.tokens.sign_ins == 0
    scheduler.close()


def test_bad_arguments_are_refused_before_any_request() -> None:
    scheduler = open_airflow_scheduler({"url": f"http://127.0.0.1:{free_port()}", "hub_url": "http://127.0.0.1:9"})
    with pytest.raises(ValueError, match="aware"):
        scheduler.schedule("m1.due", datetime(2030, 1, 1), {})  # naive on purpose
    with pytest.raises(ValueError, match="not a timer id"):
        scheduler.cancel("../../dags/x")
    assert scheduler.tokens.sign_ins == 0
