"""A scheduler identity may fire timers on a hub served under a root path (behind a proxy that strips a prefix,
``uvicorn --root-path``): its one permitted request is decided on the path the app routes, not the full URL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import uvicorn

from hub.api.app import create_app
from hub.auth import generate_token, hash_token
from hub.config import load_config
from hub.runtime import build_hub
from hub.testing import free_port
from hub.testing.world import build_world


@pytest.fixture
def hub_under_root_path(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A hub served by uvicorn with ``root_path="/hub"``; yields its URL and a scheduler identity's token."""
    token = generate_token()
    pathway = {"scheduler": "embedded",
               "scheduler_identities": [{"name": "test-scheduler", "token_sha256": hash_token(token)}]}  # fmt: skip
    world = build_world(tmp_path / "config", start=False, settings={"pathway": pathway})
    hub = build_hub(load_config(world.config_dir))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(hub, run_worker=False, run_listeners=False), host="127.0.0.1",
                                           port=port, root_path="/hub", log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "the hub did not start"
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(10)
        hub.close()
        world.stop()


def test_a_scheduler_may_fire_a_timer_and_nothing_else_under_a_root_path(hub_under_root_path: tuple[str, str]) -> None:
    url, token = hub_under_root_path
    headers = {"Authorization": f"Bearer {token}"}
    fired = requests.post(f"{url}/v1/pathway/timers/no-such-timer.due/fire", headers=headers, timeout=10)
    assert fired.status_code == 200, fired.text
    assert fired.json() == {"timer_id": "no-such-timer.due", "outcome": "unknown"}
    other = requests.get(f"{url}/v1/pathways/some-correlation", headers=headers, timeout=10)
    assert other.status_code == 403
