"""Wiring: one ``Hub`` object holding the parts of a running hub, built from a config directory.

Nothing global: the CLI, the HTTP app, the demo and the tests each build their
own ``Hub`` and pass it explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.bodies import CodecRegistry
from hub.canonical import CanonicalValidator
from hub.config import HubConfig, load_config
from hub.crypto.at_rest import AesGcmCodec, KeyProvider
from hub.crypto.blind_index import index_of_message
from hub.crypto.fingerprint import fingerprint, fingerprint_key, fingerprints
from hub.crypto.keyring import KeyRingError
from hub.metrics import Metrics, open_metrics
from hub.outbound import OutboundTransports
from hub.pathway.parse import load_pathways
from hub.plugin_api.events import HubEvent
from hub.plugin_api.records import MilestoneScheduler
from hub.plugins import HubPlugins, load_plugins
from hub.router import Router
from hub.sealing import EnvelopeGate
from hub.services.alerts import AlertService
from hub.services.delivery import DeliveryWorker
from hub.services.hub_data import HubData
from hub.services.intake import IntakeService
from hub.services.pathway import PathwayService
from hub.services.pathway_views import pathway_gauges
from hub.store import open_store
from hub.store.ports import Store, StoreOptions

log = logging.getLogger("hub")


@dataclass
class Hub:
    """The parts of one hub process."""

    config: HubConfig
    plugins: HubPlugins
    validator: CanonicalValidator
    router: Router
    store: Store
    metrics: Metrics
    intake: IntakeService
    keys: KeyProvider
    gate: EnvelopeGate
    pathway: PathwayService
    alerts: AlertService

    @property
    def data(self) -> HubData:
        """The read-only view of this hub's data that plugins read (their routes reach it as ``app.state.hub.data``)."""
        return HubData(self.store)

    def make_worker(self, transports: OutboundTransports | None = None) -> DeliveryWorker:
        """A delivery worker sharing this hub's store, plugins and metrics (and ``transports`` when given).

        It is woken by this process's intake commits, and by other processes' through ``Store.watch``.
        """
        worker = DeliveryWorker(
            self.config.settings,
            self.config.partners,
            self.plugins,
            self.store,
            self.metrics,
            self.intake.emit,
            gate=self.gate,
            intake=self.intake,
            transports=transports,
        )
        worker.emit_fired = self.pathway.notify  # observers and the alerts' breach hook
        self.intake.on_commit.append(worker.wake)
        self.pathway.on_notice.append(worker.wake)
        self.store.watch(worker.wake)  # commits of other processes (PostgreSQL's NOTIFY); polling otherwise
        return worker

    def close(self) -> None:
        """Flush and close the store, and mark this process stopped in the metrics directory."""
        try:
            self.store.close()
        finally:
            self.metrics.close()


def build_hub(
    config: HubConfig | str | Path | None = None,
    *,
    plugins: HubPlugins | None = None,
    strict_plugins: bool | None = None,
) -> Hub:
    """Load configuration and plugins, open the store, and wire the parts together."""
    plugins = plugins or load_plugins(strict=strict_plugins)
    if not isinstance(config, HubConfig):
        config = load_config(config, plugins.vocabulary)
    for info in plugins.errors:
        log.warning("plugin %s is not loaded: %s", info.name, info.error)
    validator = CanonicalValidator(plugins)
    metrics = open_metrics(config.settings.metrics_dir)  # before anything can record one
    keys = open_key_provider(config, plugins)
    fingerprint_of = _fingerprinter(fingerprint_key(keys))  # the store's upgrade: the key in use at start
    router = Router(
        config.routes,
        config.partners,
        plugins,
        validator,
        indexer=lambda message: index_of_message(keys.index_key(), message),  # a rotation is seen within 1 s
        state_dir=config.settings.state_dir,
        config_dir=config.settings.config_dir,
        fingerprinter=_live_fingerprinter(keys, fingerprint_of),
    )
    _check_partner_plugins(config, plugins)
    settings = config.settings
    options = StoreOptions(settings.store_pool_size, settings.store_pool_timeout_seconds, settings.store_reserve_bytes)
    store = open_store(settings.store_url, CodecRegistry(AesGcmCodec(keys)), options=options)
    upgraded = store.complete_upgrades(fingerprint_of, router.index_for)
    if upgraded:
        log.info("store upgrade: %d fingerprints re-keyed or recipients' search entries written", upgraded)
    metrics.gauges.append(("store", lambda: _store_gauges(store)))
    metrics.gauges.append(("pathway", lambda: pathway_gauges(store)))
    data = HubData(store)
    for gauge in plugins.gauges.values():
        metrics.gauges.append((gauge.name, _reader(gauge, data if gauge.with_data else config.settings)))
    gate = EnvelopeGate(config.partners, keys, config.settings.hub_id)
    gate.warn_about_unsealed_partners()
    intake = IntakeService(plugins, validator, router, store, metrics, gate)
    pathways = load_pathways(config.settings.config_dir, config.partners, plugins.vocabulary)
    alerts = AlertService(store, config.settings.alerts, config.settings.hub_id)

    def pathway_events(events: list[HubEvent]) -> None:  # observers, then the alerts' breach hook
        intake.emit(events)
        alerts.on_events(events)

    pathway = PathwayService(store, open_scheduler(config, plugins), pathways, config.settings.pathway,
                             config.partners, config.settings.hub_id, plugins.vocabulary.destinations,
                             notify=pathway_events)  # fmt: skip
    return Hub(config, plugins, validator, router, store, metrics, intake, keys, gate, pathway, alerts)


