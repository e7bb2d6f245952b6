"""The council plugin's ``hub`` sub-commands: ``hub geo import|lookup`` and ``hub council-stats``.

Both find the hub's files through ``--config DIR`` (default ``$HUB_CONFIG`` or
``./config``), as the core commands do: the imported postcode directory goes to
``geo.db`` beside the store unless ``--into`` (or ``$HUB_GEO_DB``) says where.
They reach the hub through the ``CommandContext`` the ``hub`` command passes
(``@click.pass_obj``): its state directory, and its data for
``hub council-stats``, never by opening the store.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hub_council.geo_import import GeoImportError, import_onspd
from hub_council.postcodes import GEO_DB_ENV, PostcodeDirectory, default_table_path

if TYPE_CHECKING:
    from hub import CommandContext

config_option = click.option(
    "--config", "config_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Config directory (default: $HUB_CONFIG or ./config).",
)  # fmt: skip


def geo_db_path(hub: CommandContext, config_dir: Path | None, into: Path | None) -> Path:
    """Where the postcode directory lives: ``--into``, ``$HUB_GEO_DB``, or ``geo.db`` in the hub's state directory."""
    if into is not None:
        return into
    if os.environ.get(GEO_DB_ENV):
        return Path(os.environ[GEO_DB_ENV])
    return hub.state_dir(config_dir) / "geo.db"


@click.group("geo")
def geo() -> None:
    """Postcode to local authority lookups for the Duty to Refer (ONS Postcode Directory)."""


@geo.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--into", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The SQLite file to write (default: $HUB_GEO_DB, or geo.db beside the store).")  # fmt: skip
@config_option
@click.pass_obj
def geo_import(hub: CommandContext, csv_file: Path, into: Path | None, config_dir: Path | None) -> None:
    """Load the ONSPD CSV (columns pcds, oslaua) into the postcode lookup, replacing the previous import.

    Streams the file in batches, so memory stays bounded for millions of rows.
    The new table replaces the old in one atomic step; a running hub picks it up
    at its next lookup.
    """
    target = geo_db_path(hub, config_dir, into)
    size = csv_file.stat().st_size
    try:
        with click.progressbar(length=size, label=f"Importing {csv_file.name}", file=sys.stderr,
                               show_eta=True) as bar:  # fmt: skip
            report = import_onspd(csv_file, target, progress=bar.update)
    except GeoImportError as exc:
        click.echo(f"hub: {csv_file}: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"Imported {report.postcodes} postcodes from {report.rows_read} rows ({report.skipped} skipped) "
        f"into {report.target}"
    )
    if into is not None or os.environ.get(GEO_DB_ENV):
        click.echo(f"Point the duty-to-refer route at it: options = {{ geo_db = {str(report.target)!r} }}")


@geo.command("lookup")
@click.argument("postcode")
@click.option("--into", "geo_db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The SQLite file to read (default: as for import).")  # fmt: skip
@config_option
@click.pass_obj
def geo_lookup(hub: CommandContext, postcode: str, geo_db: Path | None, config_dir: Path | None) -> None:
    """Print the local authority GSS code for POSTCODE (imported directory first, then the shipped table)."""
    directory = PostcodeDirectory()
    try:
        code = directory.lookup(postcode, geo_db=geo_db_path(hub, config_dir, geo_db), table=default_table_path())
    finally:
        directory.close()
    if code is None:
        click.echo("hub: that postcode is in neither the imported directory nor the shipped table", err=True)
        sys.exit(1)
    click.echo(code)


@click.command("council-stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--referrals", is_flag=True, help="List each referral's current Duty to Refer status instead.")
@config_option
@click.pass_obj
def council_stats_command(hub: CommandContext, as_json: bool, referrals: bool, config_dir: Path | None) -> None:
    """Each council's response times and Duty to Refer statuses (read-only; no body is decrypted).

    Response times: from a delivered Duty to Refer to the council's first appointment. Statuses:
    referrals by current status (the one with the latest status time the council gave; ``none``
    before any) and the time from delivery to each status. ``--referrals`` lists every referral
    that has a status, with its current one.
    """
    from hub_council.stats import council_reply_times, council_stats
    from hub_council.status_stats import STATUS_TYPES, referral_statuses, status_stats

    with hub.hub_data(config_dir) as data:  # the hub's read-only data (``hub.cli.context.CommandContext``)
        times = council_reply_times(data)
        statuses = referral_statuses(data.status_replies(STATUS_TYPES))
    if referrals:
        _print_referrals([r.as_dict() for r in statuses], as_json)
        return
    rows = council_stats(times)
    by_council = {s.partner: s for s in status_stats(times, statuses)}
    if as_json:
        out = []
        for r in rows:
            found = by_council.get(r.partner)
            extra = {"by_current_status": found.current, "to_status": found.as_dict()["to_status"]} if found else {}
            out.append({**r.as_dict(), **extra})
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{'council':<28} {'delivered':>9} {'answered':>8} {'waiting':>7} {'median h':>9} {'p90 h':>7} "
               f"{'max h':>7}")  # fmt: skip
    for r in rows:
        click.echo(f"{r.partner:<28} {r.referrals_delivered:>9} {r.answered:>8} {r.waiting:>7} "
                   f"{_hours(r.median_seconds):>9} {_hours(r.p90_seconds):>7} {_hours(r.max_seconds):>7}")  # fmt: skip
    click.echo("")
    click.echo(f"{'council':<28} {'status':<16} {'current':>7} {'reached':>7} {'median h':>9} {'max h':>7}")
    for stats in by_council.values():
        for status, count in stats.current.items():
            timing = stats.to_status.get(status)
            if not count and (timing is None or not timing.reached):
                continue
            reached = timing.reached if timing else "-"
            median = _hours(timing.median_seconds) if timing else "-"
            longest = _hours(timing.max_seconds) if timing else "-"
            click.echo(f"{stats.partner:<28} {status:<16} {count:>7} {reached:>7} {median:>9} {longest:>7}")


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f}"


def _print_referrals(rows: list[dict[str, object]], as_json: bool) -> None:
    """Each referral with a status: message id, council, referrer, current status and its time (UTC)."""
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from datetime import UTC, datetime

    click.echo(f"{'referral (message id)':<38} {'council':<24} {'referrer':<16} {'current':<16} {'status at':<20} "
               f"{'statuses':>8}")  # fmt: skip
    for row in rows:
        current = row["current"] if isinstance(row["current"], dict) else {}
        at = current.get("status_at")
        when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S") if isinstance(at, float) else "-"
        history = row["history"] if isinstance(row["history"], list) else []
        click.echo(f"{row['message_id']!s:<38} {row['council']!s:<24} {row['referrer']!s:<16} "
                   f"{current.get('status', '-')!s:<16} {when:<20} {len(history):>8}")  # fmt: skip
