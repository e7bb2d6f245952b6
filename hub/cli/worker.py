"""``hub worker``: delivery only, beside one or more ``hub serve --no-worker``."""

from __future__ import annotations

from pathlib import Path

import click

from hub.cli.common import build, config_option, friendly_errors


@click.command()
@config_option
@friendly_errors
def worker(config_dir: Path | None) -> None:
    """Deliver due messages until stopped (no HTTP API), beside one or more 'hub serve --no-worker'."""
    import asyncio
    import signal

    hub = build(config_dir)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await hub.make_worker().run(stop)

    try:
        asyncio.run(run())
    finally:
        hub.close()
