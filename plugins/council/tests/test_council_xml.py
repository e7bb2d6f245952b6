"""The council XML format: DutyToRefer rendered and validated before it leaves, appointments parsed safely."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from council_helpers import appointment_xml
from hub_council.council_xml import CouncilXmlAdapter
from hub_council.xml_render import RenderRefused
from hub_council.xml_safety import load_xsd
from lxml import etree

from hub import InvalidMessage, UnparseableInput
from hub.testing.messages import example

ADAPTER = CouncilXmlAdapter()
REPLY_TO = "8badbc58-c845-4af7-9200-2ae28232da17"


def render(message):
    return ADAPTER.render(message, partner=None).body  # type: ignore[arg-type]


def test_a_housing_request_renders_as_a_duty_to_refer_valid_against_the_xsd() -> None:
    request = example("housing-request")
    body = render(request)
    root = etree.fromstring(body)
    assert load_xsd("duty-to-refer-1.xsd").validate(root)
    ns = {"c": "https://hub.invalid/schemas/council/1"}
    assert root.findtext("c:MessageId", namespaces=ns) == request["message_id"]
    target, consent = root.find("c:TargetAuthority", ns), root.find("c:Consent", ns)
    assert target is not None and consent is not None
    assert target.get("gss") == "E06000032"
    assert root.findtext("c:Referrer/c:Phone", namespaces=ns) == "01582 700300"
    assert consent.get("shareContact") == "true"
    assert [n.text for n in root.findall("c:SupportNeeds/c:Need", ns)] == request["payload"]["support_needs"]


def test_an_xsd_include_is_read_from_the_schemas_own_folder_and_nowhere_else(tmp_path: Path) -> None:
    head = '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
    (tmp_path / "common.xsd").write_text(f'{head}<xs:simpleType name="Code"><xs:restriction base="xs:string"/>'
                                         "</xs:simpleType></xs:schema>")  # fmt: skip
    (tmp_path / "ok.xsd").write_text(f'{head}<xs:include schemaLocation="common.xsd"/>'
                                     '<xs:element name="A" type="Code"/></xs:schema>')  # fmt: skip
    assert load_xsd("ok.xsd", tmp_path).validate(etree.fromstring("<A>x</A>"))
    outside = tmp_path / "shipped"
    outside.mkdir()
    (outside / "common.xsd").write_text((tmp_path / "common.xsd").read_text())  # a path is refused, not trimmed
    (outside / "escape.xsd").write_text(f'{head}<xs:include schemaLocation="../common.xsd"/></xs:schema>')
    with pytest.raises(etree.XMLSchemaParseError, match=r"\.\./common\.xsd"):
        load_xsd("escape.xsd", outside)


def test_a_render_that_breaks_the_xsd_is_refused_naming_the_element_but_not_the_value() -> None:
    request = example("housing-request")
    del request["payload"]["referrer"]["phone"]
    request["payload"]["person"]["email"] = "not-an-email"
    with pytest.raises(RenderRefused) as caught:
        render(request)
    text = str(caught.value)
    assert "Phone" in text and "Email" in text and "not sent" in text
    assert "not-an-email" not in text and "Alex" not in text


def test_other_message_types_go_to_an_xml_council_as_canonical_json() -> None:
    rendered = ADAPTER.render(example("acknowledgement"), partner=None)  # type: ignore[arg-type]
    assert rendered.content_type == "application/json"


def test_an_appointment_document_becomes_a_canonical_housing_appointment() -> None:
    [message] = ADAPTER.parse(appointment_xml(REPLY_TO), content_type="application/xml", sender_id="council-bristol")
    assert message["type"] == "HousingAppointment"
    assert message["in_reply_to"] == REPLY_TO
    assert message["sender"] == {"org_id": "council-bristol", "gss_code": "E06000023"}
    assert message["payload"]["status"] == "offered" and message["payload"]["mode"] == "phone"
    assert message["payload"]["officer"]["name"] == "Pat Officer"


def test_an_appointment_breaking_the_xsd_is_refused_with_line_and_element() -> None:
    body = appointment_xml(REPLY_TO, status="maybe")
    with pytest.raises(InvalidMessage) as caught:
        ADAPTER.parse(body, content_type="application/xml", sender_id="council-bristol")
    [problem] = caught.value.problems
    assert problem.location == "line 8 /HousingAppointment/Status"
    assert "Status" in problem.message and "'offered'" in problem.message


def test_a_document_of_another_kind_is_refused() -> None:
    body = render(example("housing-request"))
    with pytest.raises(InvalidMessage, match="HousingAppointment"):
        ADAPTER.parse(body, content_type="application/xml", sender_id="council-bristol")


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE HousingAppointment [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<HousingAppointment xmlns="https://hub.invalid/schemas/council/1" version="1"><CaseRef>&xxe;</CaseRef>
</HousingAppointment>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<lolz>&lol4;</lolz>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE HousingAppointment SYSTEM "http://127.0.0.1:9/evil.dtd">
<HousingAppointment xmlns="https://hub.invalid/schemas/council/1" version="1"/>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]><x/>"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (XXE, "DOCTYPE"),
        (BILLION_LAUGHS, "DOCTYPE"),
        (EXTERNAL_DTD, "DOCTYPE"),
        (PARAMETER_ENTITY, "DOCTYPE"),
        (b"<x>" + b"a" * 300_000 + b"</x>", "at most 262144 bytes"),
        (b"<a>" * 40 + b"</a>" * 40, "deeper than 32"),
        ('<?xml version="1.0" encoding="UTF-16"?><x/>'.encode("utf-16"), "not UTF-8"),
        (b"<HousingAppointment><unclosed></HousingAppointment>", "not well-formed"),
    ],
    ids=["xxe", "billion-laughs", "external-dtd", "parameter-entity", "oversized", "deep", "utf-16", "malformed"],
)
def test_unsafe_or_broken_xml_is_refused_with_a_clear_error(body: bytes, expected: str) -> None:
    with pytest.raises(UnparseableInput) as caught:
        ADAPTER.parse(body, content_type="application/xml", sender_id="council-bristol")
    assert expected in caught.value.problems[0].message


def test_an_entity_hidden_without_doctype_is_not_expanded() -> None:
    body = appointment_xml(REPLY_TO).replace(b"HOM/2026/04567", b"&xxe;")
    with pytest.raises((UnparseableInput, InvalidMessage)):
        ADAPTER.parse(copy.copy(body), content_type="application/xml", sender_id="council-bristol")
