"""A schedule call to a real Airflow 3.3 whose outcome the hub cannot know, then the milestone closes early.

The hub reaches Airflow here through a proxy on loopback that holds the first "trigger a DAG run" request until the
test lets it go, as a congested network or a busy API server would:

- held past the hub's ``timeout_seconds``: the hub's call fails, the milestone closes, the hub cancels the run
  (there is none yet to delete); then the request reaches Airflow, which makes the run. The hub cancels such a
  timer once more ``[pathway] cancel_confirm_seconds`` later, which deletes the late run;
- held within it: the close commits while the call is on its way, and the call then succeeds. The hub sees that
  the timer it just scheduled was cancelled meanwhile and cancels its run.

What happens in which order is set by the test (the request is let go only once the hub has done its part), so
a slow machine makes the tests slower, not different.

Either way no run of a closed milestone stays queued in Airflow. Without hub-plugin-airflow or Airflow's
environment the tests are skipped with the reason, or fail where ``HUB_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from pathway.airflow_backend import AirflowBackend
from pathway.kit import PathwayWorld, milestone_toml, wait_until, write_pathway_settings

from hub.testing.world import build_world

LONG = 3600  # the milestone is due long after the test: only a cancel removes its run


class HoldingProxy:
    """Passes every request on to ``upstream``; the first POST that triggers a DAG run is held until ``release``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.holding = threading.Event()  # the trigger request has arrived and is held
        self.release = threading.Event()
        self.triggered: list[int] = []  # the status Airflow gave each trigger passed on
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                trigger = self.command == "POST" and self.path.rstrip("/").endswith("/dagRuns")
                if trigger and not proxy.holding.is_set():
                    proxy.holding.set()
                    proxy.release.wait(timeout=300)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = requests.request(self.command, proxy.upstream + self.path, data=body, headers=headers,
                                          timeout=60, allow_redirects=False)  # fmt: skip
                if trigger:
                    proxy.triggered.append(answer.status_code)
                try:
                    self.send_response(answer.status_code)
                    self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except OSError:  # the hub stopped waiting
                    pass

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="holding-proxy", daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def airflow(request: pytest.FixtureRequest) -> Iterator[AirflowBackend]:
    backend = AirflowBackend(request)
    try:
        yield backend
    finally:
        backend.close()


def proxied_world(tmp_path: Path, airflow: AirflowBackend, proxy: HoldingProxy, timeout: float,
                  confirm: float) -> PathwayWorld:  # fmt: skip
    """A hub on ``airflow`` through ``proxy``; a failed call is retried only after 30 s, beyond the close."""
    from hub.auth import hash_token

    world = build_world(tmp_path / "config", start=False)
    table = {**airflow.hub_settings(world.hub.url, airflow.scheduler_token), "url": proxy.url,
             "timeout_seconds": timeout}  # fmt: skip
    write_pathway_settings(world.config_dir, "airflow", table, hash_token(airflow.scheduler_token),
                           {"sync_initial_seconds": 30.0, "sync_max_delay_seconds": 60.0,
                            "cancel_confirm_seconds": confirm})  # fmt: skip
    (world.config_dir / "pathways.toml").write_text(milestone_toml(due_seconds=LONG))
    world.start(timeout=90)
    return PathwayWorld(world, airflow, airflow.scheduler_token)


def open_then_close(pw: PathwayWorld, proxy: HoldingProxy) -> str:
    """Open a milestone, close its pathway while its schedule call is held; the timer's id."""
    from hub.testing.messages import discharge_notice

    notice = discharge_notice()
    assert pw.world.send("trust-a", notice).status_code == 202
    milestone = wait_until(lambda: pw.milestone(notice["message_id"]), timeout=30)
    assert milestone is not None, "no milestone opened"
    assert proxy.holding.wait(timeout=60), "the schedule call never reached the proxy"
    closed = pw.world.as_("trust-a").post(f"{pw.world.hub.url}/v1/pathways/{notice['message_id']}/close",
                                          json={"reason": "readmission"}, timeout=30)  # fmt: skip
    assert closed.status_code == 200 and closed.json()["closed"] is True, closed.text
    return f"{milestone['milestone_id']}.due"


def pending_syncs(pw: PathwayWorld, timer: str) -> list[str]:
    import json

    result = pw.world.cli("pathway", "list", "--pending-syncs", "--json")
    assert result.returncode == 0, result.stderr
    return [row["sync"] for row in json.loads(result.stdout) if row["timer_id"] == timer]


def test_a_run_made_after_the_hub_cancelled_it_is_deleted_by_the_confirming_cancel(
    tmp_path: Path, airflow: AirflowBackend
) -> None:
    proxy = HoldingProxy(airflow.airflow.url)
    try:
        pw = proxied_world(tmp_path, airflow, proxy, timeout=2.0, confirm=30.0)
        try:
            timer = open_then_close(pw, proxy)
            # the call timed out (before or after the close): the hub cancels, finds no run, and will confirm
            assert wait_until(lambda: pending_syncs(pw, timer) == ["confirm_cancel"], timeout=60, every=0.5), (
                "the first cancel of a timer whose schedule call failed did not ask for a confirming one"
            )
            proxy.release.set()  # the request reaches Airflow only now
            assert wait_until(lambda: proxy.triggered, timeout=30) == [200], "Airflow did not make the late run"
            assert timer in (airflow.queued() or {}), "the late run is not queued: this test shows nothing"
            assert wait_until(lambda: timer not in (airflow.queued() or {}), timeout=90), (
                "the run Airflow made after the hub's cancel stayed queued"
            )
            assert wait_until(lambda: pending_syncs(pw, timer) == [], timeout=30, every=0.5)
        finally:
            pw.world.stop()
    finally:
        proxy.close()


def test_a_close_while_the_schedule_call_is_on_its_way_has_the_run_it_made_cancelled(
    tmp_path: Path, airflow: AirflowBackend
) -> None:
    proxy = HoldingProxy(airflow.airflow.url)
    try:
        pw = proxied_world(tmp_path, airflow, proxy, timeout=60.0, confirm=60.0)
        try:
            timer = open_then_close(pw, proxy)
            proxy.release.set()  # the call goes through after the close committed
            assert wait_until(lambda: proxy.triggered, timeout=30) == [200], "the schedule call did not go through"
            assert wait_until(
                lambda: timer not in (airflow.queued() or {}) and not pending_syncs(pw, timer), timeout=60, every=0.5
            ), "the run a schedule call made after the close stayed queued"
        finally:
            pw.world.stop()
    finally:
        proxy.close()
