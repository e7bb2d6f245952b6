"""Reading FHIR JSON defensively: every accessor takes the element's FHIR path and records problems there.

Nothing here raises on odd input: a wrong type, a list where one value belongs
or a missing required element becomes a ``Problem`` whose location is the FHIR
element path (``Bundle.entry[2].resource.identifier[0].value``), and the
accessor returns None (or nothing to iterate). Problem sentences never quote the
value, because values may be personal data.

Elements no purpose of the hub needs are read inside ``reader.lenient(...)``:
what would be a problem there becomes a *warning* (same path, same sentence,
plus what the hub assumed), so the message is accepted and the sender told.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub import Problem

_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_DATE_TIME = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?"
    r"(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$"
)
_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2})?$")
_PARTIAL_DATE_TIME = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?)?)?$")


@dataclass
class Reader:
    """Collects problems (the input is refused) and warnings (it is accepted) while reading one FHIR document."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        """Record one problem at ``path``."""
        self.problems.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        """Record one warning at ``path``: something missing or not understood that the hub can do without."""
        self.warnings.append(Problem(path, message))

    @contextmanager
    def lenient(self, assumed: str) -> Iterator[None]:
        """Inside the block, each problem recorded becomes a warning that ends with ``assumed`` (what the hub did).

        A "required: ..." sentence reads "not given: ..." as a warning: the element is wanted, not needed.
        """
        start = len(self.problems)
        try:
            yield
        finally:
            demoted = self.problems[start:]
            del self.problems[start:]
            for problem in demoted:
                sentence = problem.message
                if sentence == "required: this element is missing":
                    sentence = "not given"
                elif sentence.startswith("required: "):
                    sentence = "not given: " + sentence.removeprefix("required: ")
                self.warnings.append(Problem(problem.location, f"{sentence}; {assumed}"))

    def one(self, node: Any, key: str, path: str, *, required: bool = False) -> Any:
        """The single value of ``node[key]`` (None when absent or wrong); ``path`` is the node's path."""
        if not isinstance(node, dict):
            return None
        value = node.get(key)
        where = f"{path}.{key}"
        if value is None:
            if required:
                self.add(where, "required: this element is missing")
            return None
        if isinstance(value, list):
            self.add(where, "must be a single value, not an array")
            return None
        return value

    def many(self, node: Any, key: str, path: str, *, required: bool = False) -> Iterator[tuple[Any, str]]:
        """Each item of the array ``node[key]`` with its path; records a problem when it is not an array."""
        if not isinstance(node, dict):
            return
        value = node.get(key)
        where = f"{path}.{key}"
        if value is None:
            if required:
                self.add(where, "required: this element is missing")
            return
        if not isinstance(value, list):
            self.add(where, "must be an array (FHIR JSON writes repeating elements as arrays)")
            return
        if required and not value:
            self.add(where, "required: at least one item is needed")
        for index, item in enumerate(value):
            yield item, f"{where}[{index}]"

    def obj(self, node: Any, key: str, path: str, *, required: bool = False) -> dict[str, Any] | None:
        """``node[key]`` when it is a JSON object."""
        value = self.one(node, key, path, required=required)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.add(f"{path}.{key}", "must be an object")
            return None
        return value

    def string(self, node: Any, key: str, path: str, *, required: bool = False, max_length: int = 0) -> str | None:
        """``node[key]`` as a non-blank string (FHIR strings may not be empty)."""
        value = self.one(node, key, path, required=required)
        if value is None:
            return None
        where = f"{path}.{key}"
        if not isinstance(value, str):
            self.add(where, "must be a string")
            return None
        if not value.strip():
            self.add(where, "must not be empty or blank")
            return None
        if max_length and len(value) > max_length:
            self.add(where, f"is too long for the hub (at most {max_length} characters)")
            return None
        return value.strip()

    def boolean(self, node: Any, key: str, path: str, *, required: bool = False) -> bool | None:
        """``node[key]`` as a JSON boolean."""
        value = self.one(node, key, path, required=required)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.add(f"{path}.{key}", "must be a boolean (true or false)")
            return None
        return value

    def strings(self, node: Any, key: str, path: str) -> list[str]:
        """The non-blank strings of the array ``node[key]``."""
        out = []
        for item, where in self.many(node, key, path):
            if not isinstance(item, str) or not item.strip():
                self.add(where, "must be a non-blank string")
            else:
                out.append(item.strip())
        return out

    def date(self, node: Any, key: str, path: str, *, required: bool = False) -> str | None:
        """``node[key]`` as a full date (YYYY-MM-DD); a date-time gives its date part as written."""
        value = self.string(node, key, path, required=required)
        if value is None:
            return None
        candidate = value[:10]
        if not (_DATE.match(candidate) and (len(value) == 10 or value[10] == "T")):
            if _PARTIAL_DATE.match(value):
                self.add(f"{path}.{key}", "must be a full date (YYYY-MM-DD): a year or month alone is not enough")
            else:
                self.add(f"{path}.{key}", "is not a FHIR date (YYYY-MM-DD)")
            return None
        try:
            datetime.strptime(candidate, "%Y-%m-%d")
        except ValueError:
            self.add(f"{path}.{key}", "is not a calendar date")
            return None
        return candidate

    def instant(self, node: Any, key: str, path: str, *, required: bool = False) -> str | None:
        """``node[key]`` as a date-time with seconds and a time-zone offset, returned in UTC with ``Z``."""
        value = self.string(node, key, path, required=required)
        if value is None:
            return None
        where = f"{path}.{key}"
        if not _DATE_TIME.match(value):
            if _PARTIAL_DATE_TIME.match(value):
                self.add(where, "must be a date-time with seconds and a time-zone offset (e.g. 2026-11-27T11:00:00Z "
                                "or +01:00): without an offset the hub cannot know when it is")  # fmt: skip
            else:
                self.add(where, "is not a FHIR dateTime (YYYY-MM-DDThh:mm:ss with Z or an offset such as +01:00)")
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.add(where, "is not a calendar date-time")
            return None
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    def extensions(self, node: Any, url: str, path: str) -> list[tuple[dict[str, Any], str]]:
        """The extensions of ``node`` with ``url``, each with its path."""
        found = []
        for item, where in self.many(node, "extension", path):
            if not isinstance(item, dict):
                self.add(where, "must be an object")
            elif item.get("url") == url:
                found.append((item, where))
        return found

    def extension(self, node: Any, url: str, path: str) -> tuple[dict[str, Any], str] | None:
        """The one extension of ``node`` with ``url`` (a second one is a problem)."""
        found = self.extensions(node, url, path)
        for _, where in found[1:]:
            self.add(where, "this extension may appear only once here")
        return found[0] if found else None

    def codings(self, concept: Any, path: str) -> list[tuple[str | None, str | None, str]]:
        """``(system, code, path)`` for each coding of a CodeableConcept."""
        out = []
        for coding, where in self.many(concept, "coding", path):
            if not isinstance(coding, dict):
                self.add(where, "must be an object")
                continue
            out.append((self.string(coding, "system", where), self.string(coding, "code", where), where))
        return out
