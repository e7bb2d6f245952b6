"""``hub messages list|show|find``: stored messages, their state and timeline (bodies only with an audited read)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from hub.cli.common import StoreOnly, build, config_option, friendly_errors, print_json
from hub.services import messages as service


@click.group()
def messages() -> None:
    """List and inspect stored messages (state and timeline; bodies are never printed)."""


@messages.command("list")
@config_option
@click.option("--type", "message_type", default=None, help="Only this message type.")
@click.option("--partner", default=None, help="Only messages this partner sent or receives.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def messages_list(config_dir: Path | None, message_type: str | None, partner: str | None, limit: int,
                  as_json: bool) -> None:  # fmt: skip
    """Newest messages first, with their status."""
    hub = StoreOnly(config_dir)
    rows = service.list_messages(hub.store, limit=limit, message_type=message_type, partner=partner)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']}  {r['received_at']}  {r['type']:18} {r['sender']:20} {r['status']}")


@messages.command("show")
@click.argument("message_id")
@click.option("--body", is_flag=True, help="Also decrypt and print the body (personal data: the read is audited).")
@click.option("--operator", default=os.environ.get("USER", "operator"), show_default="$USER",
              help="Who is reading, for the audit log.")  # fmt: skip
@config_option
@friendly_errors
def messages_show(message_id: str, body: bool, operator: str, config_dir: Path | None) -> None:
    """State, deliveries and timeline of one message, as JSON (without its body unless --body)."""
    hub = build(config_dir) if body else StoreOnly(config_dir)
    view = service.view_message(hub.store, message_id, with_body=body, actor=operator, via="cli")
    if view is None:
        raise click.ClickException(f"no message {message_id}; 'hub messages list' shows the ids")
    print_json(view)


@messages.command("find")
@click.option("--nhs-number", required=True, help="Find messages about the person with this NHS number.")
@click.option("--operator", default=os.environ.get("USER", "operator"), show_default="$USER",
              help="Who is searching, for the audit log.")  # fmt: skip
@config_option
@friendly_errors
def messages_find(nhs_number: str, operator: str, config_dir: Path | None) -> None:
    """Messages about one person, found through the keyed blind index (nothing is decrypted)."""
    from hub.identifiers import nhs_number_problem

    why = nhs_number_problem(nhs_number)  # before the key ring is opened, as a mistyped number needs no keys
    if why:
        raise click.ClickException(f"--nhs-number: {why}")
    hub = build(config_dir)
    rows = service.find_by_nhs_number(hub.store, hub.keys.index_key(), nhs_number, actor=operator)
    if not rows:
        click.echo("No messages about that person.")
    for r in rows:
        click.echo(f"{r['id']}  {r['received_at']}  {r['type']:18} {r['sender']}")


@messages.command("cancel")
@click.argument("delivery_id")
@click.option("--operator", default=os.environ.get("USER", "operator"), show_default="$USER",
              help="Who cancels it, for the audit log.")  # fmt: skip
@config_option
@friendly_errors
def messages_cancel(delivery_id: str, operator: str, config_dir: Path | None) -> None:
    """Cancel a scheduled delivery (due later, never attempted): it is then never sent."""
    import time

    hub = StoreOnly(config_dir)
    events = hub.store.cancel_scheduled(delivery_id, time.time(), operator)
    if events is None:
        raise click.ClickException(f"{delivery_id} is not a scheduled delivery (due later, never attempted); "
                                   "'hub messages show ID' shows each delivery's state")  # fmt: skip
    hub.emit(events)
    click.echo(f"delivery {delivery_id} cancelled")
