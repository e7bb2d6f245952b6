"""One test world: partners, their simulators, tokens, envelope keys, a config directory and a running hub.

``build_world(directory, partners, routes=..., settings=...)`` is the one place that does
"start the partner simulators, make the tokens and keys, write the config, start ``hub serve``".
The hub's own tests, the built-in plugins' tests, ``hub demo``, the benchmark and the pytest
fixtures (``hub.testing.pytest_plugin``) all build their worlds with it.

A partner is a ``Partner`` (see its fields) or a ``partners.toml`` table given as a dict, which is
written as given (a token is made for it unless it names its own ``token_sha256``). What the builder
does for a ``Partner``:

- ``receive="push"``: a ``PartnerSimulator`` (a real HTTP server on loopback) receives at ``path``;
- ``receive="pull"``: the partner collects from ``GET /v1/inbox``;
- ``receive={...}``: that ``receive`` table is written as given (SMTP, MESH, a server of your own);
- ``sealed=True``: the partner gets its own envelope key pairs (private halves in ``HubWorld.own_keys``,
  public halves under ``partner-keys/``) and its simulator seals and opens with them; a partner
  without keys is written ``tls_only = true``.

Every partner and operator gets a fresh bearer token (``HubWorld.tokens``); only digests reach disk.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests

from hub.auth import generate_token, hash_token
from hub.crypto.keyring import FileKeyRing
from hub.envelope import dump_jwk, generate_key
from hub.testing.running_hub import EXAMPLE_CONFIG, START_TIMEOUT, RunningHub, free_port, run_hub_cli, write_config
from hub.testing.simulator import PartnerSimulator, Received, Responder, SimulatorKeys

PASSPHRASE_ENV = "HUB_KEY_PASSPHRASE"


@dataclass(frozen=True)
class Partner:
    """A partner of a test world: what ``partners.toml`` says about it, and how it receives."""

    id: str
    kind: str
    codes: Mapping[str, str] = field(default_factory=dict)
    """Its codes as ``partners.toml`` keys (``ods_code``, ``gss_code``, ``mesh_mailbox``...)."""
    receive: str | Mapping[str, Any] = "push"
    """``"push"`` (a simulator over HTTP), ``"pull"``, or a whole ``receive`` table written as given."""
    path: str = "/inbound"
    """Where on its simulator the hub pushes (``receive="push"`` only)."""
    transport: str = "http"
    """The transport the hub pushes to its simulator with (``receive="push"`` only): ``http`` or a plugin's."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """``receive.options`` for the simulated push (a plugin transport's or adapter's settings)."""
    reply: Mapping[str, Any] | None = None
    """``receive.reply`` for the simulated push: how the hub reads a decision in its simulator's answer."""
    adapter: str | None = None
    """The format it speaks; None for the hub's default."""
    sealed: bool = False
    """Whether it has envelope keys (the hub seals to it and accepts only sealed messages from it)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Any other ``partners.toml`` keys (``name``, ``agreement``, ``tls_only``...)."""
    responder: Responder | None = None
    """Its simulator's answers: messages it sends back to the hub for each message it receives."""
    on_receive: Callable[[Received], None] | None = None
    """Called by its simulator with each request it receives."""


STANDARD_PARTNERS: tuple[Partner, ...] = (
    Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}),
    Partner("trust-b", "nhs_trust", {"ods_code": "RXY"}),
    Partner("council-luton", "council", {"gss_code": "E06000032"}),
    Partner("council-beds", "council", {"gss_code": "E06000056"}, receive="pull"),
    Partner("steps-luton", "hostel"),
    Partner("ips-luton", "ips_provider"),
)
"""The hub's test partners: two trusts, a council that is pushed to and one that pulls, a hostel, an IPS service.

With the example routes a DischargeNotice from trust-a (the tests' example person chose Luton) reaches
council-luton as a HousingRequest, steps-luton as a Referral and ips-luton as an IPSReferral.
"""

FAST_SETTINGS: dict[str, dict[str, Any]] = {
    "delivery": {"lease_seconds": 2.5, "poll_interval_seconds": 0.05, "timeout_seconds": 1.0},
    "retry": {"initial_seconds": 0.1, "multiplier": 2.0, "max_delay_seconds": 0.5, "jitter": 0.2, "max_attempts": 4},
    "server": {"max_body_bytes": 65536},
}
"""Settings that make a test hub retry, lease and poll in fractions of a second (and refuse bodies over 64 KiB)."""


