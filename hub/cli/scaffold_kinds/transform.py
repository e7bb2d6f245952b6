"""The ``transform`` kind: a transform's plugin module, tests and README section."""

from __future__ import annotations

from hub.cli.scaffold_kinds.kind import Kind

TRANSFORM = Kind(
    name="transform",
    hook="hub_register_transforms",
    summary="a transform: derives a new canonical message from an accepted one",
    plugin='''"""The ``{name}`` transform: a message passed on to a second service, named in the route's options.

Replace the derivation here with yours. The contract (``hub.Transform``): ``func(message, context)`` returns the
whole derived message (validated like any inbound one), raises ``Refusal(reason)`` when it must not be made (the
source is still accepted; the reason goes to its sender), or ``InvalidMessage`` when the source lacks what the
derived message needs. ``context.options`` is the route's ``options`` table; what the transform assumed goes in
``context.warnings`` (field names, never values).
"""

from __future__ import annotations

import copy
from typing import Any

from hub import Refusal, Transform, TransformContext, hookimpl

SOURCE_TYPE = "ExampleMessage"  # the types your transform reads and writes (registered by a loaded plugin)
TARGET_TYPE = "ExampleMessage"


def derive(message: dict[str, Any], context: TransformContext) -> dict[str, Any]:
    """The message for the service ``context.options["service_id"]``; refused without consent to refer."""
    if message.get("consent", {{}}).get("referral") is not True:
        raise Refusal("the person has not consented to a referral, so none is passed on")
    service = context.options.get("service_id")
    if not isinstance(service, str):
        raise Refusal("the route gives no options.service_id to pass the referral on to")
    derived = copy.deepcopy(message)
    derived["message_id"] = context.new_message_id()
    derived["created_at"] = context.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    derived["recipient"] = {{"org_id": service}}
    derived["payload"]["service_id"] = service
    return derived


@hookimpl
def hub_register_transforms(register: Any) -> None:
    """Register the ``{name}`` transform (routes name it with ``transform = "{name}"``)."""
    register(Transform("{name}", SOURCE_TYPE, TARGET_TYPE, derive))
''',
    tests='''"""The ``{name}`` transform: unit tests, and a running hub passing a message on with it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from samples import KIND, RECEIVER, SENDER, TYPE, example_message

from hub import Refusal, TransformContext
from hub.testing import HubWorld, Partner, wait_until
from {package}.plugin import derive


def context(**options: str) -> TransformContext:
    return TransformContext(route="test", now=datetime.now(UTC), new_message_id=lambda: "m-derived", options=options)


def test_it_readdresses_the_message() -> None:
    derived = derive(example_message(), context(service_id="second-service"))
    assert derived["message_id"] == "m-derived"
    assert derived["recipient"] == {{"org_id": "second-service"}}
    assert derived["payload"]["service_id"] == "second-service"


def test_no_consent_is_a_refusal() -> None:
    message = example_message()
    message["consent"]["referral"] = False
    with pytest.raises(Refusal, match="consented"):
        derive(message, context(service_id="second-service"))


def test_a_running_hub_passes_the_message_on(hub_world_factory: Callable[..., HubWorld]) -> None:
    route = {{"name": "pass-on", "type": TYPE, "transform": "{name}",
              "options": {{"service_id": "second-service"}}, "to": {{"field": "payload.service_id"}}}}
    world = hub_world_factory([Partner(SENDER, KIND), Partner(RECEIVER, KIND), Partner("second-service", KIND)],
                              routes=[route])
    assert world.send(SENDER, example_message(RECEIVER)).status_code == 202
    assert wait_until(lambda: world.sims["second-service"].messages(TYPE), timeout=20)
''',
    configure="""A route names it in `routes.toml`:

```toml
[[route]]
name = "pass-on"
type = "ExampleMessage"                  # a message type a loaded plugin registers
transform = "{name}"
options = {{ service_id = "second-service" }}
to = {{ field = "payload.service_id" }}
```""",
)
