"""The message Bundle: its shape (``type: message``, MessageHeader first) and reference resolution.

``MessageBundle.read(document)`` checks the shape and raises ``InvalidMessage``
(or ``UnparseableInput`` for something that is not a FHIR resource at all)
listing every structural problem; after that, ``resolve`` follows a Reference
to the entry it names, by ``fullUrl`` or by ``Type/id``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hub import InvalidMessage, Problem, UnparseableInput
from hub_nhs.fhir.reading import Reader

_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")


@dataclass(frozen=True)
class Entry:
    """One resource of the Bundle with its FHIR path (``Bundle.entry[3].resource``)."""

    index: int
    resource: dict[str, Any]
    path: str
    full_url: str | None

    @property
    def type(self) -> str:
        """The resource type."""
        return str(self.resource["resourceType"])


@dataclass
class MessageBundle:
    """A checked FHIR message Bundle."""

    document: dict[str, Any]
    entries: list[Entry]

    @property
    def header(self) -> Entry:
        """The MessageHeader (always the first entry)."""
        return self.entries[0]

    @classmethod
    def read(cls, document: Any) -> MessageBundle:
        """Check the Bundle's shape; raise with every structural problem found."""
        if not isinstance(document, dict):
            raise UnparseableInput("A FHIR message is a JSON object (a Bundle resource).",
                                   [Problem("$", "expected a JSON object with resourceType Bundle")])  # fmt: skip
        if document.get("resourceType") != "Bundle":  # what was sent is never repeated back
            raise InvalidMessage(
                "The hub accepts a FHIR message Bundle only.",
                [Problem("resourceType", "must be Bundle (a message Bundle with a MessageHeader first)")],
            )
        reader = Reader()
        kind = reader.string(document, "type", "Bundle", required=True)
        if kind is not None and kind != "message":
            reader.add("Bundle.type", "must be message (a FHIR message Bundle, MessageHeader first)")
        entries: list[Entry] = []
        for item, where in reader.many(document, "entry", "Bundle", required=True):
            if not isinstance(item, dict):
                reader.add(where, "must be an object")
                continue
            resource = reader.obj(item, "resource", where, required=True)
            full_url = reader.string(item, "fullUrl", where)
            if resource is None:
                continue
            rtype = resource.get("resourceType")
            if not isinstance(rtype, str) or not _RESOURCE_TYPE.match(rtype):
                reader.add(f"{where}.resource.resourceType", "required: the resource type (e.g. Patient)")
                continue
            index = int(where.rsplit("[", 1)[1][:-1])
            entries.append(Entry(index, resource, f"{where}.resource", full_url))
        if entries and (entries[0].index != 0 or entries[0].type != "MessageHeader"):
            reader.add("Bundle.entry[0].resource", "the first entry of a message Bundle must be its MessageHeader")
        elif not entries and isinstance(document.get("entry"), list) and not reader.problems:
            reader.add("Bundle.entry", "required: a MessageHeader and the resources it is about")
        if reader.problems:
            raise InvalidMessage("The FHIR Bundle is not a message Bundle the hub can read.", reader.problems)
        return cls(document, entries)

    def of_type(self, resource_type: str) -> list[Entry]:
        """Every entry holding a resource of ``resource_type``."""
        return [e for e in self.entries if e.type == resource_type]

    def resolve(self, reference: Any, path: str, reader: Reader, *, expected: tuple[str, ...]) -> Entry | None:
        """The entry a Reference (at ``path``) points to; a problem when it is not in the Bundle."""
        if not isinstance(reference, dict):
            if reference is not None:
                reader.add(path, "must be a Reference object")
            return None
        target = reader.string(reference, "reference", path)
        if target is None:
            return None
        for entry in self.entries:
            if (
                entry.full_url == target
                or _local_name(entry) == target
                or (entry.full_url and entry.full_url.endswith("/" + target))
            ):
                if entry.type not in expected:
                    reader.add(f"{path}.reference", f"must point to a {' or '.join(expected)}, not a {entry.type}")
                    return None
                return entry
        reader.add(f"{path}.reference", "points to no resource in this Bundle (match an entry's fullUrl or Type/id)")
        return None


def _local_name(entry: Entry) -> str | None:
    rid = entry.resource.get("id")
    return f"{entry.type}/{rid}" if isinstance(rid, str) else None
