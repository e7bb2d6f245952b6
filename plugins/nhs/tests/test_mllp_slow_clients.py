"""Hundreds of MLLP connections trickling a frame a byte at a time, while a trust sends ADT messages as usual.

Every slow connection is closed once it has gone ``frame_timeout_seconds`` since its first byte without a
complete frame, though it never stops sending; the trust's messages are all answered AA meanwhile, and a sender
that pauses between whole frames keeps its connection.
"""

from __future__ import annotations

from hl7_support import MllpClient, adt_a03, hl7_hub_factory, mllp_hub
from hub_nhs.hl7v2.framing import START_BLOCK

from hub.testing import wait_until
from hub.testing.slow_clients import SlowClients

__all__ = ["hl7_hub_factory"]  # the fixture, imported so that pytest finds it here

SLOW = 200


def test_slow_mllp_clients_are_disconnected_and_a_normal_sender_is_served(hl7_hub_factory) -> None:
    _world, port = mllp_hub(hl7_hub_factory, frame_timeout_seconds=3)
    with SlowClients("127.0.0.1", port, START_BLOCK + b"MSH|^~\\&|SLOW|", SLOW, interval=0.5) as slow:
        with MllpClient(port) as client:
            acks = [client.send(adt_a03(control=f"N-{n}"))["code"] for n in range(20)]
            open_while_sending = slow.open_count
            assert acks == ["AA"] * 20
            assert wait_until(lambda: slow.open_count == 0, timeout=90), f"{slow.open_count} slow clients still open"
            # the normal sender, quiet between whole frames meanwhile, was not cut off
            assert client.send(adt_a03(control="N-last"))["code"] == "AA"
        assert slow.closed == SLOW
        assert slow.sent_bytes >= 2 * SLOW, "the clients did not keep sending: the test proves nothing"
    print(f"MLLP slow clients: {SLOW} trickling a frame ({slow.sent_bytes} bytes), {open_while_sending} open while "
          f"20 ADT messages were sent (all AA), {slow.closed} closed by the frame deadline")  # fmt: skip
