"""Reading XML from partners safely: one hardened lxml parser and a DTD check, for every adapter.

Partner XML never needs a document type or entity declarations, so a body that
declares either is refused before it is parsed (this closes external entities,
entity-expansion bombs and DTD loading in one step, whatever the encoding), and
the parser itself resolves no entities, loads no DTD, touches no network and
refuses huge trees.
"""

from __future__ import annotations

from lxml import etree

_MARKERS = ("<!DOCTYPE", "<!ENTITY")


def hardened_parser() -> etree.XMLParser:
    """An lxml parser with entity resolution, DTD loading, network access and huge trees all off."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def declared_dtd_marker(body: bytes) -> str | None:
    """``"<!DOCTYPE"`` or ``"<!ENTITY"`` when ``body`` declares one (in UTF-8 or UTF-16, any case), else None."""
    upper = body.upper()
    for marker in _MARKERS:
        if marker.encode("ascii") in upper:
            return marker
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = body.decode("utf-16").upper()
        except UnicodeDecodeError:
            return None
        for marker in _MARKERS:
            if marker in text:
                return marker
    return None
