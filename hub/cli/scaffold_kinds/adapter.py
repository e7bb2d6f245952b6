"""The ``adapter`` kind: a format adapter's plugin module, tests and README section."""

from __future__ import annotations

from hub.cli.scaffold_kinds.kind import Kind

ADAPTER = Kind(
    name="adapter",
    hook="hub_register_adapters",
    summary="a format adapter: parses the partner's format into canonical messages and renders them back",
    plugin='''"""The ``{name}`` adapter: the partner's format, read into canonical messages and written from them.

Replace the format here with the partner's. This one wraps the canonical message in a small JSON document,
``{{"format": "{name}/1", "message": {{...}}}}``, sent as ``application/vnd.{name}+json``. The contract
(``hub.Adapter``): ``parse`` returns canonical messages or raises ``UnparseableInput`` (the body cannot be read)
or ``InvalidMessage`` (read, but wrong) listing every problem, naming places, never values; ``render`` returns
``Rendered`` bytes for one partner or raises ``RenderError``.
"""

from __future__ import annotations

import json
from typing import Any

from hub import InvalidMessage, Partner, Problem, Rendered, UnparseableInput, hookimpl

FORMAT = "{name}/1"
MEDIA_TYPE = "application/vnd.{name}+json"


class {cls}Adapter:
    """Reads and writes ``{name}/1`` documents (see the module docstring)."""

    name = "{name}"
    content_types = (MEDIA_TYPE,)

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        """The canonical message a ``{name}/1`` document carries; raise with every problem otherwise."""
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise UnparseableInput("The body is not a JSON document (UTF-8).") from None
        if not isinstance(document, dict):
            raise InvalidMessage("The document is not a JSON object.", [Problem("$", "must be an object")])
        problems = []
        if document.get("format") != FORMAT:
            problems.append(Problem("$.format", f"must be {{FORMAT!r}}"))
        message = document.get("message")
        if not isinstance(message, dict):
            problems.append(Problem("$.message", "required: the canonical message, an object"))
        if problems or not isinstance(message, dict):
            raise InvalidMessage("The document is not a {name}/1 document.", problems)
        return [message]

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        """The ``{name}/1`` document for ``message``."""
        document = {{"format": FORMAT, "message": message}}
        return Rendered(MEDIA_TYPE, json.dumps(document, ensure_ascii=False).encode())


@hookimpl
def hub_register_adapters(register: Any) -> None:
    """Register the ``{name}`` adapter (partners name it with ``adapter = "{name}"``)."""
    register({cls}Adapter())
''',
    tests='''"""The ``{name}`` adapter passes the hub's conformance suite, alone and through a running hub."""

from __future__ import annotations

import json
from typing import Any

from samples import KIND, SENDER, example_message

from hub.testing import Partner
from hub.testing.conformance import AdapterConformance, DeliveryConformance
from {package}.plugin import MEDIA_TYPE, {cls}Adapter
from hub import InvalidMessage


class TestAdapter(AdapterConformance):
    adapter_name = "{name}"

    def render_samples(self) -> list[dict[str, Any]]:
        return [example_message()]

    def parse_samples(self) -> list[tuple[bytes, str]]:
        return [(json.dumps({{"format": "{name}/1", "message": example_message()}}).encode(), MEDIA_TYPE)]


class TestDelivery(DeliveryConformance):
    adapter_name = "{name}"
    partner_kind = KIND

    def sender(self) -> Any:
        return Partner(SENDER, KIND)

    def message(self, to: str) -> dict[str, Any]:
        return example_message(to)


def test_a_document_of_another_format_is_refused_naming_the_place() -> None:
    try:
        {cls}Adapter().parse(b'{{"format": "other/2"}}', content_type=MEDIA_TYPE, sender_id=SENDER)
    except InvalidMessage as exc:
        assert [p.location for p in exc.problems] == ["$.format", "$.message"]
    else:
        raise AssertionError("a document of another format was accepted")
''',
    configure="""A partner that speaks it names it in `partners.toml`:

```toml
[[partner]]
id = "my-partner"
kind = "my-kind"                          # a partner kind a loaded plugin registers
adapter = "{name}"
receive = {{ mode = "push", url = "https://partner.example/inbound" }}
```""",
)
