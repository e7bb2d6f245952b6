"""``hub envelope``: make keys, seal a file for a partner, open a file from one.

Exposed as the click group ``envelope``; the main ``hub`` command adds it. Refusals print
``hub envelope: <reason>`` to stderr and exit 1; unreadable key files exit 2. Payloads are read
and written as bytes; ``-`` means stdin.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import uuid
from pathlib import Path
from typing import BinaryIO, NoReturn

import click

from hub.envelope.errors import EnvelopeError
from hub.envelope.keys import Jwk, dump_jwk, generate_key, load_jwk, load_jwk_set
from hub.envelope.sealing import EnvelopeMetadata, open_envelope, seal_envelope

SIGNING_ALGS = ("EdDSA", "ES256")
ENCRYPTION_CURVES = ("X25519", "P-256")


def _fail(message: str, status: int) -> NoReturn:
    click.echo(f"hub envelope: {message}", err=True)
    sys.exit(status)


def _read_key(path: Path, *, private: bool) -> Jwk:
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError as exc:
        _fail(f"cannot read key file {path}: {exc.strerror}", 2)
    try:
        key = load_jwk(text)
    except EnvelopeError as exc:
        _fail(f"key file {path}: {exc.reason}", 2)
    if private and not key.is_private:
        _fail(f"key file {path} holds a public key; give the private .jwk", 2)
    if key.is_private and mode & (stat.S_IRWXG | stat.S_IRWXO):
        click.echo(f"hub envelope: warning: private key file {path} is readable by others; chmod 600 it", err=True)
    return key


def _read_signing_keys(path: Path) -> list[Jwk]:
    """The public signing keys in a ``.pub.jwk`` file or in a key set (``hub.jwks.json``: its ``sig`` keys)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot read key file {path}: {exc.strerror}", 2)
    if '"keys"' not in text:
        return [_read_key(path, private=False).public()]
    try:
        keys = [key.public() for key in load_jwk_set(text) if key.use != "enc" and key.crv != "X25519"]
    except EnvelopeError as exc:
        _fail(f"key set {path}: {exc.reason}", 2)
    if not keys:
        _fail(f"key set {path} holds no signing key", 2)
    return keys


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 (refusing to overwrite) and write ``text``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


@click.group("envelope", context_settings={"help_option_names": ["-h", "--help"]})
def envelope() -> None:
    """Seal and open JOSE envelopes (JWS signed, then JWE encrypted) and make keys for them."""


@envelope.command()
@click.option("--kind", type=click.Choice(["sig", "enc"]), required=True, help="sig: to sign; enc: to receive.")
@click.option(
    "--alg",
    type=click.Choice([*SIGNING_ALGS, *ENCRYPTION_CURVES]),
    required=True,
    help="EdDSA or ES256 for sig; X25519 or P-256 for enc.",
)
@click.option("--out", "name", required=True, help="Writes NAME.jwk (private, mode 0600) and NAME.pub.jwk.")
def keygen(kind: str, alg: str, name: str) -> None:
    """Generate a key pair; print its kid (the RFC 7638 thumbprint)."""
    if (kind == "sig") != (alg in SIGNING_ALGS):
        _fail(f"--kind {kind} goes with --alg {' or '.join(SIGNING_ALGS if kind == 'sig' else ENCRYPTION_CURVES)}", 2)
    key = generate_key("sig" if kind == "sig" else "enc", alg)
    private_path, public_path = Path(f"{name}.jwk"), Path(f"{name}.pub.jwk")
    for path in (private_path, public_path):
        if path.exists():
            _fail(f"{path} already exists; choose another --out", 2)
    _write_private(private_path, dump_jwk(key, private=True))
    public_path.write_text(dump_jwk(key), encoding="utf-8")
    click.echo(key.kid)


@envelope.command()
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Your private .jwk.")
@click.option(
    "--to",
    "to",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="A recipient's public encryption .pub.jwk; repeat for several (JSON serialisation).",
)
@click.option("--type", "message_type", required=True, help="Message type, e.g. Referral.")
@click.option("--sender", required=True, help="Your organisation id.")
@click.option("--recipient", multiple=True, required=True, help="Recipient organisation id; repeat for several.")
@click.option("--message-id", default=None, help="Message id (default: a new UUID).")
@click.option("--json", "as_json", is_flag=True, help="Write the general JSON serialisation even for one key.")
@click.argument("file", type=click.File("rb"))
def seal(
    sign_key: Path,
    to: tuple[Path, ...],
    message_type: str,
    sender: str,
    recipient: tuple[str, ...],
    message_id: str | None,
    as_json: bool,
    file: BinaryIO,
) -> None:
    """Sign FILE and encrypt it to each --to key; write the envelope to stdout."""
    signing_key = _read_key(sign_key, private=True)
    recipient_keys = [_read_key(path, private=False).public() for path in to]
    try:
        metadata = EnvelopeMetadata(
            message_id=message_id or str(uuid.uuid4()),
            message_type=message_type,
            sender=sender,
            recipient=recipient[0] if len(recipient) == 1 else recipient,
        )
        sealed = seal_envelope(
            file.read(),
            metadata=metadata,
            signing_key=signing_key,
            recipient_keys=recipient_keys,
            serialization="json" if as_json or len(recipient_keys) > 1 else "compact",
        )
    except EnvelopeError as exc:
        _fail(exc.reason, 1)
    click.echo(sealed)


@envelope.command("open")
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="Your private encryption .jwk; repeat while rotating.",
)
@click.option(
    "--from",
    "from_",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="The sender's public signing .pub.jwk, or its key set (hub.jwks.json); repeat while they rotate.",
)
@click.option("--sender", default=None, help="Require this sender organisation id.")
@click.option("--recipient", default=None, help="Require this recipient organisation id (yours).")
@click.option("--max-age", type=float, default=None, help="Refuse envelopes sealed more than this many seconds ago.")
@click.option("--metadata", "show_metadata", is_flag=True, help="Also print the routing metadata as JSON to stderr.")
@click.argument("file", type=click.File("rb"))
def open_command(
    key: tuple[Path, ...],
    from_: tuple[Path, ...],
    sender: str | None,
    recipient: str | None,
    max_age: float | None,
    show_metadata: bool,
    file: BinaryIO,
) -> None:
    """Check and decrypt the envelope in FILE; write the payload to stdout."""
    ours = [_read_key(path, private=True) for path in key]
    theirs = [key for path in from_ for key in _read_signing_keys(path)]
    try:
        opened = open_envelope(
            file.read(),
            sender_keys=theirs,
            recipient_keys=ours,
            expected_sender=sender,
            expected_recipient=recipient,
            max_age=max_age,
        )
    except EnvelopeError as exc:
        _fail(f"refused: {exc.reason}", 1)
    if show_metadata:
        meta = opened.metadata
        summary = {
            "message_id": meta.message_id,
            "message_type": meta.message_type,
            "sender": meta.sender,
            "recipient": meta.recipient,
            "issued_at": meta.issued_at,
            "signing_kid": opened.signing_kid,
            "recipient_kid": opened.recipient_kid,
        }
        click.echo(json.dumps(summary), err=True)
    click.echo(opened.payload, nl=False)  # bytes go to the binary stream unchanged
