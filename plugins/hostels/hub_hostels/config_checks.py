"""The hostels plugin's checks of its own configuration, run by ``hub config check`` and at ``hub serve`` start.

``hostels-directory`` lists every problem of ``[plugins.hostels]`` and its ``[[plugins.hostels.service]]``
links (the keys ``ServiceLink.from_table`` refuses, each bad need, gender and area rather than the first, ages
inverted, links to partners that are unknown, of a kind that does not take referrals or whose agreement leaves
Referral out, services linked twice), of ``[listeners.directory-refresh]``, and warns of linked services the
imported directory does not hold or has withdrawn (read only: a check creates no file and no table). It also
checks ``[plugins.hostels.offers]`` and, when services are linked, that ``pathways.toml`` declares the offer
window's milestone (a warning otherwise: offers would never lapse).
"""

from __future__ import annotations

import copy
import re
import sqlite3
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hub import ConfigCheck, ConfigCheckContext, ConfigError, ConfigProblem, did_you_mean
from hub_hostels.directory.database import PREFIX, database_url
from hub_hostels.directory.links import _KEYS, GENDERS, NEEDS, LinkError, ServiceLink, postcode_district
from hub_hostels.directory.refresh import NAME as REFRESH
from hub_hostels.directory.refresh import _options
from hub_hostels.offers.terms import OfferSettings, OfferSettingsError

FILE = "hub.toml"
WHERE = "plugins.hostels"
#: the partner kinds that take referrals (the providers); a ``referrer`` refers, it never receives one
RECEIVING_KINDS = ("hostel", "charity")
_ENTRY = re.compile(r"^(?:hub\.toml: )?(?P<entry>[^\s:]+): (?P<problem>.*)$", re.S)


def directory_check() -> ConfigCheck:
    """The ``hostels-directory`` check (registered by ``hub_register_config_checks`` in ``plugin.py``)."""
    return ConfigCheck("hostels-directory", check_directory_config,
                       "[plugins.hostels] service links and [listeners.directory-refresh]")  # fmt: skip


def check_directory_config(context: ConfigCheckContext) -> Iterator[ConfigProblem]:
    """Every problem of the directory's configuration, and a warning per linked service not in the directory."""
    table = context.plugin_table("hostels")
    yield from _table_problems(table)
    raw_links = table.get("service", [])
    links: list[tuple[int, ServiceLink]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_links if isinstance(raw_links, list) else []):
        link, problems = _link_problems(index, raw)
        yield from problems
        where = f"{WHERE}.service[{index}]"
        partner = raw.get("partner") if isinstance(raw, dict) else None
        if isinstance(partner, str) and partner.strip():
            yield from _partner_problems(context, f"{where}.partner", partner)
        service_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(service_id, str) and service_id in seen:
            yield ConfigProblem(FILE, f"{where}.id", f"{service_id!r} is linked twice (service[{seen[service_id]}] "
                                "links it too)", "keep one link per service")  # fmt: skip
        elif isinstance(service_id, str):
            seen[service_id] = index
        if link is not None:
            links.append((index, link))
    yield from _refresh_problems(context)
    yield from _offer_problems(context, bool(raw_links))
    if links and context.settings is not None:
        yield from _directory_warnings(context.settings, links)


def _table_problems(table: Mapping[str, Any]) -> Iterator[ConfigProblem]:
    """``service`` an array of tables, ``needs_from_terms`` each value a need, ``directory_database`` a URL."""
    if "service" in table and not isinstance(table["service"], list):
        yield ConfigProblem(FILE, f"{WHERE}.service", "must be an array of tables",
                            "write each link as [[plugins.hostels.service]]")  # fmt: skip
    mapping = table.get("needs_from_terms")
    if mapping is not None and not isinstance(mapping, Mapping):
        yield ConfigProblem(FILE, f"{WHERE}.needs_from_terms", "a table of taxonomy term -> need",
                            'e.g. { "mental health" = "mental_health" }')  # fmt: skip
    elif mapping is not None:
        for term, need in mapping.items():
            if need not in NEEDS:
                yield ConfigProblem(FILE, f"{WHERE}.needs_from_terms.{term}", f"{need!r} is not a need",
                                    did_you_mean(str(need), NEEDS, "needs"))  # fmt: skip
    if "directory_database" in table:
        try:
            database_url(_Settings(table))
        except ValueError:
            yield ConfigProblem(FILE, f"{WHERE}.directory_database", "must be a URL, sqlite:///PATH or postgresql://...",
                                "e.g. 'sqlite:///var/directory.db' or 'postgresql://hub@db/hub'")  # fmt: skip


