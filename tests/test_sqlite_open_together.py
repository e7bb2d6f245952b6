"""Processes opening one new SQLite store file at the same moment all open it, and migrate it once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from hub.store.sqlite_schema import MIGRATIONS

OPEN = """
import sys, time
from pathlib import Path
from hub.bodies import CodecRegistry, PlainCodec
from hub.store.sqlite import SQLiteStore
start = float(sys.argv[2])
while time.time() < start:
    pass
SQLiteStore(Path(sys.argv[1]), CodecRegistry(PlainCodec())).close()
print("opened")
"""


def test_processes_opening_a_new_store_file_at_once_all_open_it_and_migrate_it_once(tmp_path: Path) -> None:
    # the race is narrow (a new file's first change to WAL mode): several rounds of four processes each
    for round_ in range(6):
        path = tmp_path / f"hub-{round_}.db"
        start = time.time() + 1.5  # the processes wait for one moment, having imported everything
        command = [sys.executable, "-c", OPEN, str(path), str(start)]
        procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [proc.communicate(timeout=120) for proc in procs]
        assert [(proc.returncode, out.strip()) for proc, (out, _) in zip(procs, results, strict=True)] == [
            (0, "opened")
        ] * 4, [err for _, err in results]
        conn = sqlite3.connect(path)
        try:
            versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
            assert versions == [version for version, _ in MIGRATIONS]
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            conn.close()
