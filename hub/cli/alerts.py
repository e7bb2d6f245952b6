"""``hub alerts status`` (what is firing now) and ``hub alerts list`` (the alerts queued, and where each one got to on
each channel)."""

from __future__ import annotations

from pathlib import Path

import click

from hub.cli.common import StoreOnly, config_option, friendly_errors, print_json
from hub.services.alerts import outbox_view, states_view


@click.group()
def alerts() -> None:
    """Alerts ([alerts] in hub.toml): a partner failing and recovering, queue thresholds, milestone breaches."""


@alerts.command("list")
@config_option
@click.option("--limit", type=int, default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def alerts_list(config_dir: Path | None, limit: int, as_json: bool) -> None:
    """Each alert queued (oldest first) on each channel: sent, waiting for its next attempt, or given up."""
    rows = outbox_view(StoreOnly(config_dir).store, limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No alerts.")
    for r in rows:
        where = f"sent {r['sent_at']}" if r["state"] == "sent" else (
            f"next attempt {r['next_at']}" if r["state"] == "pending" else "given up")  # fmt: skip
        error = f": {r['last_error']}" if r["last_error"] and r["state"] != "sent" else ""
        click.echo(f"{r['created_at']}  {r['id']:40} {r['channel']:16} {r['state']:8} attempts {r['attempts']}, "
                   f"{where}{error}\n    {r['alert']['summary']}")  # fmt: skip


@alerts.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def alerts_status(config_dir: Path | None, as_json: bool) -> None:
    """What is firing now (a partner failing and since when, a queue over its threshold), then what is not."""
    rows = states_view(StoreOnly(config_dir).store)
    if as_json:
        print_json(rows)
        return
    if not any(r["state"] == "firing" for r in rows):
        click.echo("Nothing is firing.")
    for r in rows:
        click.echo(f"{r['state']:6}  {r['key']:50} since {r['since']}  value {r['value']}")
