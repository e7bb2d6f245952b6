"""The OpenAPI document tells the truth about the running hub, and /docs works offline.

The schema-driven fuzzer that checks the running hub against this document, operation by operation and
identity by identity, is tests/fuzz/test_api_fuzz.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
import requests

from hub.plugins import load_plugins


@pytest.fixture(scope="module")
def served_world(module_world: Any) -> Any:
    """One hub for the whole module: none of these tests changes what another sees."""
    return module_world


def test_the_document_declares_what_the_server_does(served_world) -> None:
    world = served_world
    spec = requests.get(f"{world.url}/openapi.json", timeout=5).json()
    paths = spec["paths"]
    assert spec["security"] == [{"bearer": []}]
    assert paths["/healthz"]["get"]["security"] == [] and paths["/readyz"]["get"]["security"] == []
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    assert set(paths["/v1/messages:batch"]["post"]["requestBody"]["content"]) == {"application/x-ndjson"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert set(response["content"]) == {"application/problem+json"}, (method, path, status)
                    assert response["content"]["application/problem+json"]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }
    declared = {(method, path): set(op["responses"]) for path, ops in paths.items() for method, op in ops.items()}
    assert declared["get", "/v1/messages/{message_id}"] == {"200", "401", "403", "404", "500", "503"}
    for (method, path), statuses in declared.items():  # a scheduler identity's token is refused with 403
        secured = paths[path][method].get("security") != []
        assert ("403" in statuses) == secured, (method, path)
    assert {"401", "403", "422"} <= declared["get", "/v1/inbox"]
    assert {"202", "400", "401", "403", "409", "413", "415", "422"} <= set(paths["/v1/messages"]["post"]["responses"])
    assert spec["components"]["schemas"]["CanonicalMessage"]["properties"]["type"]["enum"] == sorted(
        load_plugins().message_types
    )


def test_the_accepted_media_types_are_those_the_loaded_adapters_read(served_world) -> None:
    world = served_world
    spec = requests.get(f"{world.url}/openapi.json", timeout=5).json()
    declared = set(spec["paths"]["/v1/messages"]["post"]["requestBody"]["content"])
    # the 415 names every media type the loaded adapters read
    refused = world.as_("trust-a").post(f"{world.url}/v1/messages", data=b"x", timeout=5,
                                        headers={"Content-Type": "application/x-unknown"})  # fmt: skip
    assert refused.status_code == 415
    said = re.search(r"this hub reads (.*)\.$", refused.json()["detail"])
    assert said is not None, refused.json()["detail"]
    read = set(said.group(1).split(", "))
    assert declared == read | {"application/jose", "application/jose+json"}
    assert {"application/fhir+json", "application/hl7-v2"} <= declared  # the built-in plugins are loaded here


def test_a_format_whose_plugin_is_not_loaded_is_not_offered(make_world, monkeypatch) -> None:
    monkeypatch.setenv("HUB_DISABLE_PLUGINS", "nhs-hl7v2")
    world = make_world()
    spec = requests.get(f"{world.url}/openapi.json", timeout=5).json()
    declared = set(spec["paths"]["/v1/messages"]["post"]["requestBody"]["content"])
    assert "application/hl7-v2" not in declared and "application/fhir+json" in declared
    refused = world.as_("trust-a").post(f"{world.url}/v1/messages", data=b"MSH|^~\\&|", timeout=5,
                                        headers={"Content-Type": "application/hl7-v2"})  # fmt: skip
    assert refused.status_code == 415


def test_the_token_is_checked_before_the_parameters(served_world) -> None:
    world = served_world
    for path in ("/v1/messages?nhs_number=not-a-number", "/v1/messages", "/v1/inbox?limit=many"):
        response = requests.get(f"{world.url}{path}", timeout=5)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == 'Bearer realm="hub"'
    response = world.as_("ops").get(f"{world.url}/v1/inbox?limit=many", timeout=5)
    assert response.status_code == 403


def test_a_method_not_allowed_names_the_allowed_ones(served_world) -> None:
    world = served_world
    for path, allowed in (("/v1/inbox", "GET"), ("/v1/messages", "GET, POST")):
        response = world.as_("trust-a").delete(f"{world.url}{path}", timeout=5)
        assert response.status_code == 405
        assert response.headers["allow"] == allowed
        assert response.headers["content-type"] == "application/problem+json"


def test_an_empty_batch_is_refused(served_world) -> None:
    world = served_world
    for body in (b"", b"\n\n", b"  \r\n\t"):
        response = world.as_("trust-a").post(f"{world.url}/v1/messages:batch", data=body, timeout=5,
                                             headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
        assert response.status_code == 400, body
        assert response.json()["errors"] == [{"location": "body", "detail": "no line holds anything but white space"}]


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_docs_page_loads_only_from_the_hub(served_world) -> None:
    world = served_world
    page = requests.get(f"{world.url}/docs", timeout=5)
    assert page.status_code == 200
    parser = _References()
    parser.feed(page.text)
    assert len(parser.urls) == 3  # the script, the style sheet, the icon
    for url in parser.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = requests.get(f"{world.url}{url}", timeout=5)
        assert asset.status_code == 200 and len(asset.content) > 500, url
    assert "http://" not in page.text and "https://" not in page.text
    assert requests.get(f"{world.url}/redoc", timeout=5).status_code == 404
