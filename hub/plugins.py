"""Plugin manager factory: loads adapters through the ``hub.adapters`` entry points.

Nothing is created at import time: call ``load_plugins()`` and pass the result
around. Entry points are loaded one by one, so a broken plugin is reported by
name and the others still load, unless strict mode is on (``strict=True`` or
``HUB_STRICT_PLUGINS=1``), in which case the first failure is fatal.

The hub's own default plugin, ``hub.defaults``, registers through the same hooks
(``trylast``): a plugin may replace any of its registrations by registering the
same name, and ``HUB_DISABLE_PLUGINS=hub.defaults`` leaves it out altogether.
Every hook is called through pluggy (``manager.hook`` or a subset of it), so
``HUB_TRACE_PLUGINS`` shows each call.

Environment:
    HUB_LOAD_PLUGINS     comma-separated entry-point names; only these load
    HUB_DISABLE_PLUGINS  comma-separated plugin names that never load (entry points, or hub.defaults)
    HUB_STRICT_PLUGINS   1 makes any plugin failure fatal
    HUB_TRACE_PLUGINS    1 logs every hook call and result (debugging)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from hub.plugin_api import hookspecs
from hub.plugin_api.config_checks import ConfigCheck
from hub.plugin_api.demo import DemoScene
from hub.plugin_api.problems import PluginError
from hub.plugin_api.records import (
    Adapter,
    CodeField,
    DestinationResolver,
    GaugeSpec,
    KeyProviderSpec,
    Listener,
    MessageType,
    PartnerKind,
    RouteSpec,
    SchedulerSpec,
    SchemaSpec,
    Transform,
    Transport,
    Vocabulary,
    check_name,
)
from hub.plugin_api.ui_screens import UiScreen
from hub.plugin_diagnostics import hookimpl_mistakes, misplaced_entry_points, one_line

log = logging.getLogger("hub.plugins")

ENTRY_POINT_GROUP = "hub.adapters"
PROJECT_NAME = "hub"
DEFAULT_PLUGINS = ("hub.defaults",)


@dataclass
class PluginInfo:
    """What ``hub plugins list`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    hooks: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class HubPlugins:
    """The loaded plugins and everything they registered."""

    manager: pluggy.PluginManager
    infos: list[PluginInfo]
    adapters: dict[str, Adapter]
    transports: dict[str, Transport]
    transforms: dict[str, Transform]
    schemas: dict[str, SchemaSpec]
    key_providers: dict[str, KeyProviderSpec]
    listeners: dict[str, Listener]
    commands: dict[str, Any]
    gauges: dict[str, GaugeSpec]
    routes: dict[str, RouteSpec] = field(default_factory=dict)
    ui_screens: dict[str, UiScreen] = field(default_factory=dict)
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    schedulers: dict[str, SchedulerSpec] = field(default_factory=dict)
    config_checks: dict[str, ConfigCheck] = field(default_factory=dict)
    demo_scenes: dict[str, DemoScene] = field(default_factory=dict)

    @property
    def message_types(self) -> dict[str, MessageType]:
        """The registered canonical message types, by name."""
        return self.vocabulary.message_types

    @property
    def default_adapter(self) -> Adapter:
        """The adapter for a partner that names none, and for bodies in the hub's own format.

        The one registered adapter whose ``default`` attribute is true (the hub's
        ``canonical-json`` unless a plugin replaces it); a ``PluginError`` when none is.
        """
        if self._default_adapter is None:
            raise PluginError("no loaded adapter is the default (default = True); is hub.defaults disabled?")
        return self._default_adapter

    def adapter_for(self, name: str | None) -> Adapter:
        """The adapter ``name`` (a partner's ``adapter``), or the default one when ``name`` is None or not loaded."""
        found = self.adapters.get(name) if name is not None else None
        return found if found is not None else self.default_adapter

    def notify(self, events: Iterable[Any]) -> list[tuple[str, Exception]]:
        """Call ``hub_message_event`` for each event, plugin by plugin, through pluggy.

        An observer's failure is logged with the plugin's name and returned as
        ``(plugin name, exception)``; it never stops the other observers.
        """
        failures: list[tuple[str, Exception]] = []
        for plugin_name, caller in self._observers:
            for event in events:
                try:
                    caller(event=event)
                except Exception as exc:
                    log.exception("observer plugin %r failed on a %s event", plugin_name, event.kind)
                    failures.append((plugin_name, exc))
        return failures

    @property
    def hook(self) -> Any:
        """The pluggy hook relay (``plugins.hook.hub_validate_message(...)``)."""
        return self.manager.hook

    @property
    def errors(self) -> list[PluginInfo]:
        """Plugins that failed to load."""
        return [i for i in self.infos if i.error]

    def adapter_for_content_type(self, content_type: str) -> Adapter | None:
        """Return the adapter that parses this media type, or None."""
        return self._by_content_type.get(content_type)

    def __post_init__(self) -> None:
        self._observers = per_plugin_callers(self.manager, "hub_message_event")
        defaults = [a for a in self.adapters.values() if getattr(a, "default", False) is True]
        if len(defaults) > 1:
            raise PluginError(
                f"adapters {defaults[0].name!r} and {defaults[1].name!r} both say they are the default; "
                "disable one of their plugins with HUB_DISABLE_PLUGINS"
            )
        self._default_adapter: Adapter | None = defaults[0] if defaults else None
        self._by_content_type: dict[str, Adapter] = {}
        for adapter in self.adapters.values():
            for media_type in adapter.content_types:
                other = self._by_content_type.get(media_type)
                if other is not None:
                    raise PluginError(
                        f"adapters {other.name!r} and {adapter.name!r} both parse {media_type}; "
                        "disable one of their plugins with HUB_DISABLE_PLUGINS"
                    )
                self._by_content_type[media_type] = adapter


def _env_list(env: Mapping[str, str], key: str) -> set[str] | None:
    raw = env.get(key)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def load_plugins(
    *,
    strict: bool | None = None,
    env: Mapping[str, str] | None = None,
    extra_plugins: Iterable[object] = (),
    use_entry_points: bool = True,
) -> HubPlugins:
    """Create a plugin manager, load plugins and collect their registrations.

    ``extra_plugins`` are plugin objects (modules or instances) registered
    directly, after the entry points; tests and embedders use it. Raises
    ``PluginError`` in strict mode for the first failure; otherwise failures are
    recorded on ``PluginInfo.error`` and logged with the plugin's name.
    """
    env = os.environ if env is None else env
    if strict is None:
        strict = _truthy(env.get("HUB_STRICT_PLUGINS"))
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if _truthy(env.get("HUB_TRACE_PLUGINS")):
        _trace_hook_calls(manager)

    infos: list[PluginInfo] = []
    import importlib

    deny = _env_list(env, "HUB_DISABLE_PLUGINS") or set()
    for module_name in DEFAULT_PLUGINS:
        if module_name in deny:
            continue
        module = importlib.import_module(module_name)
        manager.register(module, name=module_name)
        infos.append(PluginInfo(module_name, "partner-hub", _version("partner-hub"), module_name))

    if use_entry_points:
        allow = _env_list(env, "HUB_LOAD_PLUGINS")
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if (allow is not None and ep.name not in allow) or ep.name in deny:
                continue
            infos.append(_load_entry_point(manager, ep, strict))
        infos.extend(_misplaced(strict, allow, deny))

    for index, plugin in enumerate(extra_plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
        mistakes = hookimpl_mistakes(manager, plugin, repr(name))
        if mistakes:  # a plugin handed over in code is the caller's own: always fatal
            raise PluginError("; ".join(mistakes), plugin=name)
        manager.register(plugin, name=name)
        infos.append(PluginInfo(name, "(registered in code)", "", getattr(plugin, "__module__", name)))

    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements a hook the hub does not define: {exc}") from exc

    for info in infos:
        plugin = manager.get_plugin(info.name)
        if plugin is not None:
            info.hooks = sorted(
                caller.name for caller in manager.get_hookcallers(plugin) or [] if caller.name.startswith("hub_")
            )

    registry = _Registry(manager, infos, strict)
    vocabulary = Vocabulary(
        message_types=registry.collect("message type", "hub_register_message_types", MessageType, check=False),
        partner_kinds=registry.collect("partner kind", "hub_register_partner_kinds", PartnerKind),
        code_fields=registry.collect("code field", "hub_register_code_fields", CodeField),
        destinations=registry.collect("destination resolver", "hub_register_destinations", DestinationResolver),
    )
    adapters = registry.collect("adapter", "hub_register_adapters", Adapter)
    transports = registry.collect("transport", "hub_register_transports", Transport)
    transforms = registry.collect("transform", "hub_register_transforms", Transform)
    schemas = registry.collect("schema", "hub_register_schemas", SchemaSpec, key="uri", check=False)
    key_providers = registry.collect("key provider", "hub_register_key_providers", KeyProviderSpec)
    listeners = registry.collect("listener", "hub_register_listeners", Listener)
    import click

    commands = registry.collect("command", "hub_register_commands", click.Command)
    gauges = registry.collect("gauge", "hub_register_gauges", GaugeSpec)
    routes = registry.collect("routes", "hub_register_routes", RouteSpec)
    schedulers = registry.collect("scheduler", "hub_register_schedulers", SchedulerSpec)
    config_checks = registry.collect("config check", "hub_register_config_checks", ConfigCheck)
    demo_scenes = registry.collect("demo scene", "hub_register_demo_scenes", DemoScene)
    ui_screens = registry.collect("ui screen", "hub_register_ui_screens", UiScreen)
    return HubPlugins(
        manager, infos, adapters, transports, transforms, schemas, key_providers, listeners, commands, gauges,
        routes, ui_screens, vocabulary, schedulers, config_checks, demo_scenes,
    )  # fmt: skip


def per_plugin_callers(manager: pluggy.PluginManager, hook_name: str) -> list[tuple[str, Any]]:
    """One pluggy caller per plugin implementing ``hook_name``, each reaching that plugin only.

    In registration order (``trylast`` implementations such as the hub's defaults first).

    For hooks whose failures must be told apart by plugin (observers, registrations):
    the call still goes through pluggy, so tracing and monitoring see it.
    """
    impls = getattr(manager.hook, hook_name).get_hookimpls()
    out = []
    for impl in impls:
        others = [other.plugin for other in impls if other is not impl]
        out.append((impl.plugin_name, manager.subset_hook_caller(hook_name, remove_plugins=others)))
    return out


def _trace_hook_calls(manager: pluggy.PluginManager) -> None:
    """Log each hook call with the plugins it reaches, never its arguments (they carry personal data)."""

    def before(hook_name: str, hook_impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
        log.info("hook %s -> %s", hook_name, ", ".join(i.plugin_name for i in hook_impls) or "(none)")

    def after(
        outcome: pluggy.Result[Any], hook_name: str, hook_impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        failed = outcome.exception is not None
        log.info("hook %s %s", hook_name, f"raised {type(outcome.exception).__name__}" if failed else "returned")

    manager.add_hookcall_monitoring(before, after)


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return ""


def _load_entry_point(manager: pluggy.PluginManager, ep: EntryPoint, strict: bool) -> PluginInfo:
    dist = ep.dist.name if ep.dist is not None else "(unknown)"
    version = ep.dist.version if ep.dist is not None else ""
    info = PluginInfo(ep.name, dist, version, ep.value)
    try:
        plugin = ep.load()
    except Exception as exc:  # a broken plugin must not stop the others
        info.error = one_line(f"{type(exc).__name__}: {exc}")
        message = f"plugin {ep.name!r} from {dist} failed to load: {info.error}"
        if strict:
            raise PluginError(message, plugin=ep.name) from exc
        log.error("%s (it is skipped; set HUB_STRICT_PLUGINS=1 to make this fatal)", message)
        return info
    mistakes = hookimpl_mistakes(manager, plugin, f"{ep.name!r} ({dist} {version})".replace(" )", ")"))
    if mistakes:
        info.error = "; ".join(mistakes)
        if strict:
            raise PluginError(info.error, plugin=ep.name)
        log.error("%s (the plugin is skipped; set HUB_STRICT_PLUGINS=1 to make this fatal)", info.error)
        return info
    try:
        manager.register(plugin, name=ep.name)
    except Exception as exc:  # pluggy's own refusals, in one line
        info.error = one_line(f"{type(exc).__name__}: {exc}")
        message = f"plugin {ep.name!r} from {dist} failed to load: {info.error}"
        if strict:
            raise PluginError(message, plugin=ep.name) from exc
        log.error("%s (it is skipped; set HUB_STRICT_PLUGINS=1 to make this fatal)", message)
    return info


def _misplaced(strict: bool, allow: set[str] | None, deny: set[str]) -> list[PluginInfo]:
    """A failed ``PluginInfo`` for each entry point in a group that is nearly ``hub.adapters``."""
    everything = entry_points()
    groups = {group: list(everything.select(group=group)) for group in everything.groups}
    infos = []
    for near in misplaced_entry_points(groups, ENTRY_POINT_GROUP):
        if (allow is not None and near.name not in allow) or near.name in deny:
            continue
        message = near.sentence(ENTRY_POINT_GROUP)
        if strict:
            raise PluginError(message, plugin=near.name)
        log.error("%s", message)
        infos.append(PluginInfo(near.name, near.distribution, near.version, near.value, error=message))
    return infos


class _Registry:
    """Runs one ``hub_register_*`` hook plugin by plugin, tracking who registered what.

    A name registered twice is refused naming both plugins, unless the first
    registration came from a default plugin (``DEFAULT_PLUGINS``): the other plugin's
    replaces it, whichever order they ran in.
    """

    def __init__(self, manager: pluggy.PluginManager, infos: list[PluginInfo], strict: bool) -> None:
        self.manager = manager
        self.infos = {info.name: info for info in infos}
        self.strict = strict

    def collect(
        self, kind: str, hook_name: str, expected: type, key: str = "name", check: bool = True
    ) -> dict[str, Any]:
        """Call ``hook_name`` once per plugin and return what they registered, by ``key``."""
        found: dict[str, Any] = {}
        owners: dict[str, str] = {}
        for plugin_name, caller in per_plugin_callers(self.manager, hook_name):

            def register(obj: Any, _plugin: str = plugin_name) -> None:
                if not isinstance(obj, expected):
                    raise PluginError(
                        f"plugin {_plugin!r} registered a {type(obj).__name__} as a {kind}; "
                        f"expected a {expected.__name__}",
                        plugin=_plugin,
                    )
                name = getattr(obj, key)
                if check:
                    check_name(kind, name)
                if name in found:
                    if _plugin in DEFAULT_PLUGINS and owners[name] not in DEFAULT_PLUGINS:
                        log.info("%s %r of %s is replaced by plugin %r", kind, name, _plugin, owners[name])
                        return
                    if owners[name] not in DEFAULT_PLUGINS or _plugin in DEFAULT_PLUGINS:
                        raise PluginError(
                            f"{kind} {name!r} is registered by both {owners[name]!r} and {_plugin!r}; "
                            "disable one of them with HUB_DISABLE_PLUGINS",
                            plugin=_plugin,
                        )
                    log.info("%s %r of %s is replaced by plugin %r", kind, name, owners[name], _plugin)
                    self._forget(owners[name], f"{kind}:{name}")
                found[name] = obj
                owners[name] = _plugin
                info = self.infos.get(_plugin)
                if info is not None:
                    info.registered.append(f"{kind}:{name}")

            try:
                caller(register=register)
            except Exception as exc:
                message = one_line(f"plugin {plugin_name!r} failed in {hook_name}: {exc}")
                if self.strict or isinstance(exc, PluginError):
                    raise PluginError(message, plugin=plugin_name) from exc
                info = self.infos.get(plugin_name)
                if info is not None:
                    info.error = message
                log.error("%s (skipped)", message)
        return found

    def _forget(self, plugin_name: str, entry: str) -> None:
        info = self.infos.get(plugin_name)
        if info is not None and entry in info.registered:
            info.registered.remove(entry)
