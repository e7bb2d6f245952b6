"""``hub demo``: the whole discharge pathway on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option("--timeout", type=float, default=25.0, show_default=True, help="Give up after this many seconds.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo's config and store in this directory instead of a temporary one.")  # fmt: skip
def demo(timeout: float, keep: Path | None) -> None:
    """Run the whole discharge pathway on loopback: a trust, a council, a hostel and an IPS service."""
    from hub.demo import run_demo

    sys.exit(run_demo(timeout=timeout, keep=keep))
