"""Hundreds of clients trickling request headers a byte at a time, while a partner sends as usual.

Every slow connection is closed once it has gone ``[server] header_timeout_seconds`` without whole headers, though
it never stops sending; the partner's messages are all accepted meanwhile. (The MLLP listener's counterpart is in
``plugins/nhs/tests/test_mllp_slow_clients.py``.)
"""

from __future__ import annotations

from pathlib import Path

from hub.testing import wait_until
from hub.testing.messages import housing_request
from hub.testing.slow_clients import SlowClients
from hub.testing.world import build_world

SLOW = 300
HEAD = b"POST /v1/messages HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nX-Slow: "


def test_slow_clients_are_disconnected_and_a_normal_sender_is_served(tmp_path: Path) -> None:
    world = build_world(tmp_path / "config", settings={"server": {"header_timeout_seconds": 3}})
    try:
        with SlowClients("127.0.0.1", world.port, HEAD, SLOW, interval=0.5) as slow:
            sent = [world.send("trust-a", housing_request()) for _ in range(50)]
            open_while_sending = slow.open_count
            assert [r.status_code for r in sent] == [202] * 50
            assert wait_until(lambda: slow.open_count == 0, timeout=90), f"{slow.open_count} slow clients still open"
            assert slow.closed == SLOW
            assert slow.sent_bytes >= 2 * SLOW, "the clients did not keep sending: the test proves nothing"
        delivered = world.sims["council-luton"]
        ids = {r.json()["id"] for r in sent}
        assert delivered.wait_for(lambda s: len(s.unique_ids()) >= len(ids), timeout=60)
        assert world.send("trust-a", housing_request()).status_code == 202  # the hub serves on
        print(f"HTTP slow clients: {SLOW} trickling headers ({slow.sent_bytes} bytes), {open_while_sending} open "
              f"while 50 messages were sent (all 202), {slow.closed} closed by the header deadline")  # fmt: skip
    finally:
        world.stop()
