"""``hub directory import|list|show|match``: the service directory for operators.

``import`` takes a feed's URL (it pages ``/services`` and fetches each service) or a saved JSON file, with
a progress bar on stderr. The directory lives where ``hub_hostels.directory.database.database_url`` says
(the hub's PostgreSQL database, or ``directory.db`` in its state directory). Each command finds the hub
through ``--config DIR`` (default ``$HUB_CONFIG`` or ``./config``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hub_hostels.directory.database import database_url, now, open_directory
from hub_hostels.directory.importer import ImportReport, import_file, import_url
from hub_hostels.directory.links import GENDERS, NEEDS, DirectorySettings, LinkError, postcode_district
from hub_hostels.directory.match_directory import match
from hub_hostels.directory.matching import DEFAULT_ORDER, MatchRequest, Policy
from hub_hostels.directory.records import FeedError
from hub_hostels.directory.view import age_text, chosen_capacity, describe

if TYPE_CHECKING:
    from hub import CommandContext

config_option = click.option(
    "--config", "config_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Config directory (default: $HUB_CONFIG or ./config).",
)  # fmt: skip


def _settings(hub: CommandContext, config_dir: Path | None) -> tuple[str, DirectorySettings]:
    settings = hub.settings(config_dir)
    try:
        return database_url(settings), DirectorySettings.from_settings(settings)
    except (LinkError, ValueError) as exc:
        click.echo(f"hub: {exc}", err=True)
        sys.exit(2)


@click.group("directory")
def directory() -> None:
    """The service directory read from Open Referral UK feeds (hostels, charities, support services)."""


def _summary(report: ImportReport) -> str:
    text = (f"{report.feed}: {report.listed} listed; {report.added} added, {report.changed} changed, "
            f"{report.unchanged} unchanged, {report.withdrawn} withdrawn")  # fmt: skip
    failures = []
    if report.failed_pages:
        failures.append(f"pages failed: {', '.join(map(str, report.failed_pages))}")
    if report.not_found:
        failures.append(f"{report.not_found} services not found (404), kept as they were")
    if report.failed_services:
        failures.append(f"{report.failed_services} services could not be fetched, kept as they were")
    if report.invalid:
        failures.append(f"{report.invalid} unreadable")
    if failures:
        text += "; " + "; ".join(failures)
    if not report.complete:
        text += ". The listing was not complete, so nothing was withdrawn"
    return text


@directory.command("import")
@click.argument("source")
@click.option("--per-page", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="Services asked for per page of /services.")  # fmt: skip
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Services fetched at once.")  # fmt: skip
@click.option("--feed", "feed", default=None, help="For a FILE: the feed name it is a listing of.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's report as JSON.")
@config_option
@click.pass_obj
def import_command(hub: CommandContext, source: str, per_page: int, workers: int, feed: str | None,
                   as_json: bool, config_dir: Path | None) -> None:  # fmt: skip
    """Import SOURCE (a feed's URL, or a saved JSON file) into the directory.

    Changed services are updated, new ones added; a service a complete listing no longer names is marked
    withdrawn (never deleted); a page or service that cannot be fetched changes nothing. Exit status 1 when
    a page or a service could not be fetched or read.
    """
    url, _ = _settings(hub, config_dir)
    database = open_directory(url)
    try:
        with click.progressbar(length=0, label=f"Importing {source[:60]}", file=sys.stderr, show_pos=True) as bar:

            def progress(done: int, total: int | None) -> None:
                if total is not None and bar.length != total:
                    bar.length = total
                bar.update(done)

            if source.startswith(("http://", "https://")):
                report = import_url(database, source, per_page=per_page, workers=workers, progress=progress)
            else:
                report = import_file(database, Path(source), feed=feed, progress=progress)
    except (FeedError, ValueError) as exc:
        click.echo(f"hub: {exc}", err=True)
        sys.exit(2)
    finally:
        database.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(_summary(report))
        for problem in report.problems[:10]:
            click.echo(f"  {problem}", err=True)
    failed = report.failed_pages or report.not_found or report.failed_services or report.invalid
    sys.exit(1 if failed else 0)


@directory.command("list")
@click.option("--all", "include_withdrawn", is_flag=True, help="Include withdrawn services.")
@click.option("--linked", is_flag=True, help="Only services linked to a partner ([[plugins.hostels.service]]).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@config_option
@click.pass_obj
def list_command(hub: CommandContext, include_withdrawn: bool, linked: bool, as_json: bool,
                 config_dir: Path | None) -> None:  # fmt: skip
    """List the directory's services: id, status, linked partner, capacity and how fresh it is."""
    url, settings = _settings(hub, config_dir)
    database = open_directory(url)
    moment = now()
    try:
        if not as_json:
            total, withdrawn = database.count()
            click.echo(f"{total} services ({withdrawn} withdrawn)")
            for run in database.runs():
                state = "complete" if run["complete"] else "INCOMPLETE"
                click.echo(f"feed {run['feed']}: last import {age_text(moment - run['finished_at'])} ago, {state}")
            click.echo(f"{'ID':<38} {'STATUS':<10} {'PARTNER':<20} {'CAPACITY':<16} {'FRESH':<9} NAME")
        for stored in database.services(include_withdrawn=include_withdrawn):
            link = settings.link(stored.service.id)
            if linked and link is None:
                continue
            figure = chosen_capacity(database.capacities(stored.service.id), link)
            if as_json:
                click.echo(json.dumps(describe(stored, database.capacities(stored.service.id), link, settings,
                                               moment), sort_keys=True))  # fmt: skip
                continue
            status = "withdrawn" if stored.withdrawn else stored.service.status
            capacity = "-"
            if figure is not None:
                most = "?" if figure.capacity.maximum is None else f"{figure.capacity.maximum:g}"
                capacity = f"{figure.capacity.available:g}/{most} {figure.capacity.unit[:8]}"
            fresh = "-" if figure is None else age_text(moment - figure.recorded_at)
            click.echo(f"{stored.service.id:<38} {status:<10} {(link.partner if link else '-'):<20} "
                       f"{capacity:<16} {fresh:<9} {stored.service.name[:60]}")  # fmt: skip
    finally:
        database.close()


@directory.command("show")
@click.argument("service_id")
@config_option
@click.pass_obj
def show_command(hub: CommandContext, service_id: str, config_dir: Path | None) -> None:
    """Show one service (by the feed's id) as JSON: record, link, eligibility and capacity with freshness."""
    url, settings = _settings(hub, config_dir)
    database = open_directory(url)
    try:
        stored = database.get(service_id)
        if stored is None:
            click.echo(f"hub: no service {service_id!r} in the directory", err=True)
            sys.exit(1)
        document: dict[str, Any] = describe(stored, database.capacities(service_id), settings.link(service_id),
                                            settings, now())  # fmt: skip
    finally:
        database.close()
    click.echo(json.dumps(document, indent=2, sort_keys=True))


@directory.command("match")
@click.option("--age", type=click.FloatRange(0, 130), default=None, help="The person's age in years.")
@click.option("--gender", type=click.Choice(GENDERS), default=None, help="The person's gender.")
@click.option("--need", "needs", multiple=True, type=click.Choice(NEEDS), help="A need (repeat for several).")
@click.option("--postcode", default=None, help="The person's postcode (its district is matched against areas).")
@click.option("--authority", default=None, help="The person's local authority (GSS code, E06-E09).")
@click.option("--order", default=",".join(DEFAULT_ORDER), show_default=True,
              help="The prioritisation: criteria in order, comma-separated.")  # fmt: skip
@click.option("--max-capacity-age-hours", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Leave out services whose capacity figure is older than this.")  # fmt: skip
@config_option
@click.pass_obj
def match_command(hub: CommandContext, age: float | None, gender: str | None, needs: tuple[str, ...],
                  postcode: str | None, authority: str | None, order: str, max_capacity_age_hours: float | None,
                  config_dir: Path | None) -> None:  # fmt: skip
    """Which linked services may take a person, best first, and why each other one may not (no personal data kept)."""
    district = None
    if postcode is not None:
        district = postcode_district(postcode)
        if district is None:
            click.echo(f"hub: --postcode: {postcode!r} is not a UK postcode", err=True)
            sys.exit(2)
    try:
        policy = Policy(tuple(c.strip() for c in order.split(",") if c.strip()),
                        None if max_capacity_age_hours is None else max_capacity_age_hours * 3600)  # fmt: skip
    except ValueError as exc:
        click.echo(f"hub: --order: {exc}", err=True)
        sys.exit(2)
    url, settings = _settings(hub, config_dir)
    request = MatchRequest(age, gender, frozenset(needs), authority.upper() if authority else None, district)
    database = open_directory(url)
    try:
        result = match(database, settings, request, policy, now())
    finally:
        database.close()
    for rank_number, found in enumerate(result.ranked, start=1):
        click.echo(f"{rank_number}. {found.service_id}  partner {found.partner}  available {found.available:g}")
    if not result.ranked:
        click.echo("No linked service may take this person now.")
    for service_id, reasons in sorted(result.excluded.items()):
        click.echo(f"   not {service_id}: {'; '.join(reasons)}")
