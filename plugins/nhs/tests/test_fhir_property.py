"""Property: the FHIR parsers raise nothing but the hub's own errors, whatever they are given."""

from __future__ import annotations

import json
from typing import Any

from fhir_support import own_bundle, own_bundle_xml
from hub_nhs.fhir.adapter import FhirR4Adapter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import HubError

ADAPTER = FhirR4Adapter()
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)


def parse_or_hub_error(body: bytes, content_type: str) -> None:
    try:
        messages = ADAPTER.parse(body, content_type=content_type, sender_id="trust-a")
    except HubError as exc:
        assert exc.problems or exc.detail
    else:
        assert isinstance(messages, list)


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes(body: bytes) -> None:
    parse_or_hub_error(body, "application/fhir+json")
    parse_or_hub_error(body, "application/fhir+xml")


@SETTINGS
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    parse_or_hub_error(json.dumps(value).encode(), "application/fhir+json")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_paths(item, (*prefix, index)))
    return out


BUNDLE_PATHS = _paths(own_bundle())[1:]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(BUNDLE_PATHS), json_values), min_size=1, max_size=4))
def test_a_real_bundle_with_any_element_replaced_by_anything(changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    bundle = own_bundle()
    for path, value in changes:
        node: Any = bundle
        try:
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    parse_or_hub_error(json.dumps(bundle).encode(), "application/fhir+json")


XML_TEXT = own_bundle_xml("0f8e2b8a-4b0c-4b1e-9a51-8f3b3f0b9a11").decode()


@SETTINGS
@given(st.integers(0, len(XML_TEXT) - 1), st.integers(0, 40), st.text(max_size=12))
def test_a_real_xml_bundle_with_any_slice_replaced(start: int, length: int, text: str) -> None:
    body = XML_TEXT[:start] + text + XML_TEXT[start + length :]
    parse_or_hub_error(body.encode("utf-8", "surrogatepass"), "application/fhir+xml")
