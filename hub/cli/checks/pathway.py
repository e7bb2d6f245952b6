"""The checker of the care pathway: ``pathways.toml`` and ``hub.toml``'s ``[pathway]`` section.

``pathways.toml``: each ``[[milestone]]`` and ``[[close_pathway]]`` on its own, every problem of it (message
types the plugins register, offsets, the responsible partner and those ``on_breach`` notifies among the
partners that parsed), milestone names used twice, the time zone. ``[pathway]``: the scheduler among the
registered ``SchedulerSpec`` s, each value, each ``[[pathway.scheduler_identities]]`` entry on its own and
names declared twice.

The loaders stop at an entry's first problem; ``every_problem`` runs them again on a copy of the entry with
that value replaced by the suggested near name, by a stand-in that lets the rest be read (a required value),
or dropped, until the entry parses or a problem repeats.
"""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from hub.cli.checks import CheckContext, Finding, config_check, from_error, nearest, suggest
from hub.plugin_api.problems import ConfigError

FILE = "pathways.toml"
HUB_TOML = "hub.toml"
T = TypeVar("T")
_DROP = object()
_PART = re.compile(r"^([^.\[\]]+)((?:\[\d+\])*)$")


@config_check(FILE, order=50)
def check_pathway(context: CheckContext) -> Iterator[Finding]:
    """Every problem of ``hub.toml``'s ``[pathway]`` and of ``pathways.toml``."""
    yield from _hub_toml_pathway(context)
    data, problems = context.read_toml(FILE, required=False)
    yield from problems
    if data is not None:
        yield from _pathways_toml(context, data)


# -- hub.toml [pathway] ------------------------------------------------------------------------------------------


def _hub_toml_pathway(context: CheckContext) -> Iterator[Finding]:
    data = context.found.get("hub_toml")
    raw = data.get("pathway") if isinstance(data, dict) else None
    if raw is None:
        return
    if not isinstance(raw, dict):
        yield Finding(HUB_TOML, "[pathway]", "must be a table", 'write [pathway] with scheduler = "embedded"')
        return
    schedulers = context.plugins.schedulers
    identities = raw.get("scheduler_identities", [])
    top = {key: value for key, value in raw.items() if key != "scheduler_identities" or not isinstance(value, list)}
    _, findings = every_problem(_pathway_settings, top, HUB_TOML, "pathway")
    yield from findings
    scheduler = raw.get("scheduler", "embedded")
    if isinstance(scheduler, str) and scheduler not in schedulers:
        yield Finding(HUB_TOML, "pathway.scheduler", f"{scheduler!r} is not a scheduler a loaded plugin registers",
                      suggest(scheduler, schedulers, "schedulers"))  # fmt: skip
    for key, table in raw.items():
        if isinstance(table, dict) and key not in schedulers:
            yield Finding(HUB_TOML, f"pathway.{key}", "a settings table of a scheduler no loaded plugin registers",
                          suggest(key, schedulers, "schedulers"))  # fmt: skip
    if not isinstance(identities, list):
        return
    seen: dict[str, int] = {}
    for index, identity in enumerate(identities):
        prefix = f"pathway.scheduler_identities[{index}]"

        def read_identity(entry: Any, at: int = index) -> Any:
            try:
                return _pathway_settings({"scheduler_identities": [entry]})
            except ConfigError as exc:
                raise ConfigError(str(exc).replace("scheduler_identities[0]", f"scheduler_identities[{at}]")) from None

        _, findings = every_problem(read_identity, identity, HUB_TOML, prefix, stand_ins={"name": f"identity-{index}"})
        yield from findings
        name = identity.get("name") if isinstance(identity, dict) else None
        if isinstance(name, str) and name in seen:
            yield Finding(HUB_TOML, f"{prefix}.name", f"{name!r} is already the name of scheduler_identities"
                          f"[{seen[name]}]", "give each scheduler identity a name of its own")  # fmt: skip
        if isinstance(name, str):
            seen.setdefault(name, index)


def _pathway_settings(table: Any) -> Any:
    """``load_settings`` of a ``hub.toml`` holding only ``[pathway] = table`` (in a scratch folder)."""
    from hub.config import load_settings
    from hub.testing.toml_writer import dumps

    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / HUB_TOML).write_text(dumps({"pathway": table}), encoding="utf-8")
        return load_settings(Path(scratch)).pathway


# -- pathways.toml -----------------------------------------------------------------------------------------------


