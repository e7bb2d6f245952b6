"""``hub serve``: the HTTP API (and, unless --no-worker, delivery) until stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hub import gc_tuning
from hub.cli.common import build, config_option, friendly_errors


@click.command()
@config_option
@click.option("--host", default=None, help="Address to listen on (default from hub.toml).")
@click.option("--port", type=int, default=None, help="Port to listen on (default from hub.toml).")
@click.option("--no-worker", is_flag=True, help="Accept only; leave delivery to 'hub worker' processes.")
@click.option("--no-listeners", is_flag=True, help="Start no listener; leave them to 'hub worker --listeners'.")
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
    config_dir: Path | None, host: str | None, port: int | None, no_worker: bool, no_listeners: bool, strict: bool,
    tls_cert: str | None, tls_key: str | None, client_ca: str | None, require_client_cert: bool,
) -> None:  # fmt: skip
    """Serve the HTTP API (and, unless --no-worker, deliver messages) until stopped.

    With --tls-cert and --tls-key it serves HTTPS (TLS 1.2 or newer); with
    --client-ca, a client certificate whose SHA-256 fingerprint is a partner's
    client_cert_sha256 in partners.toml identifies that partner.
    """
    import uvicorn

    from hub.api import create_app
    from hub.cli.checks.plugin_checks import refuse_on_plugin_config_problems
    from hub.lifecycle import enabled_listeners

    hub = build(config_dir, strict)
    try:
        refuse_on_plugin_config_problems(hub.config, hub.plugins)  # a plugin's configuration, as the hub's own
    except Exception:
        hub.store.close()
        raise
    hub.metrics.set("hub_processes", 1, role="serve")
    settings = hub.config.settings
    if not no_listeners:
        enabled_listeners(hub)  # a listener no plugin registers: say so in one line, before anything starts
    for partner in hub.config.partners.partners.values():
        if partner.receive.mode == "push" and (partner.receive.url or "").startswith("http://"):
            click.echo(f"hub: warning: partner {partner.id} receives over plain http ({partner.receive.url})", err=True)
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if client_ca and not tls_cert:
        raise click.UsageError("--client-ca needs --tls-cert and --tls-key")
    from hub.api.header_deadline import HeaderDeadlineProtocol

    protocol: dict[str, Any] = {"http": HeaderDeadlineProtocol.with_timeout(settings.header_timeout_seconds)}
    if tls_cert:
        import ssl

        from hub.api.tls import ClientCertHttpProtocol

        protocol = {"ssl_certfile": tls_cert, "ssl_keyfile": tls_key,
               "http": ClientCertHttpProtocol.with_timeout(settings.header_timeout_seconds)}  # fmt: skip
        if client_ca:
            protocol["ssl_ca_certs"] = client_ca
            protocol["ssl_cert_reqs"] = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    else:
        click.echo("hub: warning: serving plain HTTP; use --tls-cert/--tls-key (or a TLS proxy) outside a laptop",
                   err=True)  # fmt: skip
    app = create_app(hub, run_worker=not no_worker, run_listeners=not no_listeners)
    gc_tuning.settle()  # what start-up built is never walked by the collector again
    try:
        uvicorn.run(
            app,
            host=host or settings.host,
            port=settings.port if port is None else port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,  # a client that never finishes its handshake must not hold up a stop
            loop="uvloop" if _has("uvloop") else "asyncio",
            **protocol,
        )
    finally:
        hub.close()


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
