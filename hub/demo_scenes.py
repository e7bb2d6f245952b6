"""``hub demo``'s plugin scenes (``hub_register_demo_scenes``): their partners, settings and playing them.

The demo's hub is started with each scene's partners (partner simulators on loopback that answer with the
scene's ``respond``) and ``hub.toml`` tables; once the hub's own story is told, each scene plays in turn with a
``Stage`` (``hub.plugin_api.demo.DemoStage``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from hub.plugin_api.demo import DemoPartner, DemoScene
from hub.testing.simulator import Received
from hub.testing.world import Partner, merge_settings


@dataclass
class Stage:
    """What a scene's ``play`` receives (implements ``DemoStage``)."""

    hub_url: str
    config_dir: Path
    settings: Any
    operator_token: str
    deadline: float
    tokens: dict[str, str]
    shown: Callable[[str, str], None]
    extra: dict[str, Any] = field(default_factory=dict)

    def token(self, partner_id: str) -> str:
        """The bearer token of one of the demo's partners."""
        return self.tokens[partner_id]

    def show(self, who: str, text: str) -> None:
        """Print one line of the story."""
        self.shown(who, text)


def scene_partners(scenes: Sequence[DemoScene], show: Callable[[str, str], None]) -> list[Partner]:
    """The simulated partners of every scene, each printing what it receives."""

    def note(partner: DemoPartner) -> Callable[[Received], None]:
        def seen(item: Received) -> None:
            try:
                message = item.message
                extra = partner.describe(message) if partner.describe is not None else ""
            except Exception:  # a scene's describe must not stop its partner receiving
                message, extra = {}, ""
            show(partner.id, f"<- received {message.get('type')}{f' ({extra})' if extra else ''}")

        return seen

    return [Partner(p.id, p.kind, path="/hub", responder=p.respond, on_receive=note(p))
            for scene in scenes for p in scene.partners]  # fmt: skip


def scene_settings(scenes: Sequence[DemoScene]) -> dict[str, dict[str, Any]]:
    """The ``hub.toml`` tables of every scene, merged."""
    return merge_settings(*[{k: dict(v) for k, v in scene.settings.items()} for scene in scenes])


def play_scenes(scenes: Sequence[DemoScene], stage: Stage) -> bool:
    """Play each scene in turn; True when every one finished in time (a scene that raises did not)."""
    ok = True
    for scene in scenes:
        click.echo(f"\n{scene.title}")
        try:
            played = bool(scene.play(stage))
        except Exception as exc:
            click.echo(f"  scene {scene.name} failed: {type(exc).__name__}: {exc}", err=True)
            played = False
        if not played:
            click.echo(f"  scene {scene.name} did not finish in time", err=True)
        ok = ok and played
    return ok
