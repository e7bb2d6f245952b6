"""Known vulnerabilities of installed Python distributions, read from a folder of OSV advisories (.ci/audit's fallback).

The folder is a copy of an advisory database in the OSV format (https://ossf.github.io/osv-schema/), such as the
Python Packaging Advisory Database (its ``vulns/`` folder: one YAML file per advisory), or any folder of OSV ``.json``
or ``.yaml`` files; it is searched recursively. Only ``affected`` entries of the ``PyPI`` ecosystem count, and
withdrawn advisories are left out. A version is affected when it is listed in ``versions``, or falls within an
``ECOSYSTEM`` range: at or after an ``introduced`` event and before the next ``fixed`` (or at or before the next
``last_affected``), versions compared as PEP 440 versions.

``audit(folder, distributions)`` answers in pip-audit's JSON shape (``{"name", "version", "vulns": [{"id",
"aliases", "fix_versions"}]}``), so .ci/audit judges both sources alike, and says how old the data is: the newest
``modified`` time among the advisories read (a time in the future, which some records carry by mistake, is not
taken for the data's age).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version


def canonical_name(name: str) -> str:
    """PEP 503's normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Advisories:
    """The advisories of one folder, by the canonical name of each package they name."""

    by_package: dict[str, list[dict[str, Any]]]
    count: int
    newest: datetime | None


def _records(folder: Path) -> Iterator[dict[str, Any]]:
    import yaml  # the audit tools' environment has it (Makefile: AUDIT_TOOLS)

    for path in sorted(folder.rglob("*")):
        if path.suffix == ".json":
            record = json.loads(path.read_text())
        elif path.suffix in (".yaml", ".yml"):
            record = yaml.safe_load(path.read_text())
        else:
            continue
        if isinstance(record, dict) and record.get("id"):
            yield record


def load(folder: Path) -> Advisories:
    """Read every OSV advisory under ``folder``; raise ``ValueError`` when there is none."""
    by_package: dict[str, list[dict[str, Any]]] = {}
    count, newest, now = 0, None, datetime.now(UTC)
    for record in _records(folder):
        if record.get("withdrawn"):
            continue
        count += 1
        modified = str(record.get("modified") or "")
        if modified:
            moment = datetime.fromisoformat(modified.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            if moment <= now and (newest is None or moment > newest):
                newest = moment
        for affected in record.get("affected") or []:
            package = affected.get("package") or {}
            if package.get("ecosystem") == "PyPI" and package.get("name"):
                by_package.setdefault(canonical_name(package["name"]), []).append(record)
    if count == 0:
        raise ValueError(f"{folder}: no OSV advisory (.json or .yaml with an id) found there")
    return Advisories(by_package, count, newest)


def _version(text: object) -> Version | None:
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def _in_range(version: Version, events: list[dict[str, Any]]) -> bool:
    """Whether ``version`` is within one OSV ECOSYSTEM range (its events in any order)."""
    points: list[tuple[Version, str]] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind in event:
                at = Version("0") if kind == "introduced" and str(event[kind]) == "0" else _version(event[kind])
                if at is not None:
                    points.append((at, kind))
    points.sort(key=lambda point: (point[0], point[1] != "introduced"))
    affected = False
    for at, kind in points:
        if kind == "introduced" and at <= version:
            affected = True
        elif (kind in ("fixed", "limit") and at <= version) or (kind == "last_affected" and at < version):
            affected = False
    return affected


def _fixes(affected: dict[str, Any]) -> list[str]:
    ranges = [r for r in affected.get("ranges") or [] if r.get("type") == "ECOSYSTEM"]
    return [str(e["fixed"]) for r in ranges for e in r.get("events") or [] if "fixed" in e]


def vulnerabilities(advisories: Advisories, name: str, version_text: str) -> list[dict[str, Any]]:
    """The advisories that affect ``name`` at ``version_text``, in pip-audit's shape."""
    version = _version(version_text)
    found = []
    for record in advisories.by_package.get(canonical_name(name), []):
        for affected in record.get("affected") or []:
            package = affected.get("package") or {}
            if package.get("ecosystem") != "PyPI" or canonical_name(str(package.get("name", ""))) != canonical_name(
                name
            ):
                continue
            listed = version_text in {str(v) for v in affected.get("versions") or []}
            ranged = version is not None and any(
                _in_range(version, r.get("events") or [])
                for r in affected.get("ranges") or []
                if r.get("type") == "ECOSYSTEM"
            )
            if listed or ranged:
                found.append(
                    {"id": record["id"], "aliases": list(record.get("aliases") or []), "fix_versions": _fixes(affected)}
                )
                break
    return found


def audit(advisories: Advisories, distributions: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """pip-audit's ``dependencies`` for ``(name, version)`` pairs, judged against ``advisories``."""
    return [{"name": n, "version": v, "vulns": vulnerabilities(advisories, n, v)} for n, v in distributions]
