"""``hub keys init|list|export|rotate|rewrap|retire``: the key ring that protects stored bodies."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.cli.common import config_option, friendly_errors, load_settings, opened_store
from hub.config import Settings
from hub.crypto.keyring import FileKeyRing
from hub.services import keys as service

_USES = {
    "index": "blind index",
    "fingerprint": "message fingerprints (duplicate detection)",
    "sig": "signs sealed envelopes",
    "enc": "opens envelopes sealed to the hub",
}


@click.group()
def keys() -> None:
    """The key ring: key-encryption keys for stored bodies, and the blind-index key."""


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
    """Each key: id, purpose, status, dates, and how many stored data keys it wraps."""
    settings, ring = _key_ring(config_dir)
    with opened_store(settings) as store:
        uses = service.list_keys(ring, store)
    for use in uses:
        info = use.info
        wraps = f"wraps {use.data_keys} data keys" if info.purpose == "kek" else _USES.get(info.purpose, info.purpose)
        retired = f" retired {info.retired_at}" if info.retired_at else ""
        click.echo(f"{info.id:24} {info.purpose:6} {info.status:8} created {info.created_at}{retired}  {wraps}")


@keys.command("export")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for hub.sig.pub.jwk and hub.enc.pub.jwk.")  # fmt: skip
@config_option
@friendly_errors
def keys_export(out: Path, config_dir: Path | None) -> None:
    """Write the hub's PUBLIC envelope keys, to give to partners that seal (never the private parts)."""
    _, ring = _key_ring(config_dir)
    sig, enc = service.export_public_keys(ring, out)
    click.echo(f"wrote {sig} and {enc}")


@keys.command("rotate")
@click.option("--rewrap", is_flag=True, help="Then re-wrap every data key under the new key (bodies untouched).")
@click.option("--batch-size", type=int, default=500, show_default=True)
@config_option
@friendly_errors
def keys_rotate(rewrap: bool, batch_size: int, config_dir: Path | None) -> None:
    """Add a new primary KEK (running hubs pick it up within a second); old keys stay readable."""
    settings, ring = _key_ring(config_dir, upgrade=True)
    click.echo(f"New primary key {service.rotate_key(ring)}")
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
@config_option
@friendly_errors
def keys_retire(key_id: str, force: bool, config_dir: Path | None) -> None:
    """Destroy an old KEK's material; refused while stored data keys still need it, unless --force."""
    settings, ring = _key_ring(config_dir)
    with opened_store(settings) as store:
        service.retire_key(store, ring, key_id, force=force)
    click.echo(f"{key_id} retired")
