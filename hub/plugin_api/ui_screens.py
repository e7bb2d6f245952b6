"""``UiScreen``: a screen a plugin adds to the operator dashboard (``hub_register_ui_screens``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.plugin_api.records import check_name

UI_ROLES = ("viewer", "navigator", "operator", "admin")
"""The dashboard's roles, each allowed what the one before it is (``hub users add --role``)."""
PLUGIN_SCREENS_PREFIX = "/ui/plugins"


@dataclass(frozen=True)
class UiScreen:
    """A plugin's dashboard screen: ``router`` (a ``fastapi.APIRouter``) served under ``/ui/plugins/NAME``.

    ``title`` is its entry in the dashboard's menu, shown to users whose role is ``role`` or above (``UI_ROLES``);
    ``path`` is where that entry leads, under the screen's prefix (default ``/``). ``templates``, when given, is a
    folder of Jinja2 templates (autoescaped), reached as ``NAME/FILE.html``; each may ``{% extends "base.html" %}``
    and fill ``{% block content %}`` to get the dashboard's NHS.UK layout, header, menu and footer. The handlers
    use ``hub.ui_signed_in``, ``hub.ui_posted`` (a POST: its CSRF token checked), ``hub.ui_page``,
    ``hub.ui_redirect`` and ``hub.ui_audit`` (docs/integrators.md).
    """

    name: str
    title: str
    router: Any
    role: str = "viewer"
    templates: Path | None = None
    path: str = "/"

    def __post_init__(self) -> None:
        check_name("ui screen", self.name)
        from fastapi import APIRouter  # only a plugin with screens pays for importing the web framework

        if not isinstance(self.router, APIRouter):
            raise TypeError(f"ui screen {self.name!r}: router is a {type(self.router).__name__}, not an APIRouter")
        if self.role not in UI_ROLES:
            raise ValueError(f"ui screen {self.name!r}: role {self.role!r} is not one of {', '.join(UI_ROLES)}")
        if not self.title.strip():
            raise ValueError(f"ui screen {self.name!r}: the title is empty")
        if not self.path.startswith("/"):
            raise ValueError(f"ui screen {self.name!r}: path {self.path!r} must start with '/'")

    @property
    def prefix(self) -> str:
        """Where the screen's routes are served: ``/ui/plugins/NAME``."""
        return f"{PLUGIN_SCREENS_PREFIX}/{self.name}"
