"""``hub keys init|list|export|rotate|rewrap|retire|add|activate|rotate-index|rebuild-index|rotate-fingerprint|
rebuild-fingerprints|passphrase``: the key ring.

Every rotation is put on the audit chain under ``--operator`` (``$USER`` by default).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from hub.cli.common import config_option, friendly_errors, load_settings, opened_store
from hub.config import Settings
from hub.crypto.keyring import FileKeyRing
from hub.services import key_rotation as rotation
from hub.services import keys as service
from hub.store.index_rebuild import IndexRebuild

_USES = {
    "index": "blind index",
    "fingerprint": "message fingerprints (duplicate detection)",
    "sig": "signs sealed envelopes",
    "enc": "opens envelopes sealed to the hub",
}

operator_option = click.option("--operator", default=os.environ.get("USER", "operator"), show_default="$USER",
                               help="Who does this, for the audit log.")  # fmt: skip


@click.group()
def keys() -> None:
    """The key ring: key-encryption keys for stored bodies, the blind-index and fingerprint keys, the hub's
    envelope keys."""


def _key_ring(config_dir: Path | None, *, upgrade: bool = False) -> tuple[Settings, FileKeyRing]:
    """The settings and the opened file key ring; with ``upgrade``, a ring below the scrypt floor is re-encrypted."""
    settings = load_settings(config_dir)
    ring = service.open_key_ring(settings, upgrade=upgrade)
    if ring.upgraded:
        click.echo(f"Key ring re-encrypted at scrypt N={ring.kdf_cost()} (its keys are unchanged)")
    return settings, ring


@keys.command("init")
@config_option
@friendly_errors
def keys_init(config_dir: Path | None) -> None:
    """Create the key ring (one primary KEK, one index key) under the passphrase in the environment."""
    ring = service.create_key_ring(load_settings(config_dir))
    click.echo(f"Key ring created at {ring.path}; primary key {ring.primary_kek_id()}")


@keys.command("list")
@config_option
@friendly_errors
def keys_list(config_dir: Path | None) -> None:
    """Each key: id, purpose, status, dates, what it does (a KEK: how many data keys it wraps); the index
    rebuild's and the fingerprint re-keying's progress."""
    settings, ring = _key_ring(config_dir)
    with opened_store(settings) as store:
        uses = service.list_keys(ring, store)
        rebuild = store.index_rebuild()
        rekeying = store.index_rebuild("fingerprint")
    for use in uses:
        info = use.info
        wraps = f"wraps {use.data_keys} data keys" if info.purpose == "kek" else _USES.get(info.purpose, info.purpose)
        retired = f" retired {info.retired_at}" if info.retired_at else ""
        published = f" published {info.published_at}" if info.published_at else ""
        kid = f"  kid {info.kid}" if info.kid else ""
        click.echo(f"{info.id:24} {info.purpose:11} {info.status:8} created {info.created_at}{published}{retired}"
                   f"  {wraps}{kid}")  # fmt: skip
    if rebuild is not None:
        click.echo(f"blind index rebuild: {rebuild.progress()}")
    if rekeying is not None:
        click.echo(f"fingerprint re-keying: {rekeying.progress()}")
    begun = ring.passphrase_change_begun()
    if begun is not None:
        given = " (this command was given the old one)" if ring.on_previous_passphrase else ""
        click.echo(f"passphrase change begun {begun}: both passphrases open the ring until "
                   f"'hub keys passphrase --finish'{given}")  # fmt: skip


@keys.command("passphrase")
@click.option(
    "--new-env",
    metavar="VAR",
    default=None,
    help="Begin: the environment variable holding the new passphrase (never give it on the command line).",
)
@click.option("--finish", is_flag=True, help="Finish, run with the new passphrase: the old one opens nothing any more.")
@operator_option
@config_option
@friendly_errors
def keys_passphrase(new_env: str | None, finish: bool, operator: str, config_dir: Path | None) -> None:
    """Change the passphrase of the key ring without stopping the hub, in two steps.

    With --new-env VAR (and the current passphrase in the usual variable): the ring opens with either
    passphrase; restart every hub process with the new one, one at a time. Then --finish (with the new
    passphrase in the usual variable). No key can be added in between.
    """
    if bool(new_env) == finish:
        raise click.UsageError("give either --new-env VAR (to begin) or --finish")
    settings, ring = _key_ring(config_dir)
    with opened_store(settings) as store:
        if new_env:
            service.begin_passphrase_change(ring, store, new_env, operator)
            click.echo(f"The key ring opens with the passphrase in {new_env} and with the current one. Restart every "
                       f"hub process with the new passphrase in {settings.passphrase_env}, then run "
                       "'hub keys passphrase --finish' with it")  # fmt: skip
        else:
            begun = service.finish_passphrase_change(ring, store, operator)
            click.echo(f"Passphrase change (begun {begun}) finished: only the new passphrase opens the key ring")


@keys.command("export")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for hub.jwks.json, hub.sig.pub.jwk and hub.enc.pub.jwk.")  # fmt: skip
@operator_option
@config_option
@friendly_errors
def keys_export(out: Path, operator: str, config_dir: Path | None) -> None:
    """Write the hub's PUBLIC envelope keys, to give to partners that seal (never the private parts).

    hub.jwks.json is the key set partners load: every signing key whose envelopes may still
    arrive and every encryption key they may seal to. Writing it publishes a next key.
    """
    settings, ring = _key_ring(config_dir)
    with opened_store(settings) as store:
        sig, enc, jwks = service.export_public_keys(ring, out, store, operator)
    click.echo(f"wrote {jwks}, {sig} and {enc}")


@keys.command("rotate")
@click.option("--rewrap", is_flag=True, help="Then re-wrap every data key under the new key (bodies untouched).")
@click.option("--batch-size", type=int, default=500, show_default=True)
@operator_option
@config_option
@friendly_errors
def keys_rotate(rewrap: bool, batch_size: int, operator: str, config_dir: Path | None) -> None:
    """Add a new primary KEK (running hubs pick it up within a second); old keys stay readable."""
    settings, ring = _key_ring(config_dir, upgrade=True)
    with opened_store(settings) as store:
        click.echo(f"New primary key {service.rotate_key(ring, store, operator)}")
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


def _rewrap(settings: Settings, ring: FileKeyRing, batch_size: int) -> None:
    with opened_store(settings) as store:
        remaining = service.keys_to_rewrap(store, ring)
        with click.progressbar(length=remaining, label="re-wrapping", file=sys.stderr, hidden=remaining < 1000) as bar:
            total = service.rewrap(store, ring, batch_size, progress=bar.update)
    click.echo(f"{total} data keys re-wrapped under {ring.primary_kek_id()}")


@keys.command("retire")
@click.argument("key_id")
@click.option(
    "--force", is_flag=True, help="Retire even though stored data keys still need it (they become unreadable)."
)
@operator_option
@config_option
@friendly_errors
def keys_retire(key_id: str, force: bool, operator: str, config_dir: Path | None) -> None:
    """Destroy an old key's material: a KEK (refused while data keys still need it, unless --force), or a
    previous envelope key once the overlap partners need is over (envelopes sealed to it are then refused)."""
    settings, ring = _key_ring(config_dir)
    with opened_store(settings) as store:
        service.retire_key(store, ring, key_id, force=force, actor=operator)
    click.echo(f"{key_id} retired")


@keys.command("add")
@click.argument("purpose", type=click.Choice(["sig", "enc"]))
@click.option("--alg", default=None, help="sig: EdDSA (default) or ES256; enc: X25519 (default) or P-256.")
@operator_option
@config_option
@friendly_errors
def keys_add(purpose: str, alg: str | None, operator: str, config_dir: Path | None) -> None:
    """Add the NEXT envelope signing (sig) or encryption (enc) key; 'hub keys export' publishes it, then activate.

    A next encryption key opens envelopes sealed to it at once; a next signing key signs nothing yet.
    """
    settings, ring = _key_ring(config_dir)
    chosen = alg or ("EdDSA" if purpose == "sig" else "X25519")
    with opened_store(settings) as store:
        key_id = rotation.add_envelope_key(store, ring, "sig" if purpose == "sig" else "enc", chosen, operator)
    click.echo(f"Next {purpose} key {key_id}")
    click.echo(f"Publish it with 'hub keys export', give partners hub.jwks.json, then 'hub keys activate {key_id}'")


@keys.command("activate")
@click.argument("key_id")
@click.option("--min-published-hours", type=float, default=0.0, show_default=True,
              help="Refuse unless the key was published at least this long ago.")  # fmt: skip
@operator_option
@config_option
@friendly_errors
def keys_activate(key_id: str, min_published_hours: float, operator: str, config_dir: Path | None) -> None:
    """Make a published next envelope key active (running hubs switch within a second); the old one stays
    as previous: still published (sig) or still opening (enc) until 'hub keys retire'."""
    settings, ring = _key_ring(config_dir)
    with opened_store(settings) as store:
        replaced = rotation.activate_envelope_key(store, ring, key_id, operator, min_published_hours * 3600)
    click.echo(f"{key_id} is active" + (f"; {replaced} is previous" if replaced else ""))


INDEX_SETTLE = "Wait at least this long after the rotation before the rebuild's last pass."
FINGERPRINT_SETTLE = "Wait this long after the rotation before re-keying (every hub holds both keys)."


def _rebuild_options(settle_help: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The options every rotate and rebuild command of a keyed index takes (batch size, settle time, operator,
    config), and its friendly errors."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        for option in (
            friendly_errors,
            config_option,
            operator_option,
            click.option(
                "--settle-seconds",
                type=float,
                default=rotation.DEFAULT_SETTLE_SECONDS,
                show_default=True,
                help=settle_help,
            ),
            click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True),
        ):
            command = option(command)
        return command

    return decorate


@keys.command("rotate-index")
@click.option("--no-rebuild", is_flag=True, help="Only rotate; run 'hub keys rebuild-index' later.")
@_rebuild_options(INDEX_SETTLE)
def keys_rotate_index(no_rebuild: bool, batch_size: int, settle_seconds: float, operator: str,
                      config_dir: Path | None) -> None:  # fmt: skip
    """Add a new blind-index key (new messages are indexed under it within a second) and rebuild the index
    under it beside the running hub; searches look under both keys until the rebuild retires the old one."""
    settings, ring = _key_ring(config_dir)
    with opened_store(settings) as store:
        state = rotation.rotate_index_key(store, ring, operator)
    click.echo(f"New index key {state.new_key_id}; {state.total} messages to re-index")
    if not no_rebuild:
        _rebuild(settings, ring, operator, batch_size, settle_seconds, "index")


@keys.command("rebuild-index")
@_rebuild_options(INDEX_SETTLE)
def keys_rebuild_index(batch_size: int, settle_seconds: float, operator: str, config_dir: Path | None) -> None:
    """Finish (or resume after a crash) the rebuild of the blind index under the new index key, then retire
    the old key. Safe beside a running hub; 'hub keys list' shows the progress."""
    settings, ring = _key_ring(config_dir)
    _rebuild(settings, ring, operator, batch_size, settle_seconds, "index")


@keys.command("rotate-fingerprint")
@click.option("--no-rebuild", is_flag=True, help="Only rotate; run 'hub keys rebuild-fingerprints' later.")
@_rebuild_options(FINGERPRINT_SETTLE)
def keys_rotate_fingerprint(no_rebuild: bool, batch_size: int, settle_seconds: float, operator: str,
                            config_dir: Path | None) -> None:  # fmt: skip
    """Add a new fingerprint key (new messages are fingerprinted under it within a second) and re-key the stored
    fingerprints under it beside the running hub; a repeat of a message is recognised under either key until
    the re-keying retires the old one."""
    settings, ring = _key_ring(config_dir)
    with opened_store(settings) as store:
        state = rotation.rotate_fingerprint_key(store, ring, operator)
    click.echo(f"New fingerprint key {state.new_key_id}; {state.total} fingerprints to re-key")
    if not no_rebuild:
        _rebuild(settings, ring, operator, batch_size, settle_seconds, "fingerprint")


@keys.command("rebuild-fingerprints")
@_rebuild_options(FINGERPRINT_SETTLE)
def keys_rebuild_fingerprints(batch_size: int, settle_seconds: float, operator: str, config_dir: Path | None) -> None:
    """Finish (or resume after a crash) the re-keying of the stored fingerprints under the new fingerprint key,
    then retire the old key. Safe beside a running hub; 'hub keys list' shows the progress."""
    settings, ring = _key_ring(config_dir)
    _rebuild(settings, ring, operator, batch_size, settle_seconds, "fingerprint")


def _rebuild(
    settings: Settings, ring: FileKeyRing, operator: str, batch_size: int, settle_seconds: float, purpose: str
) -> None:
    from hub.bodies import CodecRegistry
    from hub.crypto.at_rest import AesGcmCodec
    from hub.store import open_store

    shown: list[str] = []

    def show(state: IndexRebuild) -> None:  # each change once: not every poll while it waits for hubs to switch
        line = state.progress()
        if not shown or shown[-1] != line:
            click.echo(line, err=True)
            shown.append(line)

    store = open_store(settings.store_url, CodecRegistry(AesGcmCodec(ring)))
    try:
        state = rotation.rebuild_index(store, ring, actor=operator, batch_size=batch_size,
                                       settle_seconds=settle_seconds, progress=show, purpose=purpose)  # fmt: skip
    finally:
        store.close()
    what = "Blind index" if purpose == "index" else "Fingerprints"
    if state is None:
        click.echo(f"The {purpose} key has never rotated: nothing to rebuild")
    else:
        click.echo(f"{what} {state.progress()}; {state.old_key_id} retired")