def _pathways_toml(context: CheckContext, data: dict[str, Any]) -> Iterator[Finding]:
    from zoneinfo import available_timezones

    from hub.partners import PartnerDirectory
    from hub.pathway.parse import NOTIFY_ROLES, parse_pathways

    plugins = context.plugins
    vocabulary = plugins.vocabulary
    partners = context.found.get("partners") or PartnerDirectory.build([], [], {})
    broken = tuple(context.found.get("broken_partners", ()))
    types = sorted(vocabulary.message_types)
    zones = sorted(available_timezones())

    def pools(problem: str) -> list[str]:
        """The names a problem's quoted value is compared with: only those of the kind it is about."""
        if "message type" in problem:
            return types
        if "partner" in problem:
            return sorted(partners.partners)
        return zones if "time zone" in problem else []

    lists = ("milestone", "close_pathway")
    top = {key: value for key, value in data.items() if key not in lists or not isinstance(value, list)}
    _, findings = every_problem(lambda d: parse_pathways(d, partners, vocabulary), top, FILE, "", pools)
    yield from findings
    stand_ins: dict[str, Any] = {
        "type": types[0] if types else "X", "after": "1mo", "on": "delivered", "from": "event",
        "responsible": "sender", "name": "milestone", "reason": "closed",
        "start": {"type": types[0] if types else "X"}, "due": {"after": "1mo"},
        "closed_by": [{"type": types[0] if types else "X"}],
    }  # fmt: skip
    notify_pool = [*partners.partners, *NOTIFY_ROLES]
    names: dict[str, int] = {}
    for key in lists:
        entries = data.get(key, [])
        for index, raw in enumerate(entries if isinstance(entries, list) else []):
            prefix = f"{key}[{index}]"

            def read(entry: Any, at: str = prefix, table: str = key) -> Any:
                try:
                    return parse_pathways({table: [entry]}, partners, vocabulary)
                except ConfigError as exc:
                    text = re.sub(rf"{table}\[0\](?: \([^)]*\))?", at, str(exc), count=1)
                    raise ConfigError(text) from None

            _, findings = every_problem(read, raw, FILE, prefix, pools, stand_ins)
            name = raw.get("name") if isinstance(raw, dict) and key == "milestone" else None
            label = f"{prefix} ({name})" if isinstance(name, str) else prefix
            for finding in findings:
                entry = label + finding.entry[len(prefix) :] if finding.entry.startswith(prefix) else finding.entry
                named = [pid for pid in broken if f"'{pid}'" in finding.problem]
                if named:  # the partner is there, but its entry did not parse: say so, not "no such partner"
                    finding = Finding(FILE, entry, f"names partner {named[0]!r}, whose entry in partners.toml has "
                                      "a problem (listed above)", "fix that entry first")  # fmt: skip
                yield Finding(FILE, entry, finding.problem, _offset_hint(finding) or _near(finding, notify_pool))
            if isinstance(name, str):
                if name in names:
                    yield Finding(FILE, f"{label}.name", f"{name!r} is already the name of milestone[{names[name]}]",
                                  "give each milestone a name of its own")  # fmt: skip
                names.setdefault(name, index)


def _near(finding: Finding, pool: list[str]) -> str:
    """``did you mean`` for a quoted name of a problem that names none (a partner ``on_breach`` notifies)."""
    quoted = re.match(r"'([^']{1,100})' is neither", finding.problem)
    return suggest(quoted.group(1), pool, "partners") if quoted and nearest(quoted.group(1), pool) else ""


_UNIT_WORDS = {"second": "s", "sec": "s", "minute": "min", "m": "min", "hour": "h", "hr": "h", "day": "d",
               "week": "w", "wk": "w", "month": "mo", "mon": "mo"}  # fmt: skip


def _offset_hint(finding: Finding) -> str:
    """For an offset that is not one, the offset it most likely means (``'48hours'`` -> ``'48h'``)."""
    quoted = re.match(r"'(\d+)\s*([A-Za-z]+)' is not an offset", finding.problem)
    if finding.suggestion or quoted is None:
        return finding.suggestion
    word = quoted.group(2).lower().rstrip("s") or "s"
    unit = _UNIT_WORDS.get(word) or (word if word in _UNIT_WORDS.values() else None)
    return f"did you mean '{quoted.group(1)}{unit}'?" if unit else "e.g. '48h', '30d' or '3mo'"


# -- every problem of one entry ----------------------------------------------------------------------------------


def every_problem(parse: Callable[[Any], T], raw: Any, file: str, prefix: str,
                  pools: Callable[[str], Iterable[str]] = lambda problem: (),
                  stand_ins: Mapping[str, Any] | None = None) -> tuple[T | None, list[Finding]]:  # fmt: skip
    """``parse(raw)`` and every problem it finds in the entry ``prefix`` of ``file`` (``""``: the whole file).

    ``pools(problem)`` gives the names a problem's quoted value is compared with when the sentence lists none.
    After each problem, in a copy of the entry, the value named is replaced by the suggested near name (a
    misspelt type or partner), else by ``stand_ins[key]`` when the key has one (a required value, so the rest
    of the entry can still be read), else dropped; then ``parse`` runs again, until the entry parses or a
    problem repeats. Returns what ``parse`` gave when there was no problem (else None) and the findings.
    """
    data = copy.deepcopy(raw)
    findings: list[Finding] = []
    for _ in range(50):
        try:
            result = parse(data)
        except ConfigError as exc:
            text = str(exc)
            finding = from_error(text, file, pools(text))
            if any(f.entry == finding.entry for f in findings):
                break
            findings.append(finding)
            if prefix:
                path = finding.entry[len(prefix) + 1 :] if finding.entry.startswith(f"{prefix}.") else ""
            else:
                path = finding.entry
            near = re.fullmatch(r"did you mean '(.+)'\?", finding.suggestion)
            if near and not finding.problem.startswith("unknown setting"):
                value: Any = near.group(1)
            else:
                value = (stand_ins or {}).get(path.rsplit(".", 1)[-1], _DROP)
            if not path or not _replace(data, path, value):
                break
            continue
        return (result if not findings else None), findings
    return None, findings


def _replace(data: Any, path: str, value: Any) -> bool:
    """Set (or, for ``_DROP``, remove) the value at ``path`` (``due.after``, ``closed_by[0].type``) of ``data``."""
    steps: list[str | int] = []
    for part in path.split("."):
        match = _PART.match(part)
        if match is None:
            return False
        steps.append(match.group(1))
        steps.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    *parents, last = steps
    for step in parents:
        if isinstance(step, int):
            data = data[step] if isinstance(data, list) and step < len(data) else None
        else:
            data = data.get(step) if isinstance(data, dict) else None
    if isinstance(last, int):
        if not isinstance(data, list) or last >= len(data):
            return False
        if value is _DROP:
            del data[last]
        else:
            data[last] = value
        return True
    if not isinstance(data, dict):
        return False
    if value is _DROP:
        if last not in data:
            return False
        del data[last]
    else:
        if data.get(last) == value:
            return False
        data[last] = value
    return True
