"""``hub init``: a config directory with fresh tokens, a key ring, and a prepared store."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from hub.cli.common import config_option, friendly_errors


@click.command()
@config_option
@friendly_errors
def init(config_dir: Path | None) -> None:
    """Create a config directory (if missing) with fresh partner tokens, and prepare the store.

    A new config is a copy of the example deployment; each partner's and
    operator's token is printed once here and only its digest is written.
    It ends by running ``hub config check`` and fails if that finds a problem.
    """
    from hub.config import config_dir_from_env, load_config
    from hub.crypto.keyring import FileKeyRing, KeyRingError
    from hub.services.tokens import add_tokens
    from hub.shipped import copy_example_config
    from hub.store import open_store
    from hub.store.url import describe

    directory = config_dir_from_env(config_dir)
    early = os.environ.get("HUB_KEY_PASSPHRASE")
    if early is not None and len(early) < 12:
        raise click.ClickException("HUB_KEY_PASSPHRASE must be at least 12 characters; nothing was created")
    if not (directory / "partners.toml").exists():
        copy_example_config(directory)
        tokens = add_tokens(directory / "partners.toml")
        (directory / "partners.toml").chmod(0o600)
        click.echo(f"Created {directory} from the example deployment. Tokens (shown once; give each to its owner):")
        for ident, token in tokens.items():
            click.echo(f"  {ident:24} {token}")
    from hub.cli.config_check import check_directory
    from hub.plugin_api.problems import ConfigError

    try:
        config = load_config(directory)
    except ConfigError:  # list every problem, not only the first the loader met
        check_directory(directory)
        raise click.ClickException("the configuration has the problems above; nothing else was prepared") from None
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
    store = open_store(settings.store_url)
    store.close()
    click.echo(f"Store ready at {describe(settings.store_url)}")
    if check_directory(directory):  # what the plugins make of the configuration, every problem listed
        raise click.ClickException("the configuration has the problems above; fix them and run 'hub config check'")
