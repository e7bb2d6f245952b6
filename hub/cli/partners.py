"""``hub partners list|stats|token``: who the hub talks to, how fast they answer, and their tokens."""

from __future__ import annotations

from pathlib import Path

import click

from hub.cli.common import StoreOnly, config_option, friendly_errors, print_json
from hub.services.partner_stats import partner_stats
from hub.services.tokens import issue_token


@click.group()
def partners() -> None:
    """The partners in partners.toml."""


@partners.command("list")
@config_option
@friendly_errors
def partners_list(config_dir: Path | None) -> None:
    """Each partner: id, kind, codes, and how it receives."""
    from hub.config import config_dir_from_env, load_partners

    directory = load_partners(config_dir_from_env(config_dir))
    for p in directory.partners.values():
        codes = " ".join(f"{k}={v}" for k, v in p.codes.items())
        how = f"push {p.receive.transport} {p.receive.url or ''}".strip() if p.receive.mode == "push" else "pull"
        token = "token set" if directory.has_token(p.id) else "NO TOKEN"
        click.echo(f"{p.id:22} {p.kind:13} {codes:28} {how:50} {token}")
    for o in directory.operators.values():
        click.echo(f"{o.id:22} {'operator':13} {'':28} {'':50} {'token set' if o.token_hashes else 'NO TOKEN'}")


@partners.command("stats")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def partners_stats(config_dir: Path | None, as_json: bool) -> None:
    """How fast each partner answers: per message type, time from delivery to its first acknowledgement
    and to its first answer (for a council's HousingRequest, the first appointment)."""
    rows = partner_stats(StoreOnly(config_dir).store)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("Nothing delivered yet.")

    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}s"

    for r in rows:
        click.echo(
            f"{r['partner']:22} {r['type']:18} delivered {r['delivered']:5}  acknowledged {r['acknowledged']:5} "
            f"(median {show(r['to_acknowledgement']['median_seconds'])})  answered {r['answered']:5} "
            f"(median {show(r['to_answer']['median_seconds'])}, max {show(r['to_answer']['max_seconds'])})"
        )


@partners.command("token")
@click.argument("partner_id")
def partners_token(partner_id: str) -> None:
    """Make a new token for PARTNER_ID: prints it once, and the digest line for partners.toml."""
    issued = issue_token()
    click.echo(f"token for {partner_id} (give it to them; it is not stored): {issued.token}")
    click.echo(f"add to its [[partner]] table:  {issued.toml_line}")
