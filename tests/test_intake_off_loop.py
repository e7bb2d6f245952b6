"""A large request body is parsed in the thread pool, so that the event loop keeps serving; a small one in place."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from hub.api.deps import OFF_LOOP_PARSE_BYTES, parse_body
from hub.runtime import Hub, build_hub
from hub.testing import write_config
from hub.testing.messages import housing_request


def loop_turns_while_parsing(hub: Hub, body: bytes) -> tuple[int, str]:
    """How often another task ran while ``parse_body`` read ``body``, and the message id it read."""

    async def scenario() -> tuple[int, str]:
        turns = 0
        stop = False

        async def other_work() -> None:
            nonlocal turns
            while not stop:
                turns += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(other_work())
        await asyncio.sleep(0)  # let it start
        before = turns
        parsed = await parse_body(hub, body, "application/json", "trust-elft")
        during = turns - before
        stop = True
        await task
        return during, parsed[0].message["message_id"]

    return asyncio.run(scenario())


def test_a_large_body_is_parsed_off_the_event_loop_and_a_small_one_in_place(tmp_path: Path) -> None:
    trust = {"id": "trust-elft", "kind": "nhs_trust", "receive": {"mode": "pull"}}
    config_dir = write_config(tmp_path / "config", partners=[trust])
    hub = build_hub(config_dir)
    try:
        small = housing_request(sender="trust-elft")
        small_body = orjson.dumps(small)
        assert len(small_body) < OFF_LOOP_PARSE_BYTES
        large = housing_request(sender="trust-elft")
        large["payload"]["housing_situation"] = "x" * (2 * OFF_LOOP_PARSE_BYTES)
        large_body = orjson.dumps(large)

        # in place: nothing else can run until the parse is done; off the loop: the loop serves others meanwhile
        assert loop_turns_while_parsing(hub, small_body) == (0, small["message_id"])
        turns, message_id = loop_turns_while_parsing(hub, large_body)
        assert turns > 0 and message_id == large["message_id"]
    finally:
        hub.close()
