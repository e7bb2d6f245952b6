"""The ``listener`` kind: an inbound listener's plugin module, tests and README section."""

from __future__ import annotations

from hub.cli.scaffold_kinds.kind import Kind

LISTENER = Kind(
    name="listener",
    hook="hub_register_listeners",
    summary="an inbound listener: brings messages in by a way other than the HTTP API",
    plugin='''"""The ``{name}`` listener: takes each file dropped in a folder as a message from one partner.

Replace the folder with the partner's channel. The contract (``hub.Listener``): ``start(context)`` returns once
listening; ``context.submit(body, content_type=..., sender_id=..., idempotency_key=...)`` parses, validates and
durably stores one body, raising a ``HubError`` with every problem when it is refused; a listener lets go of
what it received (here: moves the file) only after ``submit`` returned, and records a refusal it cannot answer
with ``context.record_refusal``. ``stop`` ends it without losing what was not yet stored.

Options (``[listeners.{name}]`` in ``hub.toml``): ``directory`` (read), ``sender`` (the partner id the files
come from), ``content_type`` (default ``application/json``), ``interval_seconds`` (default 0.5).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from hub import HubError, ListenerContext, hookimpl

log = logging.getLogger(__name__)


class {cls}Listener:
    """Polls ``options.directory`` (see the module docstring)."""

    name = "{name}"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def start(self, context: ListenerContext) -> None:
        """Check the options and start polling."""
        options = context.options
        for key in ("directory", "sender"):
            if not isinstance(options.get(key), str):
                raise ValueError(f"hub.toml: listeners.{name}.{{key}}: required (a string)")
        folder = Path(options["directory"])
        for sub in ("done", "refused"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._poll(context, folder))

    async def stop(self) -> None:
        """Stop polling (a file being stored is finished first)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self, context: ListenerContext, folder: Path) -> None:
        options = context.options
        while True:
            for path in sorted(p for p in folder.iterdir() if p.is_file()):
                body = path.read_bytes()
                content_type = options.get("content_type", "application/json")
                try:
                    await asyncio.shield(context.submit(body, content_type=content_type, sender_id=options["sender"],
                                                        idempotency_key=f"{name}:{{path.name}}"))
                except HubError as exc:
                    if context.record_refusal is not None:
                        await context.record_refusal(listener="{name}", reference=path.name,
                                                     source=options["sender"], error=exc)
                    path.rename(folder / "refused" / path.name)
                    log.warning("{name}: %s refused (%s)", path.name, exc.title)
                    continue
                path.rename(folder / "done" / path.name)
            await asyncio.sleep(float(options.get("interval_seconds", 0.5)))


@hookimpl
def hub_register_listeners(register: Any) -> None:
    """Register the ``{name}`` listener (``hub serve`` starts it for a ``[listeners.{name}]`` table)."""
    register({cls}Listener())
''',
    tests='''"""The ``{name}`` listener in a running hub: a dropped file is delivered, a bad one set aside."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from samples import KIND, RECEIVER, SENDER, TYPE, example_message

from hub.testing import HubWorld, Partner, wait_until


def test_a_dropped_file_is_taken_in_and_delivered(hub_world_factory: Callable[..., HubWorld], tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    settings = {{"listeners": {{"{name}": {{"directory": str(folder), "sender": SENDER, "interval_seconds": 0.1}}}}}}
    partners = [Partner(SENDER, KIND), Partner(RECEIVER, KIND)]
    world = hub_world_factory(partners, routes=[{{"name": "example", "type": TYPE, "to": "recipient"}}],
                              settings=settings)
    (folder / "one.json").write_text(json.dumps(example_message()))
    (folder / "two.json").write_text("not json")
    assert wait_until(lambda: world.sims[RECEIVER].messages(TYPE), timeout=20)
    assert wait_until(lambda: (folder / "refused" / "two.json").exists(), timeout=20)
    assert (folder / "done" / "one.json").exists()
''',
    configure="""`hub serve` starts it when `hub.toml` has its table:

```toml
[listeners.{name}]
directory = "/srv/hub/drop"
sender = "my-partner"                    # the partner the files come from
```""",
)