def _offer_problems(context: ConfigCheckContext, linked: bool) -> Iterator[ConfigProblem]:
    """``[plugins.hostels.offers]`` as ``OfferSettings`` reads it; the window's milestone in ``pathways.toml``."""
    try:
        offers = OfferSettings.from_settings(_Settings(context.plugin_table("hostels")))
    except OfferSettingsError as exc:
        match = _ENTRY.match(str(exc))
        entry, problem = (match["entry"], match["problem"]) if match else (f"{WHERE}.offers", str(exc))
        yield ConfigProblem(FILE, entry, problem)
        return
    if not linked:
        return
    path = Path(context.config_dir) / "pathways.toml"
    try:
        declared = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return  # the hub's own check reports a pathways.toml it cannot read
    found = declared.get("milestone")
    milestones: list[Any] = found if isinstance(found, list) else []
    names = [m.get("name") for m in milestones if isinstance(m, dict)]
    if offers.window_milestone not in names:
        yield ConfigProblem(
            "pathways.toml", f"milestone ({offers.window_milestone})",
            f"no milestone {offers.window_milestone!r}: offers made to linked services never lapse "
            "(the offer window is that milestone, started when an offered Referral is delivered)",
            "add the offer-window milestone of the example pathways.toml (docs/partners/hostels.md)", warning=True,
        )  # fmt: skip


class _Settings:
    """Just enough of the hub's settings for ``database_url`` to check ``directory_database``."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        self.plugin_settings = {"hostels": dict(table)}
        self.config_dir = Path(".")


def _link_problems(index: int, raw: Any) -> tuple[ServiceLink | None, list[ConfigProblem]]:
    """Every problem ``ServiceLink.from_table`` finds in one link: it stops at the first, so after each the
    value is dropped (a bad need, gender or area alone, so the others are read) and it runs again."""
    where = f"{WHERE}.service[{index}]"
    data = copy.deepcopy(raw)
    problems: list[ConfigProblem] = []
    for _ in range(50):
        try:
            link = ServiceLink.from_table(data, where)
        except LinkError as exc:
            match = _ENTRY.match(str(exc))
            entry, problem = (match["entry"], match["problem"]) if match else (where, str(exc))
            if any(p.entry == entry and p.problem == problem for p in problems):
                break
            key = entry[len(where) + 1 :].split(".")[0] if entry.startswith(f"{where}.") else ""
            problems.append(ConfigProblem(FILE, entry, problem, _suggestion(key, problem)))
            if not key or not _fix(data, key, problem):
                break
            continue
        return (link if not problems else None), problems
    return None, problems


def _suggestion(key: str, problem: str) -> str:
    quoted = re.match(r"'([^']*)'", problem)
    value = quoted.group(1) if quoted else ""
    if problem.startswith("not a key"):
        return did_you_mean(key, _KEYS, "keys of a service link")
    if key == "needs" and value:
        return did_you_mean(value, NEEDS, "needs")
    if key == "genders" and value:
        return did_you_mean(value, GENDERS, "genders")
    if key == "areas" and value:
        district = postcode_district(value)
        if district is not None:
            return f"a postcode's district: did you mean {district!r}?"
        if re.fullmatch(r"E\d{8}", value):
            return ("E06 (unitary), E07 (district), E08 (metropolitan) and E09 (London borough) codes are housing "
                    "authorities; a county (E10) is not: name its districts")  # fmt: skip
        return "a GSS code such as E06000032, or a postcode district such as LU1"
    if key == "minimum_age" and "above maximum_age" in problem:
        return "swap minimum_age and maximum_age"
    return ""


def _fix(data: Any, key: str, problem: str) -> bool:
    """Take the refused value out of the link's copy; False when nothing could be changed."""
    if not isinstance(data, dict) or key not in data:
        if isinstance(data, dict) and key in ("id", "partner"):
            data[key] = "-"  # a required key: a stand-in, so the rest of the link is read
            return True
        return False
    quoted = re.match(r"'([^']*)'", problem)
    values = data[key]
    if quoted and key in ("needs", "genders", "areas") and isinstance(values, list):
        bad = quoted.group(1)
        kept = [v for v in values if not isinstance(v, str) or _norm(key, v) != bad]
        if kept and len(kept) < len(values):
            data[key] = kept
            return True
    if key == "minimum_age" and "above maximum_age" in problem:
        data.pop("maximum_age", None)
    if key in ("id", "partner"):
        data[key] = "-"
        return True
    del data[key]
    return True


def _norm(key: str, value: str) -> str:
    return value.strip().upper() if key == "areas" else value.strip().lower()


