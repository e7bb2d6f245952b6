"""The ``destination`` kind: a route destination resolver's plugin module, tests and README section."""

from __future__ import annotations

from hub.cli.scaffold_kinds.kind import Kind

DESTINATION = Kind(
    name="destination",
    hook="hub_register_destinations",
    summary="a route destination resolver: finds the partner a message goes to",
    plugin='''"""The ``{name}`` destination: the partner for a message, by the start of a postcode in it.

Replace the lookup here with yours. The contract (``hub.DestinationResolver``): ``resolve(message, options,
context)`` returns a partner id or raises ``Unresolved(reason)`` (field names, never values); ``check(options,
setup)`` refuses bad options when ``routes.toml`` is loaded, raising ``ValueError(option, sentence)``.
"""

from __future__ import annotations

from typing import Any

from hub import DestinationResolver, ResolveContext, RouteSetup, Unresolved, hookimpl


def _value(message: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        message = message.get(part) if isinstance(message, dict) else None
    return message


def check(options: dict[str, Any], setup: RouteSetup) -> None:
    """``field`` (a dotted path) and ``prefixes`` (postcode start -> partner id, each a partner of this hub)."""
    if not isinstance(options.get("field"), str):
        raise ValueError("field", "required: the dotted path of the postcode, e.g. payload.postcode")
    prefixes = options.get("prefixes")
    if not isinstance(prefixes, dict) or not prefixes:
        raise ValueError("prefixes", "required: a table of postcode starts and partner ids")
    for start, partner in prefixes.items():
        if setup.partners.get(partner) is None:
            raise ValueError("prefixes", f"{{start}}: {{partner!r}} is not a partner of this hub")


def resolve(message: dict[str, Any], options: dict[str, Any], context: ResolveContext) -> str:
    """The partner whose prefix starts the postcode (the longest prefix wins)."""
    value = _value(message, options["field"])
    if not isinstance(value, str):
        raise Unresolved(f"{{options['field']}} is empty")
    postcode = value.replace(" ", "").upper()
    found = [p for p in options["prefixes"] if postcode.startswith(p.upper())]
    if not found:
        raise Unresolved(f"no prefix of the route matches {{options['field']}}")
    return str(options["prefixes"][max(found, key=len)])


@hookimpl
def hub_register_destinations(register: Any) -> None:
    """Register the ``{name}`` destination (routes use it with ``to = {{ kind = "{name}", ... }}``)."""
    register(DestinationResolver("{name}", resolve, check, lambda options: "{name} by postcode"))
''',
    tests='''"""The ``{name}`` destination: unit tests, and a running hub routing by it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from samples import KIND, RECEIVER, SENDER, TYPE, example_message

from hub import ResolveContext, Unresolved
from hub.testing import HubWorld, Partner, wait_until
from {package}.plugin import resolve

OPTIONS = {{"field": "payload.postcode", "prefixes": {{"AB": RECEIVER, "AB7": "other-receiver"}}}}


def test_the_longest_prefix_wins() -> None:
    message = example_message()
    assert resolve(message, OPTIONS, ResolveContext(partners=None)) == RECEIVER
    message["payload"]["postcode"] = "AB7 1AA"
    assert resolve(message, OPTIONS, ResolveContext(partners=None)) == "other-receiver"


def test_no_match_is_unresolved_without_the_value() -> None:
    message = example_message()
    message["payload"]["postcode"] = "ZZ9 9ZZ"
    with pytest.raises(Unresolved) as raised:
        resolve(message, OPTIONS, ResolveContext(partners=None))
    assert "ZZ9" not in raised.value.reason


def test_a_running_hub_routes_by_it(hub_world_factory: Callable[..., HubWorld]) -> None:
    route = {{"name": "by-postcode", "type": TYPE, "to": {{"kind": "{name}", **OPTIONS}}}}
    world = hub_world_factory([Partner(SENDER, KIND), Partner(RECEIVER, KIND), Partner("other-receiver", KIND)],
                              routes=[route])
    assert world.send(SENDER, example_message("other-receiver")).status_code == 202
    assert wait_until(lambda: world.sims[RECEIVER].messages(TYPE), timeout=20)
    assert not world.sims["other-receiver"].messages(TYPE)
''',
    configure="""A route uses it in `routes.toml`:

```toml
[[route]]
name = "by-postcode"
type = "ExampleMessage"                  # a message type a loaded plugin registers
to = {{ kind = "{name}", field = "payload.postcode", prefixes = {{ AB = "my-partner" }} }}
```""",
)
