"""``hub send`` and ``hub validate``: canonical JSON messages from files, sent or checked."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hub.cli.common import build, config_option, friendly_errors
from hub.plugin_api.problems import HubError


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "as_partner", required=True, help="The partner id the messages are sent as.")
@click.option("--url", default=None, help="Send over HTTP to this hub (token from --token or $HUB_TOKEN).")
@click.option("--token", default=None, help="Bearer token for --url (prefer $HUB_TOKEN: tokens in argv are visible).")
@config_option
@friendly_errors
def send(files: tuple[Path, ...], as_partner: str, url: str | None, token: str | None, config_dir: Path | None) -> None:
    """Send canonical JSON messages (files of one object, or NDJSON) as PARTNER.

    With --url the messages go through the hub's HTTP API like any partner's;
    without it they are committed straight into this machine's store (an
    operator sending on a partner's behalf). A progress bar shows when there are many.
    """
    from hub.plugin_api.problems import UnparseableInput
    from hub.strict_json import parse_json_strict

    messages: list[tuple[str, dict[str, Any]]] = []
    for path in files:
        data = path.read_bytes()
        parts = [(f"{path}:{n}", line) for n, line in enumerate(data.split(b"\n"), 1) if line.strip()]
        for where, part in parts if path.suffix == ".ndjson" else [(str(path), data)]:
            try:  # the reader the hub's adapters use, so a file means here what it would mean over HTTP
                messages.append((where, parse_json_strict(part)))
            except UnparseableInput as exc:
                first = exc.problems[0] if exc.problems else None
                raise click.ClickException(f"{where}: {exc.detail}" + (f" ({first.location}: {first.message})"
                                                                       if first else "")) from None  # fmt: skip
    failures = 0
    if url:
        sender = _http_sender(url, token or os.environ.get("HUB_TOKEN"))
    else:
        hub = build(config_dir)
        if hub.config.partners.get(as_partner) is None:
            raise click.ClickException(f"no partner {as_partner!r} in {hub.config.config_dir}/partners.toml")
        sender = _local_sender(hub, as_partner)
    with click.progressbar(messages, label="sending", show_pos=True, file=sys.stderr,
                           hidden=len(messages) < 10) as bar:  # fmt: skip
        for where, message in bar:
            ok, text = sender(message)
            if not ok:
                failures += 1
                click.echo(f"\n{where}: {text}", err=True)
            elif len(messages) < 10:
                click.echo(f"{where}: {text}")
    click.echo(f"{len(messages) - failures} accepted, {failures} refused", err=True)
    if failures:
        sys.exit(1)


def _http_sender(url: str, token: str | None) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    import requests

    if not token:
        raise click.ClickException("--url needs a token: set $HUB_TOKEN (or pass --token)")
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    def send_one(message: dict[str, Any]) -> tuple[bool, str]:
        try:
            response = session.post(f"{url.rstrip('/')}/v1/messages", data=json.dumps(message), timeout=30)
        except requests.RequestException as exc:
            return False, f"could not reach {url}: {exc}"
        if response.status_code == 202:
            body = response.json()
            return True, f"accepted as {body['id']}" + (" (duplicate)" if body.get("duplicate") else "")
        try:
            problem = response.json()
            details = "; ".join(f"{e['location']}: {e['detail']}" for e in problem.get("errors", []))
            return False, f"{response.status_code} {problem.get('detail', '')} {details}".strip()
        except ValueError:
            return False, f"{response.status_code} {response.text[:200]}"

    return send_one


def _local_sender(hub: Any, partner: str) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    def send_one(message: dict[str, Any]) -> tuple[bool, str]:
        try:
            accepted = hub.intake.submit_now(message, sender_id=partner)
        except HubError as exc:
            details = "; ".join(f"{p.location}: {p.message}" for p in exc.problems)
            return False, f"{exc.detail} {details}".strip()
        notes = f" ({'; '.join(accepted.notes)})" if accepted.notes else ""
        return True, f"accepted as {accepted.id}" + (" (duplicate)" if accepted.duplicate else "") + notes

    return send_one


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "as_partner", default=None, help="Also check sender.org_id against this partner id.")
@friendly_errors
def validate(files: tuple[Path, ...], as_partner: str | None) -> None:
    """Check canonical JSON messages against the schemas and rules; list every problem."""
    from hub.canonical import CanonicalValidator
    from hub.defaults.canonical_json import parse_json_document
    from hub.plugins import load_plugins

    validator = CanonicalValidator(load_plugins())
    bad = 0
    for path in files:
        try:
            document = parse_json_document(path.read_bytes())
            problems = validator.problems(document, as_partner)
        except HubError as exc:
            problems = exc.problems or []
            click.echo(f"{path}: {exc.detail}", err=True)
        if problems:
            bad += 1
            for p in problems:
                click.echo(f"{path}: {p.location}: {p.message}", err=True)
        else:
            click.echo(f"{path}: valid {document.get('type')}")
    sys.exit(1 if bad else 0)