def _partner_problems(context: ConfigCheckContext, entry: str, partner_id: str) -> Iterator[ConfigProblem]:
    """The linked partner exists, is of a kind that takes referrals, and its agreement lets it receive them."""
    receivers = sorted(p.id for p in context.partners.values() if p.kind in RECEIVING_KINDS
                       and (p.agreement is None or p.agreement.allows_type("Referral")))  # fmt: skip
    partner = context.partners.get(partner_id)
    if partner is None:
        if partner_id in context.broken_partners:
            yield ConfigProblem(FILE, entry, f"names partner {partner_id!r}, whose entry in partners.toml has a "
                                "problem (listed above)", "fix that entry first")  # fmt: skip
        else:
            yield ConfigProblem(FILE, entry, f"{partner_id!r} is not a partner of partners.toml",
                                did_you_mean(partner_id, context.partners, "partners"))  # fmt: skip
        return
    if partner.kind not in RECEIVING_KINDS:
        yield ConfigProblem(FILE, entry, f"{partner_id!r} is a partner of kind {partner.kind!r}, which does not "
                            f"take referrals (the kinds that do: {', '.join(RECEIVING_KINDS)})",
                            f"link the service to one of: {', '.join(receivers)}" if receivers
                            else "add the provider to partners.toml with kind 'hostel' or 'charity'")  # fmt: skip
    elif partner.agreement is not None and not partner.agreement.allows_type("Referral"):
        yield ConfigProblem(FILE, entry, f"the agreement of {partner_id!r} does not allow Referral, so no referral "
                            "to this service could be delivered",
                            "add 'Referral' to its agreement.types in partners.toml")  # fmt: skip


def _refresh_problems(context: ConfigCheckContext) -> Iterator[ConfigProblem]:
    """Each bad option of ``[listeners.directory-refresh]`` (the listener checks them only as it starts)."""
    options = context.listener_table(REFRESH)
    if options is None:
        return
    data = dict(options)
    reported: set[str] = set()
    for _ in range(10):
        try:
            _options(data)
            return
        except ConfigError as exc:
            match = _ENTRY.match(str(exc))
            if match is None or match["entry"] in reported:
                return
            entry = match["entry"]
            reported.add(entry)
            key = entry.split(".")[2].split("[")[0] if entry.count(".") >= 2 else ""
            yield ConfigProblem(FILE, entry, match["problem"])
            if key not in data or key == "feeds":
                return
            del data[key]


def _directory_warnings(settings: Any, links: list[tuple[int, ServiceLink]]) -> Iterator[ConfigProblem]:
    """A warning for each linked service the imported directory does not hold or has withdrawn (read only)."""
    try:
        url = database_url(settings)
    except ValueError:  # directory_database is wrong: listed above
        return
    try:
        held = _directory_services(url)
    except Exception as exc:  # an unreachable directory is a warning; its problems are the directory's
        yield ConfigProblem(FILE, f"{WHERE}.service", f"the directory could not be read ({type(exc).__name__}), so "
                            "the links were not compared with it", warning=True)  # fmt: skip
        return
    if held is None:
        yield ConfigProblem(FILE, f"{WHERE}.service", f"{len(links)} services are linked, but no directory has been "
                            "imported yet", "run 'hub directory import FEED'", warning=True)  # fmt: skip
        return
    active = [service_id for service_id, withdrawn in held.items() if not withdrawn]
    for index, link in links:
        entry = f"{WHERE}.service[{index}].id"
        if link.service_id not in held:
            yield ConfigProblem(FILE, entry, f"{link.service_id!r} is not a service of the imported directory",
                                did_you_mean(link.service_id, active, "services of the directory") if len(held) < 200
                                else "check the id against 'hub directory list --all'", warning=True)  # fmt: skip
        elif held[link.service_id]:
            yield ConfigProblem(FILE, entry, f"{link.service_id!r} is withdrawn from the directory: it is never "
                                "offered", "remove the link, or check the feed", warning=True)  # fmt: skip


def _directory_services(url: str) -> dict[str, bool] | None:
    """Each service id of the directory at ``url`` and whether it is withdrawn; None when there is no directory."""
    query = f"SELECT id, withdrawn_at IS NOT NULL FROM {PREFIX}service"
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if not path.exists():
            return None
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (f"{PREFIX}service",)).fetchone()  # fmt: skip
            return {row[0]: bool(row[1]) for row in conn.execute(query)} if found else None
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as pg:
        row = pg.execute("SELECT to_regclass(%s)", (f"{PREFIX}service",)).fetchone()
        if row is None or row[0] is None:
            return None
        return {str(r[0]): bool(r[1]) for r in pg.execute(query)}


__all__ = ["RECEIVING_KINDS", "check_directory_config", "directory_check"]
