"""``hub users add|list|disable``: the people who may log in to the dashboard (``/ui``), and their roles."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hub.cli.common import config_option, friendly_errors, load_settings, opened_store, print_json
from hub.services import users as service

_operator = click.option("--operator", default=os.environ.get("USER", "operator"), show_default="$USER",
                         help="Who does this (recorded on the audit log).")  # fmt: skip


@click.group()
def users() -> None:
    """Dashboard users: viewer (no personal data), navigator, operator (replay, drop), admin (users)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(service.ROLES), required=True, help="What the user may see and do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (no prompt).")
@_operator
@config_option
@friendly_errors
def users_add(name: str, role: str, password_stdin: bool, operator: str, config_dir: Path | None) -> None:
    """Add a user; the password is asked for twice (or read from stdin) and only its argon2 hash is kept."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with opened_store(load_settings(config_dir)) as store:
        service.add_user(store, name, role, password, actor=operator)
    click.echo(f"user {name} added as {role}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
@friendly_errors
def users_list(as_json: bool, config_dir: Path | None) -> None:
    """Every user with its role and state (never a password hash)."""
    with opened_store(load_settings(config_dir)) as store:
        rows = service.list_users(store)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No users: add one with 'hub users add NAME --role admin'.")
    for r in rows:
        state = "disabled" if r["disabled_at"] is not None else "enabled"
        locked = " (locked after failed logins)" if r["locked_until"] else ""
        click.echo(f"{r['name']:24} {r['role']:10} {state}{locked}")


@users.command("disable")
@click.argument("name")
@_operator
@config_option
@friendly_errors
def users_disable(name: str, operator: str, config_dir: Path | None) -> None:
    """Disable a user: its sessions end at their next request and it cannot log in again (it is kept, for the
    audit log)."""
    with opened_store(load_settings(config_dir)) as store:
        service.disable_user(store, name, actor=operator)
    click.echo(f"user {name} disabled")
