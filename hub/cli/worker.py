"""``hub worker``: delivery only, beside one or more ``hub serve --no-worker``."""

from __future__ import annotations

from pathlib import Path

import click

from hub import gc_tuning
from hub.cli.common import build, config_option, friendly_errors


@click.command()
@config_option
@click.option("--listeners", "with_listeners", is_flag=True,
              help="Also run the listeners hub.toml enables (then start 'hub serve' with --no-listeners).")  # fmt: skip
@friendly_errors
def worker(config_dir: Path | None, with_listeners: bool) -> None:
    """Deliver due messages until stopped (no HTTP API), beside one or more 'hub serve --no-worker'.

    With --listeners it also hosts the listeners (MLLP, MESH, ...), so that no HTTP process needs to.
    """
    import asyncio
    import signal

    from hub.lifecycle import HubLifecycle, enabled_listeners

    hub = build(config_dir)
    hub.metrics.set("hub_processes", 1, role="worker")
    if with_listeners:
        enabled_listeners(hub)  # a listener no plugin registers: say so in one line, before anything starts

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await HubLifecycle(hub, run_worker=True, run_listeners=with_listeners).run_until(stop)

    gc_tuning.settle()  # what start-up built is never walked by the collector again
    try:
        asyncio.run(run())
    finally:
        hub.close()
