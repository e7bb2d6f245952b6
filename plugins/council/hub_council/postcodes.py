"""Postcode -> local authority lookups: the imported ONS Postcode Directory, then the shipped small table.

Two sources, consulted in this order:

1. ``geo.db``: a SQLite file made by ``hub geo import ONSPD.csv`` (table
   ``postcode(pc, gss)``, postcodes normalised to upper case without spaces);
2. ``postcodes.csv``: a small table shipped in this plugin's package
   (``hub_council/postcodes.csv``, columns ``pcds,oslaua``) covering the
   example partners' areas.

A lookup returns the ONSPD ``oslaua`` code as found (it may be a county, E10,
or a Welsh or Scottish code); deciding whether that is a housing authority is
the caller's job (``authority.choose_authority``). Postcodes are never logged.
"""

from __future__ import annotations

import csv
import functools
import os
import re
import sqlite3
import threading
from importlib.resources import files
from pathlib import Path

GEO_DB_ENV = "HUB_GEO_DB"
POSTCODES_ENV = "HUB_POSTCODES"
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")


def normalise_postcode(value: str) -> str | None:
    """``" lu1 2aa "`` -> ``"LU12AA"``; None when it is not shaped like a UK postcode."""
    compact = re.sub(r"\s+", "", value or "").upper()
    return compact if _POSTCODE.match(compact) else None


def default_table_path() -> Path:
    """The shipped table: ``$HUB_POSTCODES``, else ``hub_council/postcodes.csv`` from this plugin's package data."""
    env = os.environ.get(POSTCODES_ENV)
    if env:
        return Path(env)
    shipped = files("hub_council").joinpath("postcodes.csv")
    if not isinstance(shipped, Path):  # the lookups below watch the file's mtime, so they need a real file
        raise RuntimeError("hub_council is not installed as plain files; set HUB_POSTCODES to the postcode table")
    return shipped


def default_geo_db() -> Path | None:
    """The imported directory: ``$HUB_GEO_DB``, else ``geo.db`` beside ``$HUB_DB``, else None."""
    env = os.environ.get(GEO_DB_ENV)
    if env:
        return Path(env)
    store = os.environ.get("HUB_DB")
    return Path(store).parent / "geo.db" if store else None


@functools.cache
def _load_table(path: Path, mtime_ns: int) -> dict[str, str]:
    table: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            postcode = normalise_postcode(row.get("pcds") or "")
            code = (row.get("oslaua") or "").strip()
            if postcode and code:
                table[postcode] = code
    return table


def table_lookup(postcode: str, path: Path | None = None) -> str | None:
    """The authority code for a normalised postcode in the small CSV table, or None."""
    path = path or default_table_path()
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    return _load_table(path, mtime).get(postcode)


class PostcodeDirectory:
    """Looks postcodes up in geo.db files and the shipped table; one per process, made by the plugin.

    geo.db connections are read-only and reopened when a new import has
    replaced the file (``hub geo import`` swaps it in atomically).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, tuple[tuple[int, int], sqlite3.Connection]] = {}

    def geo_lookup(self, postcode: str, path: Path) -> str | None:
        """The code for a normalised postcode in an imported geo.db, or None (also when there is no file)."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        identity = (stat.st_ino, stat.st_mtime_ns)
        with self._lock:
            cached = self._open.get(path)
            if cached is None or cached[0] != identity:
                if cached is not None:
                    cached[1].close()
                conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
                self._open[path] = (identity, conn)
            conn = self._open[path][1]
            row = conn.execute("SELECT gss FROM postcode WHERE pc=?", (postcode,)).fetchone()
        return str(row[0]) if row else None

    def lookup(self, postcode: str, *, geo_db: Path | None = None, table: Path | None = None) -> str | None:
        """The ONSPD ``oslaua`` code for ``postcode`` (any spelling): geo.db first, then the shipped table."""
        normalised = normalise_postcode(postcode)
        if normalised is None:
            return None
        database = geo_db if geo_db is not None else default_geo_db()
        if database is not None:
            found = self.geo_lookup(normalised, database)
            if found:
                return found
        return table_lookup(normalised, table)

    def close(self) -> None:
        """Close every open geo.db connection."""
        with self._lock:
            for _, conn in self._open.values():
                conn.close()
            self._open.clear()
