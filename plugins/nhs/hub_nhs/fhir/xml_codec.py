"""FHIR XML in and out, safely.

``read_xml(body)`` parses with lxml configured for untrusted input (no
network, no DTD, no entity resolution, no huge trees) and refuses any document
type declaration or entity declaration outright: FHIR XML never carries one.
It returns the resource as FHIR JSON (a dict), so one mapping serves both
encodings and problems carry the same FHIR paths. ``write_xml(resource)`` does
the reverse for what the hub renders.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from hub import Problem, UnparseableInput, declared_dtd_marker, hardened_parser
from hub_nhs.fhir.cardinality import json_primitive, repeats
from hub_nhs.fhir.codes import FHIR_NS, XHTML_NS

_FHIR = "{" + FHIR_NS + "}"
_DIV = "{" + XHTML_NS + "}div"


def _parser() -> etree.XMLParser:
    return hardened_parser()


def _declares_dtd(body: bytes) -> bool:
    return declared_dtd_marker(body) is not None


def read_xml(body: bytes) -> dict[str, Any]:
    """Parse FHIR XML into FHIR JSON; raise ``UnparseableInput`` for anything unsafe or not well formed."""
    if _declares_dtd(body):
        raise UnparseableInput(
            "The XML declares a document type or entities, which FHIR XML never does; the hub refuses it unread.",
            [Problem("line 1", "remove the <!DOCTYPE ...> declaration and any <!ENTITY ...> definitions")],
        )
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 0, 0)
        raise UnparseableInput(
            "The body is not well-formed XML.", [Problem(f"line {line}, column {column}", str(exc.msg))]
        ) from None
    except (ValueError, TypeError) as exc:  # e.g. an encoding declaration lxml cannot honour
        raise UnparseableInput("The body is not readable XML.", [Problem("line 1", str(exc))]) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnparseableInput("The XML declares a document type, which FHIR XML never does.",
                               [Problem("line 1", "remove the <!DOCTYPE ...> declaration")])  # fmt: skip
    if not isinstance(root.tag, str) or not root.tag.startswith(_FHIR):
        raise UnparseableInput(
            "The XML is not FHIR: its root element must be a resource in the namespace http://hl7.org/fhir.",
            [Problem("line 1", 'expected a root element such as <Bundle xmlns="http://hl7.org/fhir">')],
        )
    problems: list[Problem] = []
    resource = _resource(root, root.tag[len(_FHIR) :], problems)
    if problems:
        raise UnparseableInput("The FHIR XML breaks the FHIR XML rules.", problems)
    return resource


def _resource(element: Any, path: str, problems: list[Problem]) -> dict[str, Any]:
    resource_type = element.tag[len(_FHIR) :]
    out: dict[str, Any] = {"resourceType": resource_type}
    out.update(_children(element, resource_type, "", path, problems))
    return out


def _children(element: Any, resource_type: str, element_path: str, path: str, problems: list[Problem]) -> dict:
    grouped: dict[str, list[Any]] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue  # an entity reference left unresolved, or similar: never content
        if child.tag == _DIV:
            grouped.setdefault("div", []).append(child)
            continue
        if not child.tag.startswith(_FHIR):
            problems.append(Problem(path, f"element {etree.QName(child).localname} is not in the FHIR namespace"))
            continue
        grouped.setdefault(child.tag[len(_FHIR) :], []).append(child)
    out: dict[str, Any] = {}
    for name, elements in grouped.items():
        child_path = f"{element_path}.{name}" if element_path else name
        is_list = repeats(resource_type, child_path, name) or len(elements) > 1
        values: list[Any] = []
        extras: list[Any] = []
        for index, child in enumerate(elements):
            where = f"{path}.{name}[{index}]" if is_list else f"{path}.{name}"
            value, extra = _element(child, name, resource_type, child_path, where, problems)
            values.append(value)
            extras.append(extra)
        if is_list:
            if any(v is not None for v in values):
                out[name] = values
            if any(e is not None for e in extras):
                out["_" + name] = extras
        else:
            if values[0] is not None:
                out[name] = values[0]
            if extras[0] is not None:
                out["_" + name] = extras[0]
    return out


def _element(
    child: Any, name: str, resource_type: str, element_path: str, path: str, problems: list[Problem]
) -> tuple[Any, Any]:
    """The JSON value of one element and, for a primitive, its ``_name`` companion (id, extensions)."""
    if name == "div":
        return etree.tostring(child, encoding="unicode", with_tail=False), None
    if name in ("resource", "contained") or (name == "outcome" and len(child) == 1 and _is_resource(child)):
        inner = [c for c in child if isinstance(c.tag, str)]
        if len(inner) != 1 or not inner[0].tag.startswith(_FHIR):
            problems.append(Problem(path, "must hold exactly one FHIR resource element"))
            return None, None
        return _resource(inner[0], f"{path}", problems), None
    value = child.get("value")
    if value is not None:
        extra: dict[str, Any] = {}
        if child.get("id") is not None:
            extra["id"] = child.get("id")
        ext = _children(child, resource_type, element_path, path, problems)
        if ext:
            extra.update(ext)
        return json_primitive(name, value), (extra or None)
    out: dict[str, Any] = {}
    if child.get("id") is not None:
        out["id"] = child.get("id")
    if name in ("extension", "modifierExtension") and child.get("url") is not None:
        out["url"] = child.get("url")
    out.update(_children(child, resource_type, element_path, path, problems))
    return out, None


def _is_resource(element: Any) -> bool:
    first = element[0]
    return isinstance(first.tag, str) and first.tag.startswith(_FHIR) and first.tag[len(_FHIR)].isupper()


def write_xml(resource: dict[str, Any]) -> bytes:
    """Serialise a FHIR JSON resource (built by the hub, keys in FHIR order) as FHIR XML."""
    root = etree.Element(_FHIR + resource["resourceType"], nsmap={None: FHIR_NS})
    _write_members(root, resource, is_resource=True)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _write_members(parent: Any, value: dict[str, Any], *, is_resource: bool) -> None:
    for key, member in value.items():
        if key == "resourceType" or key.startswith("_"):
            continue
        if key == "url" and parent.tag in (_FHIR + "extension", _FHIR + "modifierExtension"):
            parent.set("url", str(member))
            continue
        if key == "id" and not is_resource:
            parent.set("id", str(member))
            continue
        items = member if isinstance(member, list) else [member]
        for item in items:
            _write_element(parent, key, item)


def _write_element(parent: Any, name: str, item: Any) -> None:
    if name == "div" and isinstance(item, str):
        parent.append(etree.fromstring(item.encode("utf-8"), parser=_parser()))
        return
    element = etree.SubElement(parent, _FHIR + name)
    if isinstance(item, dict) and "resourceType" in item:
        inner = etree.SubElement(element, _FHIR + item["resourceType"])
        _write_members(inner, item, is_resource=True)
    elif isinstance(item, dict):
        _write_members(element, item, is_resource=False)
    elif isinstance(item, bool):
        element.set("value", "true" if item else "false")
    else:
        element.set("value", str(item))
