"""Maintenance commands: ``hub dlq list``, ``hub replay``, ``hub audit verify`` and ``hub retention run``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.cli.common import StoreOnly, config_option, friendly_errors, load_settings, opened_store, print_json
from hub.services.audit import verify_audit
from hub.services.dead_letters import dead_letters
from hub.services.replay import replay as replay_deliveries
from hub.services.retention import run_retention


@click.group()
def dlq() -> None:
    """Dead letters: deliveries that ran out of retries, and inbound transmissions refused whole."""


@dlq.command("list")
@config_option
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def dlq_list(config_dir: Path | None, limit: int, as_json: bool) -> None:
    """Each dead delivery with its partner, attempts and last error; then each transmission a listener refused.

    A refused transmission (a MESH message whose body the hub refused) was let go of
    at its transport and nothing of it was stored: it is listed, newest first, with the
    reason and the locations of the problems, so that the sender can be asked to fix
    and resend it. It cannot be replayed.
    """
    letters = dead_letters(StoreOnly(config_dir).store, limit)
    if as_json:
        print_json(letters.as_dict())
        return
    if not letters.dead_deliveries:
        click.echo("No dead letters.")
    for r in letters.dead_deliveries:
        click.echo(f"{r['delivery_id']}  message {r['message']}  {r['type']:18} to {r['partner']:20} "
                   f"attempts {r['attempts']}: {r['last_error']}")  # fmt: skip
    if letters.refused_transmissions:
        click.echo("Refused transmissions (nothing stored; ask the sender to fix and resend):")
    for r in letters.refused_transmissions:
        where = f" at {', '.join(r['problems'])}" if r.get("problems") else ""
        codes = "".join(f" {k} {r[k]}" for k in sorted(r) if k not in _REFUSAL_SHOWN)
        click.echo(f"{r['at']}  {r.get('listener')} {r.get('reference')} from {r.get('from')}{codes}: "
                   f"{r.get('status')} {r.get('error')}: {r.get('reason')}{where}")  # fmt: skip


_REFUSAL_SHOWN = {"at", "listener", "reference", "from", "status", "error", "reason", "problems"}


@click.command()
@click.argument("ids", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Replay every dead-lettered delivery.")
@config_option
@friendly_errors
def replay(ids: tuple[str, ...], all_dead: bool, config_dir: Path | None) -> None:
    """Put dead-lettered deliveries back in the queue (by delivery id or message id, or --all-dead)."""
    if not ids and not all_dead:
        raise click.UsageError("name delivery or message ids, or pass --all-dead")
    hub = StoreOnly(config_dir)
    count = len(replay_deliveries(hub.store, None if all_dead else list(ids), notify=hub.emit))
    click.echo(f"{count} deliveries queued again")
    if ids and count == 0:
        click.echo("hub: none of those ids is a dead delivery ('hub dlq list' shows them)", err=True)
        sys.exit(1)


@click.group()
def audit() -> None:
    """The hash-chained audit log of every state change, read and refusal."""


@audit.command("verify")
@config_option
@friendly_errors
def audit_verify(config_dir: Path | None) -> None:
    """Check every link of the audit chain; report the first broken one and exit 1 if any."""
    with opened_store(load_settings(config_dir)) as store:
        report = verify_audit(store)
    if report.ok:
        click.echo(f"audit log intact: {report.rows} events; head {report.head} (record it outside the hub)")
        return
    click.echo(f"audit log BROKEN at event {report.broken_at}: {report.reason}", err=True)
    sys.exit(1)


@click.group()
def retention() -> None:
    """Retention: destroy the bodies of messages kept longer than hub.toml's [retention] allows."""


@retention.command("run")
@config_option
@friendly_errors
def retention_run(config_dir: Path | None) -> None:
    """Crypto-shred every finished message past its type's retention (its data key is destroyed)."""
    settings = load_settings(config_dir)
    if not settings.retention_days:  # refused before the store is opened (or created)
        raise click.ClickException("hub.toml has no [retention] table; nothing is ever shredded")
    with opened_store(settings) as store:
        run = run_retention(store, settings)
    click.echo(f"{run.shredded} messages shredded")
    if run.shredded and not run.log_clean:
        click.echo("hub: the write-ahead log still holds old pages (a reader is busy); run 'hub retention run' "
                   "again shortly so shredded keys leave the WAL too", err=True)  # fmt: skip
