"""Hook specifications: the contract between the hub core and its plugins.

Every hook is called with keyword arguments only. Arguments are only ever added,
never removed or renamed, so a plugin written against an older hub keeps working.
A plugin implements any subset of these hooks with ``@hub.hookimpl``.

Registration hooks (``hub_register_*``) hand the plugin a ``register`` callback and
are called once per plugin, through pluggy (so ``HUB_TRACE_PLUGINS`` shows them). A
name registered by two plugins is refused naming both, except that a plugin may
replace what the hub's own default plugin (``hub.defaults``, registered ``trylast``)
registers under the same name.

Lifecycle, in the order things happen::

    start-up  : hub_register_message_types, hub_register_partner_kinds,
                hub_register_code_fields, hub_register_destinations,
                hub_register_adapters, hub_register_transports,
                hub_register_transforms, hub_register_schemas,
                hub_register_key_providers, hub_register_listeners,
                hub_register_gauges, hub_register_routes,
                hub_register_ui_screens,
                hub_register_commands, hub_register_schedulers,
                hub_register_config_checks,
                hub_register_demo_scenes                         (once each)
    config    : the configuration read; each ConfigCheck run by hub config check
                and at hub serve start
    intake    : adapter.parse -> hub_validate_message -> router (config routes
                + hub_route) -> store commit -> 202 / ACK
    delivery  : adapter.render -> transport.deliver
    events    : hub_message_event for every state change (received, routed,
                delivered, acknowledged, failed, dead_lettered, replayed, ...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hub.plugin_api.config_checks import ConfigCheck
    from hub.plugin_api.demo import DemoScene
    from hub.plugin_api.events import HubEvent
    from hub.plugin_api.problems import Problem
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
    )
    from hub.plugin_api.ui_screens import UiScreen

hookspec = pluggy.HookspecMarker("hub")
"""Marker for hook specifications (the core's own, below)."""

hookimpl = pluggy.HookimplMarker("hub")
"""Marker for hook implementations: ``@hookimpl def hub_register_adapters(register): ...``."""


@hookspec
def hub_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register canonical message types with their JSON Schemas (once at start-up; every implementation runs).

    ``MessageType(name, schema)``: ``name`` is what a message's ``type`` holds; the
    schema (draft 2020-12) is what every message of that type must meet, with its
    ``$id`` as the base of its relative ``$ref`` s (register shared definitions with
    ``hub_register_schemas``). Routes, data-sharing agreements and retention may
    only name registered types; a message of any other type is refused (422).
    ``MessageType.from_package(name, "my_plugin", "schemas/x.schema.json")`` reads a
    schema shipped inside the plugin's package.
    """


@hookspec
def hub_register_partner_kinds(register: Callable[[PartnerKind], None]) -> None:
    """Register kinds of partner (once at start-up; every implementation runs).

    ``PartnerKind(name)``: what ``kind = "..."`` in a ``[[partner]]`` table of
    ``partners.toml`` may say. A partner of a kind no loaded plugin registers is a
    configuration error naming the kinds that are registered.
    """


@hookspec
def hub_register_code_fields(register: Callable[[CodeField], None]) -> None:
    """Register the codes partners are known by (once at start-up; every implementation runs).

    ``CodeField(name)``: ``name`` becomes a key of ``[[partner]]`` tables
    (``name = "CODE"``), of a message's ``sender`` and ``recipient``, and a value of
    ``code`` in a route destination (``to = { code = "name", field = "..." }``). A code
    is held by one partner at most, and a sender may only claim its own.
    """


@hookspec
def hub_register_destinations(register: Callable[[DestinationResolver], None]) -> None:
    """Register kinds of route destination (once at start-up; every implementation runs).

    ``DestinationResolver(name, resolve, check=None, describe=None)`` is selected in
    ``routes.toml`` by ``to = { kind = "name", ...options }`` (or by the bare string
    ``"name"``, without options). ``resolve(message, options, context)`` returns the
    partner id that receives the message, or raises ``Unresolved(reason)``; ``check``
    refuses bad options when the routes are loaded. The hub's own (``partner``,
    ``field``, ``code``, ``reply``, ``recipient``) are registered the same way.
    """


@hookspec
def hub_register_adapters(register: Callable[[Adapter], None]) -> None:
    """Register format adapters (called once at start-up; every implementation runs).

    An adapter turns one partner format into canonical messages (``parse``) and
    canonical messages into that format (``render``). Call ``register(adapter)``
    once per adapter. ``adapter.name`` must be unique across all plugins: a
    second adapter with the same name is refused and both plugins are named in
    the error. Partners name their adapter in the partners file, so the hub
    dispatches by name and never asks each plugin "is this yours?".

    Example::

        @hookimpl
        def hub_register_adapters(register):
            register(MyCouncilXmlAdapter())
    """


@hookspec
def hub_register_transports(register: Callable[[Transport], None]) -> None:
    """Register delivery transports (called once at start-up; every implementation runs).

    A transport moves a rendered message to a partner (HTTP push, MESH, SMTP,
    ...). ``transport.name`` is what a partner's ``receive.transport`` names in
    the partners file. Names must be unique across plugins.
    """


@hookspec
def hub_register_transforms(register: Callable[[Transform], None]) -> None:
    """Register transforms between canonical message types (once at start-up).

    A transform derives a new canonical message from an accepted one, for
    example a HousingRequest from a DischargeNotice. Routes in ``routes.toml``
    name the transform to apply; the derived message is validated like any
    inbound message before a delivery is created. Names must be unique.
    """


@hookspec
def hub_register_schemas(register: Callable[[SchemaSpec], None]) -> None:
    """Register extra JSON Schemas (draft 2020-12), once at start-up.

    Used by adapters that validate partner formats or extend canonical types
    with profiles. ``SchemaSpec.uri`` must be unique.
    """


@hookspec
def hub_register_listeners(register: Callable[[Listener], None]) -> None:
    """Register inbound listeners (called once at start-up; every implementation runs).

    A listener brings messages in by a way other than the HTTP API: an MLLP
    socket, a MESH mailbox it polls, a mail box. ``hub serve`` starts each
    listener that ``hub.toml`` enables in its ``[listeners.NAME]`` table, passing
    that table as ``options`` and a ``ListenerContext`` whose ``submit`` parses,
    validates and durably commits one body as a given partner. A listener
    acknowledges to its sender only after ``submit`` returned.
    """


@hookspec
def hub_register_commands(register: Callable[[Any], None]) -> None:
    """Register extra ``hub`` sub-commands (click commands or groups), once when the CLI starts.

    For example ``hub geo import``. A command whose name is already taken is
    refused with both plugins named. When it runs, click's context object is the
    hub's ``CommandContext`` (take it with ``@click.pass_obj``): a command reads the
    hub's data through ``context.hub_data(config_dir)``, never by opening the store.
    """


@hookspec
def hub_register_gauges(register: Callable[[GaugeSpec], None]) -> None:
    """Register gauges for ``/metrics`` (called once at start-up; every implementation runs).

    ``GaugeSpec(name, collect)``: ``collect(settings)`` is called at every scrape
    (or, with ``GaugeSpec(..., with_data=True)``, ``collect(hub_data)``: the hub's
    read-only data, which a gauge reads instead of opening the store)
    and returns ``{"metric_name{label=\"v\"}": value}``. It must be quick and must
    carry ids and numbers only, never personal data. A failing gauge is logged
    and left out of that scrape.
    """


@hookspec
def hub_register_routes(register: Callable[[RouteSpec], None]) -> None:
    """Register HTTP routes for ``hub serve`` (called once at start-up; every implementation runs).

    Call ``register(RouteSpec(name, router))`` with a ``fastapi.APIRouter``. Its routes are served under
    ``/plugins/<name>`` whatever paths the router declares, so they can never shadow the hub's own routes.
    ``name`` must be unique across plugins: a second registration is refused with both plugins named.
    Unless ``RouteSpec.public`` is true every route requires an authenticated caller; a handler learns who
    with the dependencies in ``hub.plugin_api.callers`` (``Authenticated``, ``PartnerCaller``, ``OperatorCaller``), the
    same ones the hub's routes use. The routes appear in ``/openapi.json``; errors a handler raises as
    ``HubError`` are answered and audited like the hub's. A handler reads the hub's data through
    ``request.app.state.hub`` and its services, never by opening the store, and keeps blocking work off the
    event loop (``asyncio.to_thread``).
    """


@hookspec
def hub_register_ui_screens(register: Callable[[UiScreen], None]) -> None:
    """Register screens of the operator dashboard for ``hub serve`` (called once at start-up; every implementation
    runs).

    Call ``register(UiScreen(name, title, router, role=..., templates=...))`` with a ``fastapi.APIRouter``. Its
    routes are served under ``/ui/plugins/<name>`` (never shadowing the hub's screens or another plugin's), left
    out of ``/openapi.json``, and the menu of every page gains ``title`` for users whose role is ``role`` or above.
    A handler starts with ``await hub.ui_signed_in(request, role)`` (a GET) or ``await hub.ui_posted(request,
    role)`` (a POST: the form read and its CSRF token checked), which send a visitor who is not logged in to the
    login page and refuse a role below ``role`` (403); it answers with ``hub.ui_page(visit, "NAME/FILE.html",
    title=..., **context)`` or ``hub.ui_redirect(visit, url)``, and records each action and each view of personal
    data on the audit chain with ``hub.ui_audit(visit, ...)`` (the user's name as its actor). It reads the hub's
    data through ``visit.hub`` and its services, never by opening the store, and keeps blocking work off the event
    loop (``asyncio.to_thread``). Names are unique across plugins.
    """


@hookspec
def hub_register_key_providers(register: Callable[[KeyProviderSpec], None]) -> None:
    """Register key providers (called once at start-up; every implementation runs).

    A key provider supplies the key-encryption keys that wrap each stored body's
    data key, and the blind-index key. ``hub.toml`` chooses one by name in
    ``[keys] provider``; the hub's own ``file`` provider reads an encrypted key
    ring file. A KMS or HSM plugin registers
    ``KeyProviderSpec(name, open)`` where ``open(settings)`` returns an object
    with ``primary_kek_id()``, ``kek(key_id)`` and ``index_key()``.
    """


@hookspec
def hub_register_schedulers(register: Callable[[SchedulerSpec], None]) -> None:
    """Register milestone schedulers for the care pathway (once at start-up; every implementation runs).

    ``SchedulerSpec(name, open)``: ``hub.toml`` chooses one with ``[pathway] scheduler = "name"`` (default
    ``embedded``, registered by the hub itself: due timers live in the store and the worker fires them).
    ``open(settings)`` receives the ``[pathway.name]`` table and returns a ``MilestoneScheduler``: an external
    one (``in_store = False``) is asked to ``schedule`` each timer with its due time and to ``cancel`` it when
    the milestone closes early, and calls the hub back at ``POST /v1/pathway/timers/{timer_id}/fire`` with a
    scheduler identity's token (``[[pathway.scheduler_identities]]``). The hub stays the record of what is due:
    a callback that is early, repeated, late or for an unknown timer changes nothing and is recorded.
    """


@hookspec
def hub_register_config_checks(register: Callable[[ConfigCheck], None]) -> None:
    """Register checks of the plugin's own configuration (once at start-up; every implementation runs).

    ``ConfigCheck(name, check)``: ``check(context)`` receives a ``ConfigCheckContext`` (the config directory,
    ``hub.toml`` as TOML with ``plugin_table(NAME)`` and ``listener_table(NAME)``, the hub's settings when
    ``hub.toml`` loaded, the partners that parsed, the registered partner kinds and message types) and returns
    every ``ConfigProblem(file, entry, problem, suggestion, warning)`` it finds, not only the first, changing
    nothing. ``hub config check`` lists them with the hub's own (exit 1 on any that is not a ``warning``);
    ``hub serve`` refuses to start on one. A check that raises is reported as a problem of its own. Names are
    unique across plugins.
    """


@hookspec
def hub_register_demo_scenes(register: Callable[[DemoScene], None]) -> None:
    """Register scenes of ``hub demo`` (once at start-up; every implementation runs).

    ``DemoScene(name, title, partners, play, settings)`` (``hub.plugin_api.demo``): the partners it needs (each
    a partner simulator on loopback answering with ``DemoPartner.respond``), the ``hub.toml`` tables it needs,
    and ``play(stage)``, run once the demo's hub is up and the hub's own story is told; it prints through
    ``stage.show`` and returns whether everything happened in time. Names are unique across plugins.
    """


@hookspec
def hub_validate_message(message: dict[str, Any], sender_id: str, schema_valid: bool) -> list[Problem] | None:
    """Check a canonical message beyond its JSON Schema; every implementation runs.

    ``message`` is the canonical message (do not modify it); ``sender_id`` is the
    authenticated partner. Return a list of problems (possibly empty) or None.
    Problems from all plugins are merged and the message is refused (422) if
    any are returned.

    When it is called depends on the implementation's signature. One that takes
    ``schema_valid`` is called for every message of a registered type, after the
    schema check, whether or not it passed (``schema_valid`` says which; a message
    that failed may lack anything, so read it defensively), and its problems are
    listed with the schema's, replacing the schema's sentence for the same location:
    this is how a plugin's rules are reported together with every other problem.
    One that does not take it is called only when the schema and the hub's rules
    found nothing.
    """


@hookspec
def hub_route(message: dict[str, Any], sender_id: str) -> list[str] | None:
    """Add destinations for a message beyond the configured routes.

    Called at intake, after validation, for every implementation. Return a list
    of partner ids that should receive the message unchanged, or None. Prefer
    configured routes: a hook route is invisible to an operator reading
    ``config/routes.toml``.
    """


@hookspec
def hub_message_event(event: HubEvent) -> None:
    """Observe a lifecycle event after it has been committed to the store.

    Called for received, routed, refused, delivered, acknowledged, answered, failed,
    retry_scheduled, dead_lettered, cancelled, warning and replayed events, and for the
    care pathway's (milestone_opened, _reminded, _met, _late, _breached, _cancelled,
    pathway_closed, timer_fire, scheduler_sync), each once, in the process whose
    commit made it.
    Observers must be fast
    and must not raise: an exception is logged with the plugin's name and
    otherwise ignored, because the event has already happened.
    """
