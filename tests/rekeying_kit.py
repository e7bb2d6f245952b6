"""What the tests of a keyed index's re-keying share: a hub that leaves delivery and rebuilds to separate
``hub worker`` processes, those workers, and reads of the store beside it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub.testing.raw_store import raw_store
from hub.testing.world import HubWorld, build_world


@contextlib.contextmanager
def hub_without_worker(tmp_path: Path, settle_seconds: float) -> Iterator[HubWorld]:
    """The standard partners and ``hub serve --no-worker``, with ``[keys] index_settle_seconds`` set."""
    built = build_world(tmp_path / "config", settings={"keys": {"index_settle_seconds": settle_seconds}},
                        hub_args=["--no-worker"])  # fmt: skip
    try:
        yield built
    finally:
        built.stop()


def start_worker(world: HubWorld, n: int) -> subprocess.Popen[bytes]:
    """A ``hub worker`` beside the world's hub, logging to ``worker-N.log`` in its config folder."""
    with (world.config_dir / f"worker-{n}.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "hub", "worker", "--config", str(world.config_dir)],
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def query(world: HubWorld, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of a statement run on the world's store directly (either backend)."""
    conn = raw_store(world)
    try:
        return [tuple(row) for row in conn.execute(statement, args).fetchall()]
    finally:
        conn.close() if hasattr(conn, "close") else conn.conn.close()
