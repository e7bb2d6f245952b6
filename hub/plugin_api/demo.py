"""Scenes a plugin adds to ``hub demo`` (``hub_register_demo_scenes``): its own part of the story, on loopback.

``hub demo`` tells the hub's story (a discharge reaching a council, a hostel and an IPS service); a plugin that
adds a workflow of its own shows it with a ``DemoScene``: the partners it needs (each a real HTTP partner
simulator on loopback, answering what it receives with ``DemoPartner.respond``), the ``hub.toml`` tables it
needs, and ``play(stage)``, called once the hub runs and the hub's own story is done. The core knows nothing of
what a scene does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hub.plugin_api.records import check_name


@dataclass(frozen=True)
class DemoPartner:
    """A partner of a scene: ``id`` and ``kind`` as in ``partners.toml``; it receives by push (canonical JSON).

    ``respond(message)`` returns the messages it posts back to the hub for each message it receives (canonical
    JSON, with its own token); ``describe(message)`` a few words shown after the type of each message it
    receives (``offered``, ``accepted``), or "" for none. Neither may raise.
    """

    id: str
    kind: str
    respond: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    describe: Callable[[dict[str, Any]], str] | None = None


class DemoStage(Protocol):
    """What a scene's ``play`` may use while the demo's hub runs."""

    hub_url: str
    """The hub's base URL (``http://127.0.0.1:PORT``)."""
    config_dir: Path
    """The demo's configuration directory (a scene may keep files there)."""
    settings: Any
    """The hub's settings, as plugins' commands and listeners receive them."""
    operator_token: str
    """A bearer token of the demo's operator."""
    deadline: float
    """``time.monotonic()`` by which the scene must have finished."""

    def token(self, partner_id: str) -> str:
        """The bearer token of one of the scene's partners."""
        ...

    def show(self, who: str, text: str) -> None:
        """Print one line of the story, with the time since the demo started."""
        ...


@dataclass(frozen=True)
class DemoScene:
    """A plugin's scene of ``hub demo`` (see the module's docstring).

    ``play(stage)`` returns True when everything it shows happened by ``stage.deadline``; it prints what
    happened through ``stage.show``. ``settings`` are ``hub.toml`` tables merged into the demo's (for example
    ``{"plugins": {"name": {...}}}``). Names are unique across plugins.
    """

    name: str
    title: str
    partners: tuple[DemoPartner, ...]
    play: Callable[[DemoStage], bool]
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("demo scene", self.name)
