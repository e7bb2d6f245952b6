"""Loading the deployment's configuration: ``hub.toml``, ``partners.toml`` and ``routes.toml``.

All three live in one config directory (``--config DIR``, ``HUB_CONFIG``, or
``./config``). Every error names the file and the key path, e.g.
``partners.toml: partner[2].kind: 'hotel' is not one of council, ...``.
Relative paths inside ``hub.toml`` are resolved against the config directory.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.alert_settings import AlertSettings, check_alert_partners, parse_alerts
from hub.partners import Operator, Partner, PartnerDirectory, parse_operator, parse_partner
from hub.plugin_api.problems import ConfigError
from hub.routes import Route, parse_route
from hub.sections import Section

if TYPE_CHECKING:
    from hub.plugin_api.records import Vocabulary

DEFAULT_CONFIG_DIR = "config"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter and a cap, then dead letter.

    Attempt ``n`` (1-based) that fails waits
    ``min(max_delay, initial * multiplier ** (n - 1))`` scaled by a random
    factor in ``[1 - jitter, 1]``; after ``max_attempts`` failures the delivery
    is dead-lettered with its last error.
    """

    initial_seconds: float = 2.0
    multiplier: float = 2.0
    max_delay_seconds: float = 900.0
    jitter: float = 0.5
    max_attempts: int = 30


@dataclass(frozen=True)
class SchedulerIdentity:
    """Who may fire pathway timers (``[[pathway.scheduler_identities]]``): a name and the digests of its tokens.

    A scheduler identity may call ``POST /v1/pathway/timers/{timer_id}/fire`` and nothing else.
    """

    name: str
    token_hashes: tuple[str, ...]


@dataclass(frozen=True)
class PathwaySettings:
    """``hub.toml`` ``[pathway]``: which scheduler fires milestone timers, and who may call the hub back.

    ``scheduler`` names a registered ``SchedulerSpec`` (``embedded`` by default); ``scheduler_settings`` holds
    the ``[pathway.NAME]`` tables, handed to that scheduler's ``open``. ``time_scale`` compresses the pathway's
    clock for demonstrations and tests (3600: an hour of the pathway passes in a second); it is 1 in a real
    deployment. ``sync_*`` is the backoff of schedule / cancel calls to an external scheduler that is down.
    ``cancel_confirm_seconds``: a timer closed after its schedule call failed (it may have reached the scheduler
    all the same, and make its run late) is cancelled, then cancelled again this long after (0: once only).
    """

    scheduler: str = "embedded"
    scheduler_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    identities: tuple[SchedulerIdentity, ...] = ()
    time_scale: float = 1.0
    sync_initial_seconds: float = 2.0
    sync_max_delay_seconds: float = 300.0
    cancel_confirm_seconds: float = 60.0

    def settings_of(self, scheduler: str) -> dict[str, Any]:
        """The ``[pathway.NAME]`` table of ``scheduler`` (empty when absent)."""
        return dict(self.scheduler_settings.get(scheduler, {}))


@dataclass(frozen=True)
class Settings:
    """Everything in ``hub.toml``, with defaults for what it leaves out."""

    config_dir: Path
    hub_id: str = "hub"
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1_048_576
    max_batch_lines: int = 10_000
    header_timeout_seconds: float = 10.0
    store_url: str = "sqlite:///var/hub.db"
    store_pool_size: int = 10
    store_pool_timeout_seconds: float = 5.0
    store_reserve_bytes: int = 64 << 20
    state_dir: Path = Path("var")
    metrics_dir: Path = Path("var/metrics")
    delivery_concurrency: int = 64
    delivery_timeout_seconds: float = 10.0
    lease_seconds: float = 30.0
    poll_interval_seconds: float = 0.2
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    key_provider: str = "file"
    keys_dir: Path = Path("var/keys")
    passphrase_env: str = "HUB_KEY_PASSPHRASE"
    index_settle_seconds: float = 10.0
    """How long after an index key's rotation a rebuild the hubs resume waits before its last pass."""
    retention_days: dict[str, float] = field(default_factory=dict)
    listeners: dict[str, dict[str, Any]] = field(default_factory=dict)
    plugin_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    pathway: PathwaySettings = field(default_factory=PathwaySettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)

    @property
    def store_path(self) -> Path | None:
        """The SQLite file of a ``sqlite:///`` store; None for a store that is not a file."""
        from hub.store.url import SQLITE, sqlite_path

        return sqlite_path(self.store_url) if self.store_url.startswith(f"{SQLITE}:") else None