def _fingerprinter(key: bytes) -> Callable[[dict[str, Any]], str]:
    return lambda message: fingerprint(key, message)


def _live_fingerprinter(keys: Any, at_start: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any]], Any]:
    """A message's fingerprints under every live key, asked of a provider that rotates them (``fingerprint_keys``,
    the key ring: a rotation by another process is seen within a second, nothing restarts); else the key read at
    start (a provider's derived key must not follow its index key)."""
    if callable(getattr(keys, "fingerprint_keys", None)):
        return lambda message: fingerprints(keys, message)
    return at_start


def open_key_provider(config: HubConfig, plugins: HubPlugins) -> KeyProvider:
    """Open the key provider ``[keys] provider`` names (``file`` unless a plugin adds another)."""
    from hub.plugin_api.problems import ConfigError

    spec = plugins.key_providers.get(config.settings.key_provider)
    if spec is None:
        raise ConfigError(
            f"hub.toml: keys.provider: {config.settings.key_provider!r} is not registered by any loaded plugin "
            f"(known: {', '.join(sorted(plugins.key_providers))})"
        )
    try:
        provider: KeyProvider = spec.open(config.settings)  # a KeyProviderSpec's contract: it opens a KeyProvider
        return provider
    except KeyRingError as exc:
        raise ConfigError(f"keys: {exc}") from None


def open_scheduler(config: HubConfig, plugins: HubPlugins) -> MilestoneScheduler:
    """Open the milestone scheduler ``[pathway] scheduler`` names (``embedded`` unless a plugin adds another)."""
    from hub.plugin_api.problems import ConfigError

    name = config.settings.pathway.scheduler
    spec = plugins.schedulers.get(name)
    if spec is None:
        raise ConfigError(f"hub.toml: pathway.scheduler: {name!r} is not registered by any loaded plugin "
                          f"(known: {', '.join(sorted(plugins.schedulers))})")  # fmt: skip
    return spec.open(config.settings.pathway.settings_of(name))  # a SchedulerSpec's contract


def _check_partner_plugins(config: HubConfig, plugins: HubPlugins) -> None:
    from hub.plugin_api.problems import ConfigError

    for partner in config.partners.partners.values():
        if partner.adapter is None:
            if not any(getattr(a, "default", False) is True for a in plugins.adapters.values()):
                raise ConfigError(
                    f"partners.toml: partner {partner.id!r} names no adapter, and no loaded plugin registers a "
                    "default adapter (is hub.defaults disabled?)"
                )
        elif partner.adapter not in plugins.adapters:
            raise ConfigError(
                f"partners.toml: partner {partner.id!r} uses adapter {partner.adapter!r}, which no loaded plugin "
                f"registers (loaded: {', '.join(sorted(plugins.adapters))})"
            )
        if partner.receive.mode == "push" and partner.receive.transport not in plugins.transports:
            raise ConfigError(
                f"partners.toml: partner {partner.id!r} receives by {partner.receive.transport!r}, which no loaded "
                f"plugin registers (loaded: {', '.join(sorted(plugins.transports))})"
            )


def _reader(gauge: Any, argument: Any) -> Callable[[], dict[str, float]]:
    """A plugin gauge's ``collect`` bound to its argument (``hub.metrics.ScrapeGauges`` logs one that raises)."""
    return lambda: dict(gauge.collect(argument))


def _store_gauges(store: Store) -> dict[str, float]:
    counts = store.counts()
    out: dict[str, float] = {"hub_messages_stored": counts.pop("messages", 0)}
    rebuild = store.index_rebuild()
    remaining = max(rebuild.total - rebuild.done, 0) if rebuild is not None and not rebuild.finished else 0
    out["hub_index_rebuild_remaining"] = remaining
    for key, value in counts.items():
        state = key.removeprefix("deliveries_")
        out[f'hub_deliveries{{state="{state}"}}'] = value
    return out
