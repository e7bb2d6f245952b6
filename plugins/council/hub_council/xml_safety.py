"""Parsing untrusted XML safely, and loading the council XSDs.

``parse_untrusted(body)`` is the only way council XML enters the hub. It refuses,
before anything reaches the XML parser's DTD machinery:

- bodies larger than ``max_bytes`` (default 256 KiB; a referral is about 3 KiB);
- bodies that are not UTF-8 (so a DOCTYPE cannot hide in UTF-16);
- any ``<!DOCTYPE`` or ``<!ENTITY`` declaration: no external entities (XXE), no
  DTD loading, no entity-expansion bombs ("billion laughs");

and parses what is left with a parser that resolves no entities, loads no DTD,
never touches the network, keeps libxml2's default limits (``huge_tree`` off) and
refuses elements nested deeper than ``MAX_DEPTH``. Every refusal raises
``UnsafeXml`` with a sentence a council's developer can act on.
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

from lxml import etree

from hub import declared_dtd_marker, hardened_parser

if TYPE_CHECKING:  # what a resolver hands back to lxml; the class exists only in the type stubs' module layout
    from lxml.etree._docloader import _InputDocument

DEFAULT_MAX_BYTES = 256 * 1024
MAX_DEPTH = 32


class UnsafeXml(ValueError):
    """The body is not XML the hub will parse; ``str(exc)`` says why and what to do."""


def parse_untrusted(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse ``body`` as an untrusted XML document and return its root element, or raise ``UnsafeXml``."""
    if len(body) > max_bytes:
        raise UnsafeXml(
            f"the XML document is {len(body)} bytes; the hub accepts at most {max_bytes} bytes per document"
        )
    try:
        body.decode("utf-8")  # council documents are UTF-8; say so plainly when they are not
    except UnicodeDecodeError as exc:
        raise UnsafeXml(f"the XML document is not UTF-8 (byte {exc.start}); send it encoded as UTF-8") from None
    marker = declared_dtd_marker(body)
    if marker is not None:
        raise UnsafeXml(
            f"the XML document contains {marker}: DTDs and entity declarations are refused "
            "(no external entities, no entity expansion); remove the declaration and send the document alone"
        )
    try:
        root = etree.fromstring(body, parser=hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"the XML document is not well-formed: {exc.msg} (line {exc.lineno})") from None
    if root.getroottree().docinfo.doctype:
        raise UnsafeXml("the XML document has a document type declaration; remove it")
    _check_depth(root)
    return root


def _check_depth(root: etree._Element) -> None:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnsafeXml(
                f"the XML document nests elements deeper than {MAX_DEPTH} levels (line {element.sourceline})"
            )
        stack.extend((child, depth + 1) for child in element)


def default_schema_dir() -> Traversable:
    """Where the council XSDs are: ``hub_council/xsd``, shipped in this plugin's distribution."""
    return files("hub_council").joinpath("xsd")


class _SiblingResolver(etree.Resolver):
    """Serves an XSD's ``xs:include``/``xs:import`` from its own folder, and refuses anything else."""

    def __init__(self, folder: Traversable) -> None:
        super().__init__()
        self.folder = folder

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> _InputDocument:
        if system_url is None:  # lxml reports it as a parse error
            raise FileNotFoundError("XSD include without a location: only files beside the schema are read")
        name = system_url.rsplit("/", 1)[-1]
        entry = self.folder.joinpath(name)
        if "/" in system_url or ":" in system_url or not entry.is_file():  # lxml reports it as a parse error
            raise FileNotFoundError(f"XSD include {system_url!r}: only files beside the schema ({name}) are read")
        return self.resolve_string(entry.read_bytes(), context)


@functools.cache
def load_xsd(filename: str, schema_dir: Traversable | None = None) -> etree.XMLSchema:
    """Compile one of our own XSDs (``duty-to-refer-1.xsd``...); includes are read from the same folder only."""
    folder = schema_dir or default_schema_dir()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_SiblingResolver(folder))
    document = etree.fromstring(folder.joinpath(filename).read_bytes(), parser=parser).getroottree()
    return etree.XMLSchema(document)


def xsd_problems(schema: etree.XMLSchema, root: etree._Element) -> list[tuple[str, str]]:
    """Validate ``root`` against ``schema``; return ``(where, message)`` for each error, empty when valid.

    ``where`` is ``line N`` plus the element path; messages come from libxml2 and
    name the element and the rule, with the offending value removed (it may be a
    name or an NHS number, and these messages reach logs and delivery records).
    """
    if schema.validate(root):
        return []
    out = []
    for error in schema.error_log:
        path = _readable_path(root, error.path)
        where = f"line {error.line}" + (f" {path}" if path else "")
        out.append((where, redact(_NAMESPACE.sub("", error.message))))
    return out


def _readable_path(root: etree._Element, xpath: str | None) -> str:
    """``/*/*[6]`` (libxml2's path for namespaced elements) as ``/HousingAppointment/Status``."""
    if not xpath:
        return ""
    try:
        found = root.getroottree().xpath(xpath)
    except etree.XPathError:
        return ""
    if not found or not isinstance(found[0], etree._Element):
        return ""
    names = [etree.QName(element).localname for element in [*reversed(list(found[0].iterancestors())), found[0]]]
    return "/" + "/".join(names)


_NAMESPACE = re.compile(r"\{(?:https?|urn):[^}]*\}")
_VALUES = (
    (re.compile(r"[Tt]he value '[^']*'"), "The value"),
    (re.compile(r"'[^']*' is not a valid value"), "the value is not a valid value"),
    (re.compile(r"[Cc]haracter content other than whitespace is not allowed because .*"), "text is not allowed here"),
)


def redact(message: str) -> str:
    """A libxml2 validation message without the value that broke the rule."""
    for pattern, replacement in _VALUES:
        message = pattern.sub(replacement, message)
    return message.strip()