@dataclass(frozen=True)
class HubConfig:
    """A loaded, checked configuration."""

    settings: Settings
    partners: PartnerDirectory
    routes: list[Route]

    @property
    def config_dir(self) -> Path:
        """The directory the configuration was read from."""
        return self.settings.config_dir


def config_dir_from_env(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Pick the config directory: the explicit argument, ``HUB_CONFIG``, or ``./config``."""
    return Path(explicit or os.environ.get("HUB_CONFIG") or DEFAULT_CONFIG_DIR)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (run 'hub init' to create a configuration)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def installed_vocabulary() -> Vocabulary:
    """The vocabulary of the installed plugins (``load_plugins()``), for loading config without a running hub."""
    from hub.plugins import load_plugins

    return load_plugins().vocabulary


def load_settings(config_dir: Path, vocabulary: Vocabulary | None = None) -> Settings:
    """Read ``hub.toml`` (optional: defaults apply when it is absent).

    ``[retention]`` names message types: they are checked against ``vocabulary``
    (the installed plugins' when None, loaded only if the table is there).
    """
    path = config_dir / "hub.toml"
    data = _read_toml(path) if path.exists() else {}
    file = "hub.toml"
    known_tables = {
        "server", "store", "delivery", "retry", "keys", "retention", "listeners", "plugins", "metrics", "pathway",
        "alerts",
    }  # fmt: skip
    for key in data:
        if key not in known_tables:
            raise ConfigError(f"{file}: unknown table [{key}] (known: {', '.join(sorted(known_tables))})")
    server = Section(file, "server", data.get("server", {}))
    store = Section(file, "store", data.get("store", {}))
    delivery = Section(file, "delivery", data.get("delivery", {}))
    retry = Section(file, "retry", data.get("retry", {}))
    keys = Section(file, "keys", data.get("keys", {}))
    retention = Section(file, "retention", data.get("retention", {}))
    metrics = Section(file, "metrics", data.get("metrics", {}))
    retention_days: dict[str, float] = {}
    if retention.data and vocabulary is None:
        vocabulary = installed_vocabulary()
    for message_type in retention.data:
        assert vocabulary is not None
        if message_type not in vocabulary.message_types:
            raise ConfigError(f"{retention.where(message_type)}: not a message type "
                              f"({vocabulary.known(vocabulary.message_types)})")  # fmt: skip
        retention_days[message_type] = retention.positive(message_type, float, 0.0)
    keys_dir = Path(os.environ.get("HUB_KEYS_DIR") or keys.get("dir", str, "../var/keys"))
    if not keys_dir.is_absolute():
        keys_dir = (config_dir / keys_dir).resolve()
    store_url, state_dir = _store_settings(store, config_dir)
    configured_metrics_dir = metrics.get("dir", str, None)
    metrics_dir = os.environ.get("HUB_METRICS_DIR") or configured_metrics_dir
    policy = RetryPolicy(
        initial_seconds=retry.positive("initial_seconds", float, RetryPolicy.initial_seconds),
        multiplier=retry.positive("multiplier", float, RetryPolicy.multiplier),
        max_delay_seconds=retry.positive("max_delay_seconds", float, RetryPolicy.max_delay_seconds),
        jitter=retry.get("jitter", float, RetryPolicy.jitter),
        max_attempts=retry.positive("max_attempts", int, RetryPolicy.max_attempts),
    )
    if not 0 <= policy.jitter <= 1:
        raise ConfigError(f"{retry.where('jitter')}: must be between 0 and 1, got {policy.jitter}")
    reserve_mb = store.get("reserve_mb", float, 64.0)
    if reserve_mb < 0:
        raise ConfigError(f"{store.where('reserve_mb')}: must be 0 (no reserve) or more, got {reserve_mb!r}")
    settings = Settings(
        config_dir=config_dir,
        hub_id=server.get("hub_id", str, "hub"),
        host=server.get("host", str, "127.0.0.1"),
        port=server.get("port", int, 8080),
        max_body_bytes=server.positive("max_body_bytes", int, 1_048_576),
        max_batch_lines=server.positive("max_batch_lines", int, 10_000),
        header_timeout_seconds=server.positive("header_timeout_seconds", float, 10.0),
        store_url=store_url,
        store_pool_size=store.positive("pool_size", int, 10),
        store_pool_timeout_seconds=store.positive("pool_timeout_seconds", float, 5.0),
        store_reserve_bytes=int(reserve_mb * (1 << 20)),
        state_dir=state_dir,
        # one directory per hub and machine, where every hub process writes its metrics (hub/metrics/)
        metrics_dir=(config_dir / metrics_dir).resolve() if metrics_dir is not None else state_dir / "metrics",
        delivery_concurrency=delivery.positive("concurrency", int, 64),
        delivery_timeout_seconds=delivery.positive("timeout_seconds", float, 10.0),
        lease_seconds=delivery.positive("lease_seconds", float, 30.0),
        poll_interval_seconds=delivery.positive("poll_interval_seconds", float, 0.2),
        retry=policy,
        key_provider=keys.get("provider", str, "file"),
        keys_dir=keys_dir,
        passphrase_env=keys.get("passphrase_env", str, "HUB_KEY_PASSPHRASE"),
        index_settle_seconds=keys.positive("index_settle_seconds", float, 10.0),
        retention_days=retention_days,
        listeners=_tables(file, "listeners", data.get("listeners", {})),
        plugin_settings=_tables(file, "plugins", data.get("plugins", {})),
        pathway=_pathway_settings(file, data.get("pathway", {})),
        alerts=parse_alerts(file, data.get("alerts", {}), config_dir),
    )
    if settings.lease_seconds <= settings.delivery_timeout_seconds + 1:
        raise ConfigError(
            f"{delivery.where('lease_seconds')}: must exceed delivery.timeout_seconds "
            f"({settings.delivery_timeout_seconds:g}) by more than a second, or a slow delivery is leased twice "
            "and sent twice at once"
        )
    for section in (server, store, delivery, retry, keys, retention, metrics):
        section.finish()
    return settings


def _store_settings(store: Section, config_dir: Path) -> tuple[str, Path]:
    """``[store]``: the store's URL and the state directory, both absolute.

    ``url`` (``sqlite:///path``, a relative path resolved against the config directory), or the
    older ``backend`` + ``path``, which mean ``sqlite:///path``; ``HUB_DB`` replaces either with
    that SQLite file. ``state_dir`` (files the hub and its plugins keep beside the store: MESH
    and listener state, ``geo.db``) defaults to the SQLite file's directory, else ``../var``.
    """
    from hub.store.url import SQLITE, scheme_of, sqlite_path, sqlite_url

    url = store.get("url", str, None)
    backend = store.get("backend", str, None)
    path = store.get("path", str, None)
    if url is not None and (backend is not None or path is not None):
        legacy = "backend" if backend is not None else "path"
        raise ConfigError(f"{store.where(legacy)}: give either store.url or the older store.backend and "
                          "store.path, not both")  # fmt: skip
    if backend is not None and backend != SQLITE:
        raise ConfigError(f"{store.where('backend')}: {backend!r} is not a store this hub has (sqlite); "
                          "name another store with store.url")  # fmt: skip
    environment = os.environ.get("HUB_DB")
    if environment:
        url = sqlite_url(config_dir / environment)
    elif url is None:
        url = sqlite_url(config_dir / (path or "../var/hub.db"))
    elif scheme_of(url, store.where("url")) == SQLITE:
        url = sqlite_url(sqlite_path(url, config_dir, store.where("url")))
    configured = store.get("state_dir", str, None)
    if configured is not None:
        state_dir = config_dir / configured
    elif url.startswith(f"{SQLITE}:"):
        state_dir = sqlite_path(url).parent
    else:
        state_dir = config_dir / "../var"
    return url, state_dir.resolve()


def _pathway_settings(file: str, value: Any) -> PathwaySettings:
    """``[pathway]``: ``scheduler``, ``time_scale``, ``sync_*``, ``[[pathway.scheduler_identities]]`` and one
    ``[pathway.NAME]`` table per scheduler (its keys are for that scheduler to check when it opens)."""
    from hub.auth import hash_token
    from hub.partners import token_hashes_of

    section = Section(file, "pathway", value)
    scheduler = section.get("scheduler", str, "embedded")
    time_scale = section.positive("time_scale", float, 1.0)
    initial = section.positive("sync_initial_seconds", float, 2.0)
    cap = section.positive("sync_max_delay_seconds", float, 300.0)
    confirm = section.get("cancel_confirm_seconds", float, 60.0)
    if not 0 <= confirm < 86400:  # NaN too
        raise ConfigError(f"{section.where('cancel_confirm_seconds')}: give 0 or more seconds, less than a day, "
                          f"got {confirm}")  # fmt: skip
    raw_identities = section.get("scheduler_identities", list, [])
    identities: list[SchedulerIdentity] = []
    for index, raw in enumerate(raw_identities):
        entry = Section(file, f"pathway.scheduler_identities[{index}]", raw)
        name = entry.get("name", str, None)
        if name is None or not _IDENTITY.match(name):
            raise ConfigError(f"{entry.where('name')}: give a name of 1-64 lower-case letters, digits, '.', '_' "
                              f"or '-', got {name!r}")  # fmt: skip
        if any(i.name == name for i in identities):
            raise ConfigError(f"{entry.where('name')}: {name!r} is declared twice")
        digests = token_hashes_of(entry)
        token_env = entry.get("token_env", str, None)
        if token_env is not None:
            token = os.environ.get(token_env, "").strip()
            if not token:
                raise ConfigError(f"{entry.where('token_env')}: the variable {token_env} holds no token")
            digests = (*digests, hash_token(token))
        if not digests:
            raise ConfigError(f"{entry.where('token_sha256')}: a scheduler identity needs a token digest "
                              "('hub partners token NAME' prints a token and its digest)")  # fmt: skip
        entry.finish()
        identities.append(SchedulerIdentity(name, digests))
    tables: dict[str, dict[str, Any]] = {}
    for key, table in section.data.items():
        if key in section.seen:
            continue
        if not isinstance(table, dict):
            raise ConfigError(f"{section.where(key)}: unknown setting (known: scheduler, time_scale, "
                              "sync_initial_seconds, sync_max_delay_seconds, cancel_confirm_seconds, "
                              "scheduler_identities, and one [pathway.NAME] table per scheduler)")  # fmt: skip
        section.seen.add(key)
        tables[key] = dict(table)
    section.finish()
    return PathwaySettings(scheduler, tables, tuple(identities), time_scale, initial, cap, confirm)


_IDENTITY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _tables(file: str, name: str, value: Any) -> dict[str, dict[str, Any]]:
    """``[name.X]`` tables, checked to be tables; their keys are for the plugin named X to check."""
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError(f"{file}: [{name}] holds one table per plugin or listener, e.g. [{name}.mllp]")
    return {k: dict(v) for k, v in value.items()}


def load_partners(config_dir: Path, vocabulary: Vocabulary | None = None) -> PartnerDirectory:
    """Read ``partners.toml``: ``[[partner]]`` and ``[[operator]]`` tables, checked against ``vocabulary``.

    Without ``vocabulary``, the installed plugins' (``installed_vocabulary()``).
    """
    vocabulary = vocabulary or installed_vocabulary()
    data = _read_toml(config_dir / "partners.toml")
    for key in data:
        if key not in {"partner", "operator"}:
            raise ConfigError(f"partners.toml: unknown table [{key}] (use [[partner]] or [[operator]])")
    partners: list[Partner] = []
    tokens: dict[str, tuple[str, ...]] = {}
    for index, raw in enumerate(data.get("partner", [])):
        section = Section("partners.toml", f"partner[{index}]", raw)
        partner, token_hashes = parse_partner(section, config_dir, vocabulary)
        partners.append(partner)
        tokens[partner.id] = token_hashes
    operators: list[Operator] = []
    for index, raw in enumerate(data.get("operator", [])):
        operators.append(parse_operator(Section("partners.toml", f"operator[{index}]", raw)))
    return PartnerDirectory.build(partners, operators, tokens)


def load_routes(config_dir: Path, partners: PartnerDirectory, vocabulary: Vocabulary | None = None) -> list[Route]:
    """Read ``routes.toml``: ``[[route]]`` tables, checked against the partners and ``vocabulary``."""
    vocabulary = vocabulary or installed_vocabulary()
    data = _read_toml(config_dir / "routes.toml")
    for key in data:
        if key != "route":
            raise ConfigError(f"routes.toml: unknown table [{key}] (use [[route]])")
    routes = [
        parse_route(Section("routes.toml", f"route[{index}]", raw), partners, vocabulary)
        for index, raw in enumerate(data.get("route", []))
    ]
    names = [r.name for r in routes]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"routes.toml: route name {name!r} is used more than once")
    return routes


def load_config(config_dir: str | os.PathLike[str] | None = None, vocabulary: Vocabulary | None = None) -> HubConfig:
    """Load and check the whole configuration; raise ``ConfigError`` naming file and key.

    Names (partner kinds, code fields, message types, destination kinds) are checked
    against ``vocabulary``: pass ``plugins.vocabulary`` of the plugins the hub runs
    with; without it, the installed plugins are loaded for it.
    """
    directory = config_dir_from_env(config_dir)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such config directory (run 'hub init' or pass --config DIR)")
    vocabulary = vocabulary or installed_vocabulary()
    settings = load_settings(directory, vocabulary)
    partners = load_partners(directory, vocabulary)
    routes = load_routes(directory, partners, vocabulary)
    check_alert_partners(settings.alerts, set(partners.partners))
    for identity in settings.pathway.identities:
        partners.add_scheduler(identity.name, identity.token_hashes)
    return HubConfig(settings, partners, routes)
