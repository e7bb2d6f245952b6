"""``hub config check``: every configuration file checked against the loaded plugins, every problem listed.

Each configuration file has its own small checker, a function registered with ``@config_check(file, order)``
in a module of this package; ``run_checks`` imports every module here, so adding a file's checker is adding
one module (``hub/cli/checks/pathways_toml.py``, say) and nothing else. A checker receives the
``CheckContext`` (the config directory, the loaded plugins and what earlier checkers found, such as the
partners that parsed) and returns ``Finding`` s, each naming the file, the entry and the problem, with a
suggestion when a near name is known (``suggest``).

Checkers run in ``order`` (hub.toml 10, partners.toml 20, routes.toml 30, agreements 40; leave gaps for
the others); a checker whose file is absent and optional returns nothing.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import pkgutil
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from hub.plugins import HubPlugins


@dataclass(frozen=True)
class Finding:
    """One problem in one entry of one file, with what to do about it when the checker knows."""

    file: str
    entry: str
    problem: str
    suggestion: str = ""
    warning: bool = False
    """A warning is listed but is not a problem: it neither fails the check nor stops the hub."""

    def line(self) -> str:
        """``file: entry: problem (suggestion)``, on one line (``file: entry: warning: ...`` for a warning)."""
        where = f"{self.file}: {self.entry}" if self.entry else self.file
        text = " ".join(f"{where}: {'warning: ' if self.warning else ''}{self.problem}".split())
        return f"{text} ({self.suggestion})" if self.suggestion else text


@dataclass
class CheckContext:
    """What a checker may use: the directory, the loaded plugins, and what the checkers before it left."""

    config_dir: Path
    plugins: HubPlugins
    found: dict[str, Any] = field(default_factory=dict)
    """Results earlier checkers share by name: ``partners`` (a PartnerDirectory of the entries that
    parsed), ``routes`` (the routes that parsed), ``settings``."""

    def read_toml(self, name: str, required: bool = True) -> tuple[dict[str, Any] | None, list[Finding]]:
        """The file ``name`` of the config directory as TOML, or None and the finding saying why."""
        path = self.config_dir / name
        if not path.exists():
            if not required:
                return None, []
            return None, [Finding(name, "", "file not found", "run 'hub init' to create a configuration")]
        try:
            return tomllib.loads(path.read_text(encoding="utf-8")), []
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            return None, [Finding(name, "", f"not valid TOML: {exc}")]


Checker = Callable[[CheckContext], Iterable[Finding]]
T = TypeVar("T")


@dataclass(frozen=True)
class RegisteredCheck:
    """A checker, the file it checks, and when it runs."""

    file: str
    order: int
    func: Checker


_CHECKS: list[RegisteredCheck] = []


def config_check(file: str, order: int) -> Callable[[Checker], Checker]:
    """Register the decorated function as the checker of ``file``, run at ``order`` (lower first)."""

    def register(func: Checker) -> Checker:
        _CHECKS.append(RegisteredCheck(file, order, func))
        return func

    return register


def registered_checks() -> list[RegisteredCheck]:
    """Every checker of this package, in the order they run (imports each module of the package once)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return sorted(_CHECKS, key=lambda c: (c.order, c.file))


def run_checks(config_dir: Path, plugins: HubPlugins) -> list[Finding]:
    """Run every registered checker on ``config_dir``; a checker that crashes is itself a finding."""
    context = CheckContext(config_dir, plugins)
    findings: list[Finding] = []
    for check in registered_checks():
        try:
            findings.extend(check.func(context))
        except Exception as exc:  # a checker's bug must not hide the other files' problems
            findings.append(Finding(check.file, "", f"the checker failed: {type(exc).__name__}: {exc}"))
    return findings


def each_problem(parse: Callable[[Any], T], raw: Any, file: str, prefix: str,
                 pools: Iterable[str] = ()) -> tuple[T | None, list[Finding]]:  # fmt: skip
    """``parse(raw)`` and every problem it finds in one entry (``prefix``, e.g. ``partner[2]``) of ``file``.

    A loader stops at an entry's first problem; in a copy of the entry, the value it named is replaced by the
    suggested near name (a misspelt kind or type) or, otherwise, dropped (an unknown setting), and the loader runs
    again, until the entry parses, a problem repeats (a required key), or the key cannot be found.
    Returns what ``parse`` gave when the entry had no problem (else None) and the findings.
    """
    from hub.plugin_api.problems import ConfigError

    data = copy.deepcopy(raw)
    findings: list[Finding] = []
    for _ in range(50):
        try:
            result = parse(data)
        except ConfigError as exc:
            finding = from_error(str(exc), file, pools)
            if any(f.entry == finding.entry for f in findings):
                break
            findings.append(finding)
            near = re.fullmatch(r"did you mean '(.+)'\?", finding.suggestion)
            replacement = near.group(1) if near and not finding.problem.startswith("unknown setting") else None
            path = finding.entry[len(prefix) + 1 :] if finding.entry.startswith(f"{prefix}.") else ""
            if not path or not _drop(data, path, replacement):
                break
            continue
        return (result if not findings else None), findings
    return None, findings


def _drop(data: Any, path: str, replacement: str | None = None) -> bool:
    """Remove (or set to ``replacement``) the key at dotted ``path`` of the nested tables ``data``; False if none."""
    *parents, last = path.split(".")
    for part in parents:
        data = data.get(part) if isinstance(data, dict) else None
    if not isinstance(data, dict) or last not in data:
        return False
    if replacement is not None and isinstance(data[last], str):
        data[last] = replacement
    else:
        del data[last]
    return True


# -- suggestions ------------------------------------------------------------------------------------------------

_QUOTED = re.compile(r"'([^']{1,100})'")
_KNOWN = re.compile(r"(?:one of|known:|loaded:|registered:)\s*([A-Za-z0-9_.\-, ]+)")


def nearest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name`` (difflib, cut-off 0.6), or None."""
    found = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return found[0] if found else None


def suggest(name: str, known: Iterable[str], what: str) -> str:
    """``did you mean 'x'?`` for the nearest known name, else the known ones (``what`` says what they are)."""
    known = sorted(set(known))
    close = nearest(name, known)
    if close is not None and close != name:
        return f"did you mean {close!r}?"
    return f"the {what} are: {', '.join(known)}" if known else f"no loaded plugin registers any {what}"


def from_error(message: str, file: str, pools: Iterable[str] = ()) -> Finding:
    """A ``Finding`` from a ``ConfigError``'s sentence (``file: entry: problem``), with a near name suggested.

    The names a sentence lists (``one of a, b``, ``known: a, b``) are what a quoted name or the entry's last
    key is compared with; ``pools`` are used when it lists none.
    """
    text = message.strip()
    for prefix in (f"{file}: ", f"{Path(file).name}: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    else:  # an absolute path before the file name
        head, sep, rest = text.partition(f"{file}: ")
        if sep and "/" in head:
            text = rest
    entry, sep, problem = text.partition(": ")
    if not sep or " " in entry:
        entry, problem = "", text
    listed = _KNOWN.search(problem)
    known = [k.strip() for k in listed.group(1).split(",") if k.strip()] if listed else list(pools)
    candidates = _QUOTED.findall(problem) + ([entry.rsplit(".", 1)[-1]] if entry else [])
    for candidate in candidates:
        close = nearest(candidate, known)
        if close is not None and close != candidate:
            return Finding(file, entry, problem, f"did you mean {close!r}?")
    return Finding(file, entry, problem)
