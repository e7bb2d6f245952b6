"""The ``hub`` command: run the hub, send messages, and look after what it holds.

Every command takes ``--config DIR`` (default ``$HUB_CONFIG`` or ``./config``)
and ``--help``. Errors go to stderr with a non-zero exit and a sentence that
says what to do.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hub.problems import ConfigError, HubError, PluginError

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Config directory (default: $HUB_CONFIG or ./config).",
)


def friendly_errors(func: F) -> F:
    """Turn configuration and plugin errors into a one-line message and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, PluginError) as exc:
            click.echo(f"hub: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _hub(config_dir: Path | None, strict: bool = False) -> Any:
    from hub.runtime import build_hub

    return build_hub(config_dir, strict_plugins=strict or None)


class _StoreOnly:
    """The store without keys (bodies stay sealed) and the observer plugins: for maintenance commands."""

    def __init__(self, config_dir: Path | None) -> None:
        from hub.config import load_config
        from hub.plugins import load_plugins
        from hub.store import open_store

        self._plugins = load_plugins()
        self.config = load_config(config_dir, self._plugins.vocabulary)
        self.store = open_store(self.config.settings)

    def emit(self, events: list[Any]) -> None:
        """Tell observer plugins about committed events (their failures are reported, not raised)."""
        for plugin_name, exc in self._plugins.notify(events):
            click.echo(f"hub: observer {plugin_name} failed: {exc}", err=True)


def _store_only(config_dir: Path | None) -> _StoreOnly:
    return _StoreOnly(config_dir)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


class _HubGroup(click.Group):
    """The ``hub`` group: built-in commands plus those plugins register (``hub_register_commands``)."""

    _plugin_commands: dict[str, click.Command] | None = None

    def _plugins(self) -> dict[str, click.Command]:
        if self._plugin_commands is None:
            from hub.plugins import load_plugins

            try:
                self._plugin_commands = {
                    name: cmd for name, cmd in load_plugins().commands.items() if name not in self.commands
                }
            except PluginError as exc:
                click.echo(f"hub: {exc}", err=True)
                self._plugin_commands = {}
        return self._plugin_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._plugins().get(cmd_name)


@click.group(cls=_HubGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level (ids and states only, never personal data).")
def main(verbose: bool) -> None:
    """The partner hub: carries discharge, housing, referral and employment messages between agencies."""
    import logging

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# -- setting up and running -----------------------------------------------------------------------
@main.command()
@config_option
@friendly_errors
def init(config_dir: Path | None) -> None:
    """Create a config directory (if missing) with fresh partner tokens, and prepare the store.

    A new config is a copy of the example deployment; each partner's and
    operator's token is printed once here and only its digest is written.
    """
    from hub.config import config_dir_from_env, load_config
    from hub.crypto.keyring import FileKeyRing, KeyRingError
    from hub.store import open_store

    directory = config_dir_from_env(config_dir)
    early = os.environ.get("HUB_KEY_PASSPHRASE")
    if early is not None and len(early) < 12:
        raise click.ClickException("HUB_KEY_PASSPHRASE must be at least 12 characters; nothing was created")
    if not (directory / "partners.toml").exists():
        example = Path(__file__).resolve().parent.parent / "config"
        if not example.is_dir():
            raise ConfigError(f"{directory}: missing, and no example config to copy from ({example})")
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("hub.toml", "partners.toml", "routes.toml"):
            shutil.copy(example / name, directory / name)
        tokens = _add_tokens(directory / "partners.toml")
        (directory / "partners.toml").chmod(0o600)
        click.echo(f"Created {directory} from the example deployment. Tokens (shown once; give each to its owner):")
        for ident, token in tokens.items():
            click.echo(f"  {ident:24} {token}")
    config = load_config(directory)
    settings = config.settings
    if settings.key_provider == "file" and not (settings.keys_dir / "keyring.json").exists():
        passphrase = os.environ.get(settings.passphrase_env)
        if not passphrase:
            passphrase = secrets.token_urlsafe(24)
            click.echo(f"Key ring passphrase (shown once; keep it in a secret store and export it as "
                       f"{settings.passphrase_env} wherever the hub runs): {passphrase}")  # fmt: skip
        try:
            FileKeyRing.create(settings.keys_dir, passphrase)
        except KeyRingError as exc:
            raise click.ClickException(f"{exc} (set {settings.passphrase_env} and run 'hub init' again)") from None
        click.echo(f"Key ring created in {settings.keys_dir}")
    store = open_store(settings)
    store.close()
    click.echo(f"Store ready at {settings.store_path}")


def _add_tokens(partners_file: Path) -> dict[str, str]:
    from hub.auth import generate_token, hash_token

    tokens: dict[str, str] = {}
    out = []
    for line in partners_file.read_text().splitlines():
        out.append(line)
        stripped = line.strip()
        if stripped.startswith("id = "):
            ident = json.loads(stripped.split("=", 1)[1].strip())
            token = generate_token()
            tokens[ident] = token
            out.append(f'token_sha256 = "{hash_token(token)}"')
    partners_file.write_text("\n".join(out) + "\n")
    return tokens


@main.command()
@config_option
@click.option("--host", default=None, help="Address to listen on (default from hub.toml).")
@click.option("--port", type=int, default=None, help="Port to listen on (default from hub.toml).")
@click.option("--no-worker", is_flag=True, help="Accept only; leave delivery to 'hub worker' processes.")
@click.option("--strict", is_flag=True, help="Refuse to start if any plugin fails to load.")
@click.option(
    "--tls-cert", type=click.Path(exists=True, dir_okay=False), help="Serve HTTPS with this certificate (PEM)."
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="The certificate's private key (PEM).")
@click.option("--client-ca", type=click.Path(exists=True, dir_okay=False),
              help="Ask partners for client certificates signed by this CA (mutual TLS).")  # fmt: skip
@click.option("--require-client-cert", is_flag=True, help="With --client-ca: refuse connections without one.")
@friendly_errors
def serve(
    config_dir: Path | None, host: str | None, port: int | None, no_worker: bool, strict: bool,
    tls_cert: str | None, tls_key: str | None, client_ca: str | None, require_client_cert: bool,
) -> None:  # fmt: skip
    """Serve the HTTP API (and, unless --no-worker, deliver messages) until stopped.

    With --tls-cert and --tls-key it serves HTTPS (TLS 1.2 or newer); with
    --client-ca, a client certificate whose SHA-256 fingerprint is a partner's
    client_cert_sha256 in partners.toml identifies that partner.
    """
    import uvicorn

    from hub.api import create_app

    hub = _hub(config_dir, strict)
    settings = hub.config.settings
    for name, options in settings.listeners.items():  # say so in one line, before anything starts
        if options.get("enabled", True) and name not in hub.plugins.listeners:
            known = ", ".join(sorted(hub.plugins.listeners)) or "none"
            raise ConfigError(
                f"hub.toml: [listeners.{name}]: no loaded plugin registers this listener (known: {known})"
            )
    for partner in hub.config.partners.partners.values():
        if partner.receive.mode == "push" and (partner.receive.url or "").startswith("http://"):
            click.echo(f"hub: warning: partner {partner.id} receives over plain http ({partner.receive.url})", err=True)
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if client_ca and not tls_cert:
        raise click.UsageError("--client-ca needs --tls-cert and --tls-key")
    tls: dict[str, Any] = {}
    if tls_cert:
        import ssl

        from hub.api.tls import ClientCertHttpProtocol

        tls = {"ssl_certfile": tls_cert, "ssl_keyfile": tls_key, "http": ClientCertHttpProtocol}
        if client_ca:
            tls["ssl_ca_certs"] = client_ca
            tls["ssl_cert_reqs"] = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    else:
        click.echo("hub: warning: serving plain HTTP; use --tls-cert/--tls-key (or a TLS proxy) outside a laptop",
                   err=True)  # fmt: skip
    app = create_app(hub, run_worker=not no_worker)
    try:
        uvicorn.run(
            app,
            host=host or settings.host,
            port=settings.port if port is None else port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,  # a client that never finishes its handshake must not hold up a stop
            loop="uvloop" if _has("uvloop") else "asyncio",
            **({"http": "httptools" if _has("httptools") else "h11"} | tls),
        )
    finally:
        hub.close()


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@main.command()
@config_option
@friendly_errors
def worker(config_dir: Path | None) -> None:
    """Deliver due messages until stopped (no HTTP API), beside one or more 'hub serve --no-worker'."""
    import asyncio
    import signal

    hub = _hub(config_dir)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await hub.make_worker().run(stop)

    try:
        asyncio.run(run())
    finally:
        hub.close()


@main.command()
@click.option("--timeout", type=float, default=25.0, show_default=True, help="Give up after this many seconds.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo's config and store in this directory instead of a temporary one.")  # fmt: skip
def demo(timeout: float, keep: Path | None) -> None:
    """Run the whole discharge pathway on loopback: a trust, a council, a hostel and an IPS service."""
    from hub.demo import run_demo

    sys.exit(run_demo(timeout=timeout, keep=keep))


# -- sending and looking -----------------------------------------------------------------------------
@main.command()
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
    from hub.problems import UnparseableInput
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
        hub = _hub(config_dir)
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


@main.group()
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
    hub = _store_only(config_dir)
    rows = hub.store.list_messages(limit=limit, message_type=message_type, partner=partner)
    if as_json:
        _print_json(rows)
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
    from hub.bodies import BodyUnreadable
    from hub.events import HubEvent

    hub = _hub(config_dir) if body else _store_only(config_dir)
    view = hub.store.message_view(message_id)
    if view is None:
        raise click.ClickException(f"no message {message_id}; 'hub messages list' shows the ids")
    if body:
        hub.store.audit([HubEvent("body_read", message_id, time.time(), detail={"via": "cli"}, actor=operator)])
        try:
            view["body"] = json.loads(hub.store.read_body(message_id) or b"null")
        except BodyUnreadable as exc:
            raise click.ClickException(f"the body of {message_id} cannot be read: {exc}") from None
    _print_json(view)


@messages.command("find")
@click.option("--nhs-number", required=True, help="Find messages about the person with this NHS number.")
@click.option("--operator", default=os.environ.get("USER", "operator"), show_default="$USER",
              help="Who is searching, for the audit log.")  # fmt: skip
@config_option
@friendly_errors
def messages_find(nhs_number: str, operator: str, config_dir: Path | None) -> None:
    """Messages about one person, found through the keyed blind index (nothing is decrypted)."""
    from hub.crypto.blind_index import nhs_index
    from hub.events import HubEvent
    from hub.identifiers import nhs_number_problem

    why = nhs_number_problem(nhs_number)
    if why:
        raise click.ClickException(f"--nhs-number: {why}")
    hub = _hub(config_dir)
    rows = hub.store.find_by_index(nhs_index(hub.keys.index_key(), nhs_number))
    hub.store.audit([HubEvent("searched", "", time.time(), detail={"by": "nhs_number", "found": len(rows)},
                              actor=operator)])  # fmt: skip
    if not rows:
        click.echo("No messages about that person.")
    for r in rows:
        click.echo(f"{r['id']}  {r['received_at']}  {r['type']:18} {r['sender']}")


@main.group()
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
    hub = _store_only(config_dir)
    rows = hub.store.dead_letters(limit)
    refused = hub.store.refused_transmissions(limit)
    if as_json:
        _print_json({"dead_deliveries": rows, "refused_transmissions": refused})
        return
    if not rows:
        click.echo("No dead letters.")
    for r in rows:
        click.echo(f"{r['delivery_id']}  message {r['message']}  {r['type']:18} to {r['partner']:20} "
                   f"attempts {r['attempts']}: {r['last_error']}")  # fmt: skip
    if refused:
        click.echo("Refused transmissions (nothing stored; ask the sender to fix and resend):")
    for r in refused:
        where = f" at {', '.join(r['problems'])}" if r.get("problems") else ""
        codes = "".join(f" {k} {r[k]}" for k in sorted(r) if k not in _REFUSAL_SHOWN)
        click.echo(f"{r['at']}  {r.get('listener')} {r.get('reference')} from {r.get('from')}{codes}: "
                   f"{r.get('status')} {r.get('error')}: {r.get('reason')}{where}")  # fmt: skip


_REFUSAL_SHOWN = {"at", "listener", "reference", "from", "status", "error", "reason", "problems"}


@main.command()
@click.argument("ids", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Replay every dead-lettered delivery.")
@config_option
@friendly_errors
def replay(ids: tuple[str, ...], all_dead: bool, config_dir: Path | None) -> None:
    """Put dead-lettered deliveries back in the queue (by delivery id or message id, or --all-dead)."""
    if not ids and not all_dead:
        raise click.UsageError("name delivery or message ids, or pass --all-dead")
    hub = _store_only(config_dir)
    events = hub.store.replay(None if all_dead else list(ids), time.time())
    hub.emit(events)
    count = len(events)
    click.echo(f"{count} deliveries queued again")
    if ids and count == 0:
        click.echo("hub: none of those ids is a dead delivery ('hub dlq list' shows them)", err=True)
        sys.exit(1)


@main.group()
def plugins() -> None:
    """Installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def plugins_list(as_json: bool) -> None:
    """Each plugin, the distribution it comes from, and what it registers."""
    from hub.plugins import load_plugins

    loaded = load_plugins()
    rows = [
        {"name": i.name, "distribution": i.distribution, "version": i.version, "module": i.module,
         "hooks": i.hooks, "registers": i.registered, "error": i.error}
        for i in loaded.infos
    ]  # fmt: skip
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        dist = f"{r['distribution']} {r['version']}".strip()
        status = f"FAILED: {r['error']}" if r["error"] else ", ".join(r["registers"]) or "(observes only)"
        click.echo(f"{r['name']:16} {dist:28} {status}")


@main.command()
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


@main.group()
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
        token = "token set" if p.token_hashes else "NO TOKEN"
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
    import statistics

    hub = _store_only(config_dir)
    groups: dict[tuple[str, str], list[tuple[float, float | None, float | None]]] = {}
    for partner, message_type, delivered_at, acked_at, answered_at in hub.store.reply_times():
        groups.setdefault((partner, message_type), []).append((delivered_at, acked_at, answered_at))

    def summary(waits: list[float]) -> dict[str, float | None]:
        waits = sorted(waits)
        if not waits:
            return {"median_seconds": None, "max_seconds": None}
        return {"median_seconds": round(statistics.median(waits), 3), "max_seconds": round(waits[-1], 3)}

    rows = []
    for (partner, message_type), items in sorted(groups.items()):
        acks = [max(0.0, a - d) for d, a, _ in items if a is not None]
        answers = [max(0.0, b - d) for d, _, b in items if b is not None]
        rows.append({"partner": partner, "type": message_type, "delivered": len(items),
                     "acknowledged": len(acks), "answered": len(answers),
                     "to_acknowledgement": summary(acks), "to_answer": summary(answers)})  # fmt: skip
    if as_json:
        _print_json(rows)
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
    from hub.auth import generate_token, hash_token

    token = generate_token()
    click.echo(f"token for {partner_id} (give it to them; it is not stored): {token}")
    click.echo(f'add to its [[partner]] table:  token_sha256 = "{hash_token(token)}"')


from hub.envelope.cli import envelope  # noqa: E402  (the partner-facing envelope commands)

main.add_command(envelope)


# -- keys, audit and retention -------------------------------------------------------------------------
@main.group()
def keys() -> None:
    """The key ring: key-encryption keys for stored bodies, and the blind-index key."""


def _key_ring(config_dir: Path | None, *, upgrade: bool = False) -> Any:
    """The settings and the opened file key ring; with ``upgrade``, a ring below the scrypt floor is re-encrypted."""
    from hub.config import config_dir_from_env, load_settings
    from hub.crypto.keyring import FileKeyRing, KeyRingError, passphrase_from_env

    settings = load_settings(config_dir_from_env(config_dir))
    if settings.key_provider != "file":
        raise click.ClickException(f"keys are managed by the {settings.key_provider!r} provider, not by this command")
    try:
        ring = FileKeyRing.open(settings.keys_dir, passphrase_from_env(settings.passphrase_env), upgrade=upgrade)
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    if ring.upgraded:
        click.echo(f"Key ring re-encrypted at scrypt N={ring.kdf_cost()} (its keys are unchanged)")
    return settings, ring


@keys.command("init")
@config_option
@friendly_errors
def keys_init(config_dir: Path | None) -> None:
    """Create the key ring (one primary KEK, one index key) under the passphrase in the environment."""
    from hub.config import config_dir_from_env, load_settings
    from hub.crypto.keyring import FileKeyRing, KeyRingError, passphrase_from_env

    settings = load_settings(config_dir_from_env(config_dir))
    try:
        ring = FileKeyRing.create(settings.keys_dir, passphrase_from_env(settings.passphrase_env))
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Key ring created at {ring.path}; primary key {ring.primary_kek_id()}")


@keys.command("list")
@config_option
@friendly_errors
def keys_list(config_dir: Path | None) -> None:
    """Each key: id, purpose, status, dates, and how many stored data keys it wraps."""
    settings, ring = _key_ring(config_dir)
    from hub.store import open_store

    store = open_store(settings)
    try:
        usage = store.key_usage()
    finally:
        store.close()
    for info in ring.infos():
        wraps = {
            "kek": f"wraps {usage.get(info.id, 0)} data keys",
            "index": "blind index",
            "fingerprint": "message fingerprints (duplicate detection)",
            "sig": "signs sealed envelopes",
            "enc": "opens envelopes sealed to the hub",
        }.get(info.purpose, info.purpose)
        retired = f" retired {info.retired_at}" if info.retired_at else ""
        click.echo(f"{info.id:24} {info.purpose:6} {info.status:8} created {info.created_at}{retired}  {wraps}")


@keys.command("export")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for hub.sig.pub.jwk and hub.enc.pub.jwk.")  # fmt: skip
@config_option
@friendly_errors
def keys_export(out: Path, config_dir: Path | None) -> None:
    """Write the hub's PUBLIC envelope keys, to give to partners that seal (never the private parts)."""
    from hub.envelope import dump_jwk

    _, ring = _key_ring(config_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "hub.sig.pub.jwk").write_text(dump_jwk(ring.envelope_signing_key().public()) + "\n")
    (out / "hub.enc.pub.jwk").write_text(dump_jwk(ring.envelope_decryption_keys()[0].public()) + "\n")
    click.echo(f"wrote {out / 'hub.sig.pub.jwk'} and {out / 'hub.enc.pub.jwk'}")


@keys.command("rotate")
@click.option("--rewrap", is_flag=True, help="Then re-wrap every data key under the new key (bodies untouched).")
@click.option("--batch-size", type=int, default=500, show_default=True)
@config_option
@friendly_errors
def keys_rotate(rewrap: bool, batch_size: int, config_dir: Path | None) -> None:
    """Add a new primary KEK (running hubs pick it up within a second); old keys stay readable."""
    settings, ring = _key_ring(config_dir, upgrade=True)
    new_id = ring.rotate()
    click.echo(f"New primary key {new_id}")
    if rewrap:
        _rewrap(settings, ring, batch_size)


@keys.command("rewrap")
@click.option("--batch-size", type=int, default=500, show_default=True)
@config_option
@friendly_errors
def keys_rewrap(batch_size: int, config_dir: Path | None) -> None:
    """Re-wrap data keys still under older KEKs with the primary, in batches, beside a running hub.

    A key ring made before the scrypt cost floor is first re-encrypted at the current cost.
    """
    settings, ring = _key_ring(config_dir, upgrade=True)
    _rewrap(settings, ring, batch_size)


def _rewrap(settings: Any, ring: Any, batch_size: int) -> None:
    from hub.bodies import BodyUnreadable
    from hub.store import open_store

    store = open_store(settings)
    total = 0
    try:
        remaining = sum(n for k, n in store.key_usage().items() if k != ring.primary_kek_id())
        with click.progressbar(length=remaining, label="re-wrapping", file=sys.stderr, hidden=remaining < 1000) as bar:
            while True:
                try:
                    done = store.rewrap(ring, batch_size)
                except BodyUnreadable as exc:
                    raise click.ClickException(f"cannot re-wrap: {exc}") from None
                if not done:
                    break
                total += done
                bar.update(done)
    finally:
        store.close()
    click.echo(f"{total} data keys re-wrapped under {ring.primary_kek_id()}")


@keys.command("retire")
@click.argument("key_id")
@click.option(
    "--force", is_flag=True, help="Retire even though stored data keys still need it (they become unreadable)."
)
@config_option
@friendly_errors
def keys_retire(key_id: str, force: bool, config_dir: Path | None) -> None:
    """Destroy an old KEK's material; refused while stored data keys still need it, unless --force."""
    from hub.crypto.keyring import KeyRingError
    from hub.store import open_store

    settings, ring = _key_ring(config_dir)
    store = open_store(settings)
    try:
        in_use = store.key_usage().get(key_id, 0)
    finally:
        store.close()
    if in_use and not force:
        raise click.ClickException(
            f"{key_id} still wraps {in_use} data keys; run 'hub keys rewrap' first (or --force to make them unreadable)"
        )
    try:
        ring.retire(key_id)
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{key_id} retired")


@main.group()
def audit() -> None:
    """The hash-chained audit log of every state change, read and refusal."""


@audit.command("verify")
@config_option
@friendly_errors
def audit_verify(config_dir: Path | None) -> None:
    """Check every link of the audit chain; report the first broken one and exit 1 if any."""
    from hub.config import config_dir_from_env, load_settings
    from hub.store import open_store

    store = open_store(load_settings(config_dir_from_env(config_dir)))
    try:
        report = store.verify_audit()
    finally:
        store.close()
    if report.ok:
        click.echo(f"audit log intact: {report.rows} events; head {report.head} (record it outside the hub)")
        return
    click.echo(f"audit log BROKEN at event {report.broken_at}: {report.reason}", err=True)
    sys.exit(1)


@main.group()
def retention() -> None:
    """Retention: destroy the bodies of messages kept longer than hub.toml's [retention] allows."""


@retention.command("run")
@config_option
@friendly_errors
def retention_run(config_dir: Path | None) -> None:
    """Crypto-shred every finished message past its type's retention (its data key is destroyed)."""
    from hub.config import config_dir_from_env, load_settings
    from hub.store import open_store

    settings = load_settings(config_dir_from_env(config_dir))
    if not settings.retention_days:
        raise click.ClickException("hub.toml has no [retention] table; nothing is ever shredded")
    store = open_store(settings)
    try:
        count = store.shred_expired(settings.retention_days, time.time())
        complete = store.checkpoint()
    finally:
        store.close()
    click.echo(f"{count} messages shredded")
    if count and not complete:
        click.echo("hub: the write-ahead log still holds old pages (a reader is busy); run 'hub retention run' "
                   "again shortly so shredded keys leave the WAL too", err=True)  # fmt: skip
