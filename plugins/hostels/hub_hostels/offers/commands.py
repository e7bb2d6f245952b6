"""``hub offers queue|allocate|show``: the navigators' queue and the offer chain for operators.

They work on the offer tables beside the directory (``hub_hostels.offers.book``) and never read a Referral's
body. ``allocate`` records the navigator's choice and the offer; the running hub (``hub serve``) sends the
offered Referral to the provider within seconds (its sweep sends every open offer not yet sent). Each command
finds the hub through ``--config DIR`` (default ``$HUB_CONFIG`` or ``./config``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hub_hostels.directory.database import database_url, now
from hub_hostels.directory.links import DirectorySettings
from hub_hostels.directory.match_directory import candidates
from hub_hostels.directory.matching import MatchRequest
from hub_hostels.offers.book import open_offers
from hub_hostels.offers.desk import OfferDesk, OfferRefused
from hub_hostels.offers.terms import OfferSettings

if TYPE_CHECKING:
    from hub import CommandContext

config_option = click.option(
    "--config", "config_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Config directory (default: $HUB_CONFIG or ./config).",
)  # fmt: skip


def _no_body(record_id: str) -> MatchRequest:
    raise RuntimeError("the offers commands never read a Referral's body")


def _with_desk(hub: CommandContext, config_dir: Path | None, act: Any) -> Any:
    settings = hub.settings(config_dir)
    try:
        url, links, offer_settings = database_url(settings), DirectorySettings.from_settings(settings), \
            OfferSettings.from_settings(settings)  # fmt: skip
    except ValueError as exc:
        click.echo(f"hub: {exc}", err=True)
        sys.exit(2)
    book = open_offers(url)
    try:
        return act(OfferDesk(book, offer_settings, lambda: candidates(book, links), _no_body, now))
    finally:
        book.close()


@click.group("offers")
def offers() -> None:
    """Offers of referrals to services, and the navigators' queue."""


@offers.command("queue")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def queue(hub: CommandContext, config_dir: Path | None, as_json: bool) -> None:
    """The referrals waiting for a navigator, oldest first, with why."""
    waiting = _with_desk(hub, config_dir, lambda desk: desk.queue())
    for record_id, referrer, reason, since in waiting:
        if as_json:
            click.echo(json.dumps({"referral": record_id, "referrer": referrer, "reason": reason, "since": since}))
        else:
            click.echo(f"{record_id}  from {referrer}  {reason}  waiting {int(now() - since)}s")
    if not waiting and not as_json:
        click.echo("no referral is waiting for a navigator")


@offers.command("allocate")
@config_option
@click.argument("record_id")
@click.argument("service_id")
@click.option("--reason", required=True, help="Why this service (at most 200 characters, no personal data).")
@click.option("--navigator", default="operator", show_default=True, help="Who allocates (recorded).")
@click.pass_obj
def allocate(hub: CommandContext, config_dir: Path | None, record_id: str, service_id: str, reason: str,
             navigator: str) -> None:  # fmt: skip
    """Allocate a queued referral to a linked service by hand; the running hub sends the offer."""
    try:
        outcome = _with_desk(hub, config_dir, lambda desk: desk.allocate(record_id, service_id, navigator, reason))
    except OfferRefused as exc:
        click.echo(f"hub: {exc}", err=True)
        sys.exit(1)
    for offer in outcome.offered:
        click.echo(f"offered {record_id} to {offer.service_id} ({offer.partner}): offer {offer.id}; "
                   "the running hub sends it")  # fmt: skip


@offers.command("show")
@config_option
@click.argument("record_id")
@click.pass_obj
def show(hub: CommandContext, config_dir: Path | None, record_id: str) -> None:
    """A referral's offers and what its referrer was told, as JSON."""

    def read(desk: OfferDesk) -> dict[str, Any]:
        with desk.book.transaction() as tx:
            state = tx.referral(record_id)
            if state is None:
                return {}
            return {"referral": record_id, "state": state.state, "waiting_because": state.queue_reason,
                    "offers": [{"offer_id": o.id, "service_id": o.service_id, "partner": o.partner, "state": o.state,
                                "reason_code": o.reason_code} for o in tx.offers(record_id)],
                    "allocations": [{"service_id": s, "navigator": n, "reason": r, "at": a}
                                    for s, n, r, a in tx.allocations(record_id)],
                    "told": [{"step": s, "detail": d} for s, d in tx.notices(record_id)]}  # fmt: skip

    found = _with_desk(hub, config_dir, read)
    if not found:
        click.echo(f"hub: {record_id} is not in the offer chain", err=True)
        sys.exit(1)
    click.echo(json.dumps(found, indent=2))
