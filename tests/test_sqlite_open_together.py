"""Processes opening one new SQLite store file at the same moment all open it, and migrate it once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.store.sqlite_schema import MIGRATIONS

OPEN = """
import sys, time
from pathlib import Path
from hub.bodies import CodecRegistry, PlainCodec
from hub.store.sqlite import SQLiteStore
start = float(sys.argv[2])
late = time.time() > start  # imports took longer than the lead: said, so the test can tell
time.sleep(max(0.0, start - time.time() - 0.02))
while time.time() < start:  # the last moment spun, so that all begin within a scheduler tick
    pass
SQLiteStore(Path(sys.argv[1]), CodecRegistry(PlainCodec())).close()
print("late" if late else "opened")
"""


def test_processes_opening_a_new_store_file_at_once_all_open_it_and_migrate_it_once(tmp_path: Path) -> None:
    # the race is narrow (a new file's first change to WAL mode): rounds of four processes that begin at one moment;
    # a round in which one was late (its imports outlasted the lead, on a loaded machine) must open too but proves less
    together = 0
    for round_ in range(12):
        path = tmp_path / f"hub-{round_}.db"
        start = time.time() + 3.0  # the processes wait for one moment, having imported everything
        command = [sys.executable, "-c", OPEN, str(path), str(start)]
        procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [proc.communicate(timeout=120) for proc in procs]
        assert [proc.returncode for proc in procs] == [0] * 4, [err for _, err in results]
        together += all(out.strip() == "opened" for out, _ in results)
        conn = sqlite3.connect(path)
        try:
            versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
            assert versions == [version for version, _ in MIGRATIONS]
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            conn.close()
        if together == 6:
            break
    if together < 3:  # every process opened the store; too few began together to show the race as well
        pytest.skip(f"only {together} of {round_ + 1} rounds began together: the machine is too loaded to race")


def test_a_database_that_cannot_take_write_ahead_logging_is_refused_saying_which_mode_it_kept(tmp_path: Path) -> None:
    from hub import use_wal

    path = tmp_path / "plain.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()  # a rollback-journal file
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):  # SQLite's own refusal
            use_wal(read_only, timeout=1.0)
    finally:
        read_only.close()
    no_shared_memory = sqlite3.connect(f"file:{path}?vfs=unix-none", uri=True)
    try:
        with pytest.raises(sqlite3.NotSupportedError, match=r"kept journal mode 'delete' for .*plain\.db"):
            use_wal(no_shared_memory, timeout=1.0)
    finally:
        no_shared_memory.close()
    memory = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.NotSupportedError, match="'memory' for an in-memory database"):
        use_wal(memory, timeout=1.0)
    memory.close()
    writable = sqlite3.connect(path)
    use_wal(writable)  # the same file, writable, changes
    assert writable.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    writable.close()
