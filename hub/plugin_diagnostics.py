"""Plugin mistakes found before pluggy sees them, each told in one line that says what to do.

Two kinds of mistake are common enough to deserve their own sentence:

- an entry point in a group that is *nearly* ``hub.adapters`` (``hub.adapter``, ``hub_adapters``,
  ``hub-adapters``...), which the hub would otherwise never see: ``misplaced_entry_points`` finds them;
- a ``@hookimpl`` for a hook the hub does not define, or with an argument the hook does not pass:
  ``hookimpl_mistakes`` finds them, naming the plugin as it was installed (its entry point and
  distribution, never a module object), the hook, the signature the hub expects and the nearest hook.

Both only read; ``hub.plugins`` decides whether a mistake is fatal (strict mode) or a failed row of
``hub plugins list``.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint

import pluggy

from hub.plugin_api import hookspecs


def hook_names() -> list[str]:
    """The names of the hooks the hub defines, sorted."""
    return sorted(name for name, value in vars(hookspecs).items() if name.startswith("hub_") and callable(value))


def hook_signature(name: str) -> str:
    """``hub_register_adapters(register)``: the hook and the arguments the hub passes, by name."""
    params = inspect.signature(getattr(hookspecs, name)).parameters
    return f"{name}({', '.join(params)})"


def nearest(name: str, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The known name closest to ``name`` (difflib), or None when nothing is close."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return found[0] if found else None


def _normalised(group: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", group.lower()).strip(".")


@dataclass(frozen=True)
class MisplacedEntryPoint:
    """An entry point whose group is close to, but not, the group the hub reads."""

    name: str
    group: str
    distribution: str
    version: str
    value: str

    def sentence(self, right_group: str) -> str:
        """One line saying what is wrong and what to write instead."""
        return (
            f"entry point {self.name!r} of {self.distribution} is in group {self.group!r}, which the hub does not "
            f'read; the group is {right_group!r} (in pyproject.toml: [project.entry-points."{right_group}"], '
            "then reinstall the distribution)"
        )


def misplaced_entry_points(groups: dict[str, list[EntryPoint]], right_group: str) -> list[MisplacedEntryPoint]:
    """Entry points in groups that look like a misspelling of ``right_group`` (``hub.adapter``, ``hub_adapters``).

    A group is a near miss when, compared case-blind with every run of punctuation read as a dot, it equals
    ``right_group`` or is at least 85 % like it (difflib), and it is not ``right_group`` itself.
    """
    target = _normalised(right_group)
    found: list[MisplacedEntryPoint] = []
    for group, entries in sorted(groups.items()):
        if group == right_group:
            continue
        normal = _normalised(group)
        if normal != target and difflib.SequenceMatcher(None, normal, target).ratio() < 0.85:
            continue
        for ep in entries:
            dist = ep.dist.name if ep.dist is not None else "(unknown distribution)"
            version = ep.dist.version if ep.dist is not None else ""
            found.append(MisplacedEntryPoint(ep.name, group, dist, version, ep.value))
    return found


def hookimpl_mistakes(manager: pluggy.PluginManager, plugin: object, label: str) -> list[str]:
    """One line per ``@hookimpl`` of ``plugin`` that the hub would refuse; ``label`` names the plugin.

    An implementation of a hook the hub does not define gets the nearest hook's name and signature; one that
    takes an argument the hook does not pass gets the hook's signature and the argument's nearest right name.
    """
    known = hook_names()
    mistakes: list[str] = []
    for attribute in sorted(dir(plugin)):
        try:
            options = manager.parse_hookimpl_opts(plugin, attribute)
        except Exception:  # an attribute that cannot be inspected is not a hook implementation
            options = None
        if options is None:
            continue
        hook = options.get("specname") or attribute
        function = getattr(plugin, attribute)
        try:
            params = [p for p in inspect.signature(function).parameters if p not in ("self", "cls")]
        except (TypeError, ValueError):
            params = []
        given = f"{hook}({', '.join(params)})"
        if hook not in known:
            close = nearest(hook, known)
            hint = f"; did you mean {hook_signature(close)}?" if close else f"; the hooks are {', '.join(known)}"
            mistakes.append(f"plugin {label}: implements {given}, a hook the hub does not define{hint}")
            continue
        expected = list(inspect.signature(getattr(hookspecs, hook)).parameters)
        wrong = [p for p in params if p not in expected]
        if wrong:
            renames = ", ".join(
                f"{w!r} -> {close!r}" if (close := nearest(w, expected, 0.3)) else f"{w!r} (remove it)" for w in wrong
            )
            mistakes.append(
                f"plugin {label}: {given} takes {', '.join(repr(w) for w in wrong)}, which hook {hook} does not "
                f"pass; expected {hook_signature(hook)} (any subset of its arguments, by name): {renames}"
            )
    return mistakes


def one_line(text: str) -> str:
    """``text`` with its line breaks and runs of spaces folded, for a table row or a log line."""
    return " ".join(text.split())
