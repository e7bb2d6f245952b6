"""``Kind``: one kind of plugin ``hub adapter new`` writes (the templates' shape; see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of plugin the scaffold writes."""

    name: str
    hook: str
    summary: str
    plugin: str
    tests: str
    configure: str
    """The README's "Configure it" section: what an operator writes in the config directory."""
