"""``hub pathway show|list|close|reconcile|fire``: the care pathway's milestones, and its external scheduler."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import click

from hub.cli.common import StoreOnly, build, config_option, friendly_errors, print_json
from hub.services import pathway_views as views

_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")


def _seconds(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r}: a whole number and s, m, h, d or w (e.g. 7d)")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]


@click.group()
def pathway() -> None:
    """The care pathway: milestones (config/pathways.toml), their timers and the scheduler that fires them."""


def _print_milestone(m: dict[str, Any]) -> None:
    click.echo(f"  {m['milestone']:22} {m['partner']:20} {m['state']:9} due {m['due_at']}")
    for label, key in (("reminded", "reminded_at"), ("breached", "breached_at"), ("closed", "closed_at")):
        if m[key]:
            extra = f" ({m['close_reason']})" if key == "closed_at" and m["close_reason"] else ""
            click.echo(f"  {'':22} {label} {m[key]}{extra}")
    for timer in m["timers"]:
        for refused in timer.get("not_sent", []):
            click.echo(f"  {'':22} {timer['action']} notice not sent to {refused['partner']}: {refused['reason']}")


@pathway.command("show")
@click.argument("correlation_id", required=False)
@click.option("--nhs-number", default=None, help="The pathways of the person with this NHS number (blind index).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--operator", default=os.environ.get("USER", "operator"), show_default="$USER",
              help="Who searches, for the audit log (a search by NHS number is audited).")  # fmt: skip
@config_option
@friendly_errors
def pathway_show(correlation_id: str | None, nhs_number: str | None, as_json: bool, operator: str,
                 config_dir: Path | None) -> None:  # fmt: skip
    """Timeline of one pathway's milestones: due, reminded, closed (met or late), breached, cancelled."""
    if (correlation_id is None) == (nhs_number is None):
        raise click.UsageError("give a correlation id or --nhs-number, not both")
    if nhs_number is not None:
        from hub.crypto.blind_index import search_keys
        from hub.identifiers import nhs_number_problem

        why = nhs_number_problem(nhs_number)
        if why:
            raise click.ClickException(f"--nhs-number: {why}")
        hub: Any = build(config_dir)
        correlations = views.correlations_of_person(hub.store, search_keys(hub.keys), nhs_number, actor=operator)
    else:
        assert correlation_id is not None  # one of the two, checked above
        hub = StoreOnly(config_dir)
        correlations = [correlation_id]
    shown = [v for v in (views.pathway_view(hub.store, c) for c in correlations) if v is not None]
    if as_json:
        print_json(shown)
        return
    if not shown:
        raise click.ClickException("no pathway found")
    for view in shown:
        closed = view["closed"]
        suffix = f"  closed {closed['at']} ({closed['reason']})" if closed else ""
        click.echo(f"pathway {view['correlation_id']}{suffix}")
        for m in view["milestones"]:
            _print_milestone(m)


@pathway.command("list")
@click.option("--due-within", default=None, help="Running milestones due within this time (e.g. 7d, 12h).")
@click.option("--breached", is_flag=True, help="Breached milestones (not met in time; late ones are closed).")
@click.option("--partner", default=None, help="Only milestones this partner is responsible for.")
@click.option("--pending-syncs", is_flag=True, help="Timers an external scheduler has still to be told of.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
@friendly_errors
def pathway_list(due_within: str | None, breached: bool, partner: str | None, pending_syncs: bool, as_json: bool,
                 config_dir: Path | None) -> None:  # fmt: skip
    """Milestones due soon or breached (without options: every running milestone), soonest due first."""
    hub = StoreOnly(config_dir)
    if pending_syncs:
        rows = [{"timer_id": t, "sync": s, "due_at": views.iso(d), "attempts": a, "next_attempt_at": views.iso(n),
                 "last_error": e} for t, s, d, a, n, e in hub.store.pending_syncs()]  # fmt: skip
        if as_json:
            print_json(rows)
            return
        for r in rows:
            click.echo(f"{r['timer_id']}  {r['sync']:8} due {r['due_at']}  attempts {r['attempts']}  "
                       f"next {r['next_attempt_at']}  {r['last_error'] or ''}")  # fmt: skip
        if not rows:
            click.echo("No pending syncs.")
        return
    within = _seconds(due_within) if due_within else None
    rows = views.due_list(hub.store, within_seconds=within, breached=breached, partner=partner)
    if as_json:
        print_json(rows)
        return
    for m in rows:
        click.echo(f"{m['due_at']}  {m['state']:9} {m['milestone']:22} {m['partner']:20} {m['correlation_id']}")
    if not rows:
        click.echo("No milestones.")


@pathway.command("close")
@click.argument("correlation_id")
@click.option("--reason", required=True, help="Why: readmission, death, consent-withdrawn, ...")
@click.option("--operator", default=os.environ.get("USER", "operator"), show_default="$USER",
              help="Who closes it, for the audit log.")  # fmt: skip
@config_option
@friendly_errors
def pathway_close(correlation_id: str, reason: str, operator: str, config_dir: Path | None) -> None:
    """Close a pathway as a whole, cancelling its pending milestones and timers."""
    hub = build(config_dir)
    if not hub.store.milestones(correlation_id=correlation_id):
        raise click.ClickException(f"no pathway {correlation_id}")  # nothing closed in advance
    events = hub.pathway.close_pathway(correlation_id, reason, operator)
    click.echo(f"pathway {correlation_id} closed ({reason}): {max(0, len(events) - 1)} milestones cancelled"
               if events else f"pathway {correlation_id} was already closed")  # fmt: skip


@pathway.command("reconcile")
@config_option
@friendly_errors
def pathway_reconcile(config_dir: Path | None) -> None:
    """Compare the external scheduler's queued runs with the hub's pending timers and repair drift both ways."""
    hub = build(config_dir)
    if not hub.pathway.external:
        click.echo(f"scheduler {hub.config.settings.pathway.scheduler}: the store is the scheduler; nothing to "
                   "reconcile")  # fmt: skip
        return
    result = hub.pathway.reconcile()
    click.echo(f"scheduled again: {len(result['scheduled'])}; cancelled: {len(result['cancelled'])}")
    for timer in result["scheduled"]:
        click.echo(f"  scheduled {timer}")
    for timer in result["cancelled"]:
        click.echo(f"  cancelled {timer}")
    if result["not_cancelled"]:
        for timer in result["not_cancelled"]:
            click.echo(f"  NOT cancelled {timer}: the scheduler refused every attempt", err=True)
        raise SystemExit("some queued runs could not be cancelled now; run 'hub pathway reconcile' again")