def standard_partners(settings: Mapping[str, Mapping[str, Any]] | None = None) -> list[Partner]:
    """``STANDARD_PARTNERS`` with more ``partners.toml`` keys for some of them (``{"trust-a": {...}}``)."""
    extra = settings or {}
    return [replace(p, settings={**p.settings, **extra.get(p.id, {})}) for p in STANDARD_PARTNERS]


def example_routes(directory: Path = EXAMPLE_CONFIG) -> list[dict[str, Any]]:
    """The routes of the example deployment (``config/routes.toml``) as tables, to change before writing."""
    routes: list[dict[str, Any]] = tomllib.loads((directory / "routes.toml").read_text())["route"]
    return routes


def merge_settings(*layers: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """``hub.toml`` tables merged key by key, later layers winning."""
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for table, values in (layer or {}).items():
            merged.setdefault(table, {}).update(values)
    return merged


@dataclass
class HubWorld:
    """A config directory, the partners' tokens, keys and simulators, and the hub (``start``ed or not)."""

    hub: RunningHub
    config_dir: Path
    tokens: dict[str, str]
    sims: dict[str, PartnerSimulator]
    own_keys: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """Each sealed partner's private (signing, decryption) keys."""
    sessions: dict[str, requests.Session] = field(default_factory=dict)
    passphrase_env: str = PASSPHRASE_ENV
    """The environment variable holding the key ring's passphrase."""
    request_timeout: float = 10.0
    """Seconds ``send``, ``post`` and ``get`` wait for the hub's answer (a test that slows the hub on purpose, for
    example under libfaketime, raises it)."""

    @property
    def url(self) -> str:
        """Base URL of the hub."""
        return self.hub.url

    @property
    def port(self) -> int:
        """The hub's port (chosen before anything started, so simulators know where to answer)."""
        return self.hub.port

    # -- talking to the hub -----------------------------------------------------------------------------
    def as_(self, who: str) -> requests.Session:
        """A session authenticated as partner or operator ``who``."""
        if who not in self.sessions:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.tokens[who]}"
            self.sessions[who] = session
        return self.sessions[who]

    def send(self, who: str, message: dict[str, Any], **headers: str) -> requests.Response:
        """POST a canonical message as ``who``."""
        return self.as_(who).post(f"{self.url}/v1/messages", json=message, headers=headers,
                                  timeout=self.request_timeout)  # fmt: skip

    def post(self, who: str, body: bytes | dict[str, Any], content_type: str = "application/json") -> requests.Response:
        """POST one body (bytes as they are, a dict as JSON) to ``/v1/messages`` as ``who``."""
        if isinstance(body, bytes):
            return self.as_(who).post(f"{self.url}/v1/messages", data=body, headers={"Content-Type": content_type},
                                      timeout=self.request_timeout)  # fmt: skip
        return self.as_(who).post(f"{self.url}/v1/messages", json=body, timeout=self.request_timeout)

    def get(self, who: str, path: str) -> requests.Response:
        """GET a hub path as ``who``."""
        return self.as_(who).get(f"{self.url}{path}", timeout=self.request_timeout)

    def view(self, record_id: str, who: str = "ops") -> dict[str, Any]:
        """GET /v1/messages/{id} (as the operator by default)."""
        response = self.get(who, f"/v1/messages/{record_id}")
        response.raise_for_status()
        view: dict[str, Any] = response.json()  # the message view, a JSON object
        return view

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``hub ARGS --config CONFIG_DIR`` as a child process and capture its output."""
        return run_hub_cli(self.config_dir, *args, timeout=timeout)

    # -- keys and store --------------------------------------------------------------------------------
    def _ring(self) -> FileKeyRing:
        return FileKeyRing.open(self.config_dir / "keys", os.environ[self.passphrase_env])

    def hub_signing_key(self) -> Any:
        """The hub's public envelope signing key (what a partner verifies the hub's envelopes with)."""
        return self._ring().envelope_signing_key().public()

    def hub_encryption_key(self) -> Any:
        """The hub's public envelope encryption key (what a partner seals to the hub with)."""
        return self._ring().envelope_decryption_keys()[0].public()

    def open_sealed(self, partner_id: str, envelope: str | bytes, hub_id: str = "hub") -> bytes:
        """Open an envelope the hub sealed for sealed partner ``partner_id``, as that partner's system would.

        Checks the hub's signature (as sender ``hub_id``) and that the envelope is addressed to the partner;
        returns the payload. Raises ``hub.envelope.EnvelopeError`` when any check fails.
        """
        from hub.envelope import open_envelope

        _, decryption_key = self.own_keys[partner_id]
        opened = open_envelope(envelope, sender_keys=[self.hub_signing_key()], recipient_keys=[decryption_key],
                               expected_sender=hub_id, expected_recipient=partner_id)  # fmt: skip
        return opened.payload

    def seal_as(self, partner_id: str, body: bytes, *, message_id: str, message_type: str, signing_key: Any = None,
                hub_id: str = "hub") -> bytes:  # fmt: skip
        """``body`` sealed for the hub by sealed partner ``partner_id``, as that partner's system would seal it.

        Signed with the partner's own signing key (or ``signing_key``, to forge one), encrypted to the hub's
        key, with the routing metadata (``message_id``, ``message_type``, the partner, ``hub_id``) bound in.
        """
        from hub.envelope import EnvelopeMetadata, seal_envelope

        own_signing, _ = self.own_keys[partner_id]
        metadata = EnvelopeMetadata(message_id, message_type, partner_id, hub_id)
        sealed = seal_envelope(body, metadata=metadata, signing_key=signing_key or own_signing,
                               recipient_keys=[self.hub_encryption_key()])  # fmt: skip
        return sealed.encode("ascii")

    def settings(self) -> Any:
        """The hub's settings as it reads them from this world's ``hub.toml``: the same object listeners, gauges and
        commands receive (``CommandContext.settings``), for a plugin's test to find what its plugin keeps there."""
        from hub.config import load_settings

        return load_settings(self.config_dir)

    def stored_messages(self, message_type: str | None = None) -> list[dict[str, Any]]:
        """Every stored message (of one type), newest first, as the store's read model lists them.

        Each is ``{"id", "message_id", "type", "sender", "received_at", "status"}`` (no body, so no keys needed).
        """
        from hub.config import load_settings
        from hub.store import open_store

        store = open_store(load_settings(self.config_dir).store_url)
        try:
            return store.list_messages(limit=1_000_000, message_type=message_type)
        finally:
            store.close()

    def db_count(self, table: str = "messages", message_type: str | None = None) -> int:
        """Stored ``messages`` (of one type) or ``deliveries``, as the hub's store counts them (no keys needed)."""
        from hub.config import load_settings
        from hub.store import open_store

        if table == "messages" and message_type is not None:
            return len(self.stored_messages(message_type))
        store = open_store(load_settings(self.config_dir).store_url)
        try:
            counts = store.counts()
        finally:
            store.close()
        if table == "messages":
            return counts["messages"]
        return sum(n for name, n in counts.items() if name.startswith(f"{table}_"))

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> HubWorld:
        """Start ``hub serve`` and wait until it is ready; stop the simulators if it does not start."""
        try:
            self.hub.start(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the hub (if it runs) and every simulator."""
        self.hub.stop()
        for sim in self.sims.values():
            sim.stop()
        for session in self.sessions.values():
            session.close()

    def __enter__(self) -> HubWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _partner_table(
    partner: Partner | Mapping[str, Any],
    token: str,
    directory: Path,
    sims: dict[str, PartnerSimulator],
    own_keys: dict[str, tuple[Any, Any]],
    hub_url: str,
) -> dict[str, Any]:
    """The ``partners.toml`` table for one partner; starts its simulator and makes its keys as it says."""
    if not isinstance(partner, Partner):
        return {"token_sha256": hash_token(token), **partner}
    entry: dict[str, Any] = {"id": partner.id, "kind": partner.kind, **partner.codes}
    if partner.adapter:
        entry["adapter"] = partner.adapter
    entry["token_sha256"] = hash_token(token)
    entry.update(partner.settings)
    if partner.sealed:
        own_keys[partner.id] = (generate_key("sig", "EdDSA"), generate_key("enc", "X25519"))
        key_dir = directory / "partner-keys"
        key_dir.mkdir(parents=True, exist_ok=True)
        for use, key in zip(("sig", "enc"), own_keys[partner.id], strict=True):
            (key_dir / f"{partner.id}.{use}.pub.jwk").write_text(dump_jwk(key))
        entry["keys"] = {use: f"partner-keys/{partner.id}.{use}.pub.jwk" for use in ("sig", "enc")}
    if partner.receive == "push":
        sim = PartnerSimulator(partner.id, hub_url=hub_url, token=token, responder=partner.responder,
                               on_receive=partner.on_receive)  # fmt: skip
        sims[partner.id] = sim.start()
        entry["receive"] = {"mode": "push", "transport": partner.transport, "url": f"{sim.url}{partner.path}"}
        if partner.options:
            entry["receive"]["options"] = dict(partner.options)
        if partner.reply is not None:
            entry["receive"]["reply"] = dict(partner.reply)
    elif partner.receive == "pull":
        entry["receive"] = {"mode": "pull"}
    elif isinstance(partner.receive, Mapping):
        entry["receive"] = dict(partner.receive)
    else:
        raise ValueError(f"partner {partner.id}: receive must be 'push', 'pull' or a receive table")
    return entry


def _with_test_store(settings: Mapping[str, Mapping[str, Any]] | None) -> Mapping[str, Mapping[str, Any]] | None:
    """``settings`` with a fresh PostgreSQL store when the run asks for one and ``settings`` name no store."""
    from hub.testing.postgres import fresh_postgres_database, test_store

    store = dict((settings or {}).get("store", {}))
    if test_store() != "postgresql" or {"url", "path", "backend"} & store.keys():
        return settings
    return {**(settings or {}), "store": {**store, "url": fresh_postgres_database()}}


def build_world(
    directory: Path,
    partners: Iterable[Partner | Mapping[str, Any]] = STANDARD_PARTNERS,
    *,
    routes: Sequence[Mapping[str, Any]] | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    fast: bool = True,
    operators: Sequence[str] = ("ops",),
    start: bool = True,
    hub_args: Sequence[str] = (),
    passphrase_env: str = PASSPHRASE_ENV,
) -> HubWorld:
    """Start the partners' simulators, write a config directory in ``directory``, and (with ``start``) the hub.

    ``routes`` are ``[[route]]`` tables (the example deployment's routes when None); ``settings`` are
    ``hub.toml`` tables merged over ``FAST_SETTINGS`` (or over the hub's defaults when ``fast`` is false).
    ``operators`` get tokens too. ``hub_args`` are added to ``hub serve``. Under ``HUB_TEST_STORE=postgresql``
    the store is a fresh PostgreSQL database unless ``settings`` name one (``hub.testing.postgres``). A new key
    ring is made under the passphrase in ``passphrase_env`` (set to a random value in this process's environment
    if unset; child processes inherit it). If anything fails, whatever was started is stopped.
    """
    directory = Path(directory)
    partners = list(partners)
    settings = _with_test_store(settings)
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    ids = [p.id if isinstance(p, Partner) else str(p["id"]) for p in partners]
    tokens = {who: generate_token() for who in [*ids, *operators]}
    sims: dict[str, PartnerSimulator] = {}
    own_keys: dict[str, tuple[Any, Any]] = {}
    try:
        tables = [_partner_table(p, tokens[pid], directory, sims, own_keys, hub_url)
                  for p, pid in zip(partners, ids, strict=True)]  # fmt: skip
        keys_settings: dict[str, Any] = {}
        if passphrase_env != PASSPHRASE_ENV:
            keys_settings["passphrase_env"] = passphrase_env
        config_dir = write_config(
            directory,
            partners=tables,
            operators=[{"id": who, "token_sha256": hash_token(tokens[who])} for who in operators],
            settings=merge_settings(FAST_SETTINGS if fast else None, {"server": {"port": port}},
                                    {"keys": keys_settings} if keys_settings else None, settings),
            routes=[dict(r) for r in routes] if routes is not None else None,
            passphrase_env=passphrase_env,
        )  # fmt: skip
        if own_keys:
            ring = FileKeyRing.open(config_dir / "keys", os.environ[passphrase_env])
            hub_sig, hub_enc = ring.envelope_signing_key().public(), ring.envelope_decryption_keys()[0].public()
            for pid, (sig, enc) in own_keys.items():
                if pid in sims:
                    sims[pid].keys = SimulatorKeys(sig, enc, hub_sig, hub_enc)
    except Exception:
        for sim in sims.values():
            sim.stop()
        raise
    hub = RunningHub(config_dir, port=port, extra_args=list(hub_args))
    world = HubWorld(hub, config_dir, tokens, sims, own_keys, passphrase_env=passphrase_env)
    return world.start() if start else world


__all__ = [
    "FAST_SETTINGS",
    "STANDARD_PARTNERS",
    "HubWorld",
    "Partner",
    "build_world",
    "example_routes",
    "merge_settings",
]
