"""The ``hub`` command: run the hub, send messages, and look after what it holds.

Every command takes ``--config DIR`` (default ``$HUB_CONFIG`` or ``./config``)
and ``--help``. Errors go to stderr with a non-zero exit and a sentence that
says what to do.

One module per family of commands (``serve``, ``worker``, ``messages``,
``keys``, ``partners``, ``maintenance``, ``plugins``, ``send``, ``init``,
``demo``, ``db``, ``config``, ``adapter``, ``users``); each is a thin face over ``hub.services``. ``main`` is the entry
point (``[project.scripts]``); commands that plugins register
(``hub_register_commands``) are added to it at start-up and, like every
sub-command, receive a ``CommandContext`` (``hub.cli.context``) as click's
context object.
"""

from __future__ import annotations

import click

from hub.cli.context import CommandContext
from hub.plugin_api.problems import PluginError


class _HubGroup(click.Group):
    """The ``hub`` group: built-in commands plus those plugins register (``hub_register_commands``)."""

    _plugin_commands: dict[str, click.Command] | None = None

    def _plugins(self) -> dict[str, click.Command]:
        if self._plugin_commands is None:
            from hub.plugins import load_plugins

            try:
                self._plugin_commands = {
                    name: cmd for name, cmd in load_plugins().commands.items() if name not in self.commands
                }
            except PluginError as exc:
                click.echo(f"hub: {exc}", err=True)
                self._plugin_commands = {}
        return self._plugin_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._plugins().get(cmd_name)


@click.group(cls=_HubGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level (ids and states only, never personal data).")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """The partner hub: carries discharge, housing, referral and employment messages between agencies."""
    import logging

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = CommandContext()


def _add_commands() -> None:
    from hub.cli.adapter_new import adapter
    from hub.cli.alerts import alerts
    from hub.cli.config_check import config
    from hub.cli.db import db
    from hub.cli.demo import demo
    from hub.cli.init import init
    from hub.cli.keys import keys
    from hub.cli.maintenance import audit, dlq, replay, retention
    from hub.cli.messages import messages
    from hub.cli.partners import partners
    from hub.cli.pathway import pathway
    from hub.cli.plugins import plugins
    from hub.cli.send import send, validate
    from hub.cli.serve import serve
    from hub.cli.users import users
    from hub.cli.worker import worker
    from hub.envelope.cli import envelope  # the partner-facing envelope commands

    for command in (init, serve, worker, demo, send, messages, dlq, replay, plugins, validate, partners, envelope,
                    keys, audit, retention, db, pathway, config, adapter, alerts, users):  # fmt: skip
        main.add_command(command)


_add_commands()
