"""One strict JSON reader for every JSON body the hub takes in (canonical, FHIR, envelopes).

``parse_json_strict(data)`` returns the document or raises ``UnparseableInput``
whose problems say where: a ``byte N`` offset for text that is not UTF-8, a
``line L, column C`` for a syntax error, a JSON path (``$.payload.person``)
for everything found after parsing. It refuses, so that no two readers of one
body can ever see two different documents:

- bytes that are not UTF-8 (JSON is UTF-8, RFC 8259 section 8.1), and a byte order mark;
- an object that repeats a member name (parsers disagree on which value wins);
- ``NaN``, ``Infinity`` and numbers too large to keep exactly (integers beyond
  64 bits) or at all (floats that overflow to infinity);
- escaped lone surrogates (``"\\ud800"``), which no UTF-8 encoder can write back;
- nesting deeper than ``max_depth``.

Member names are shown in a path only when they look like a schema's member
names; any other name is shown by its position, so the reply never echoes text
the sender made up.

Speed: most bodies are plain. ``_plain_document`` reads them with orjson and
scans the text once for anything above orjson does not refuse by itself (a
repeated name, nesting past ``max_depth``, an integer too large); only a body
that fails orjson or that scan is read again by the full reader, which decides
and words the error. Both readers give the same document for a plain body.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from hub.plugin_api.problems import Problem, UnparseableInput

DEFAULT_MAX_DEPTH = 32
MAX_PROBLEMS = 20
_INT_RANGE = (-(2**63), 2**64 - 1)  # what the hub's JSON writer (orjson) can write back
_SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


# 19 digits in a row may be an integer beyond 64 bits, which orjson would read as a float: found by
# writing every digit as 0 and looking for 19 zeros (a byte search, far cheaper than a regular expression)
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def _plain_document(data: bytes, max_depth: int) -> Any:
    """The document when orjson reads ``data`` and nothing in it is refused; ``_NOT_PLAIN`` when in any doubt.

    orjson refuses invalid UTF-8, a byte order mark, NaN and Infinity, numbers that overflow and
    escaped lone surrogates by itself. The rest is checked without a walk over every value:

    - a repeated name: orjson keeps the last, so the document written back has fewer ``:`` than
      the text (every member has one; a ``:`` inside a string is written as it came, unless the
      text escaped it as ``\\u003a``, which is sent to the full reader);
    - depth: there can be no more levels than ``{`` and ``[`` in the whole text; only a text with
      ``max_depth`` or more of them has its containers walked;
    - a run of 19 digits anywhere may be an integer orjson turned into a float.
    """
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _NOT_PLAIN
    if b"\\u003" in data or _LONG_DIGITS in data.translate(_DIGITS_AS_ZERO):
        return _NOT_PLAIN
    if data.count(b":") != orjson.dumps(document).count(b":"):
        return _NOT_PLAIN  # a repeated member name: the full reader says where
    # containers nested at most max_depth - 1 deep: every value, the innermost scalars too, within max_depth
    if data.count(b"{") + data.count(b"[") >= max_depth and _nesting(document) >= max_depth:
        return _NOT_PLAIN
    return document


def _nesting(document: Any) -> int:
    """How many containers deep ``document`` goes (a scalar: 0)."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


_NOT_PLAIN = object()


class _Refused:
    """Stands in the parsed tree for a value the hub refuses; the walk reports it with its path."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _RepeatedNames(dict[str, Any]):
    """An object that repeated a member name; ``positions`` are the repeats' member positions (0-based)."""

    positions: list[tuple[int, str]]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    repeats: list[tuple[int, str]] = []
    for position, (name, value) in enumerate(pairs):
        if name in out:
            repeats.append((position, name))
        out[name] = value
    if not repeats:
        return out
    flagged = _RepeatedNames(out)
    flagged.positions = repeats
    return flagged


def _integer(text: str) -> Any:
    if len(text) > 21:  # longer than any 64-bit integer: do not even convert it
        return _Refused("is an integer too large for the hub to keep exactly (at most 64 bits)")
    value = int(text)
    if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        return _Refused("is an integer too large for the hub to keep exactly (at most 64 bits)")
    return value


def _float(text: str) -> Any:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        return _Refused("is a number too large to represent")
    return value


def _constant(name: str) -> Any:
    return _Refused("is NaN or Infinity, which JSON does not have")


def _step(path: str, name: str | int, position: int = 0) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    if _PLAIN_NAME.match(name):
        return f"{path}.{name}"
    return f"{path}.<member {position + 1}>"


def _walk(document: Any, max_depth: int) -> list[Problem]:
    """Every refused value, repeated name, lone surrogate and over-deep nesting, in document order."""
    problems: list[Problem] = []
    too_deep = False
    stack: list[tuple[Any, str, int]] = [(document, "$", 1)]
    while stack and len(problems) < MAX_PROBLEMS:
        value, path, depth = stack.pop()
        if depth > max_depth:
            if not too_deep:  # once is enough: every deeper value would say the same
                too_deep = True
                problems.append(Problem(path, f"nests more than {max_depth} levels deep"))
            continue
        if isinstance(value, _Refused):
            problems.append(Problem(path, value.reason))
        elif isinstance(value, str):
            if _SURROGATE.search(value):
                problems.append(Problem(path, "holds an escaped lone surrogate (\\ud800-\\udfff), which is not text"))
        elif isinstance(value, dict):
            if isinstance(value, _RepeatedNames):
                problems.extend(
                    Problem(_step(path, name, position), "repeats a member name of this object: send each name once")
                    for position, name in value.positions
                )
            children = []
            for position, (name, child) in enumerate(value.items()):
                child_path = _step(path, name, position)
                if _SURROGATE.search(name):
                    problems.append(Problem(child_path, "the member name contains an escaped lone surrogate"))
                children.append((child, child_path, depth + 1))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(child, f"{path}[{n}]", depth + 1) for n, child in enumerate(value)]))
    return problems


def parse_json_strict(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """The JSON document in ``data``; raise ``UnparseableInput`` saying what is wrong and where.

    ``data`` given as bytes must be UTF-8. Contract: nothing but ``UnparseableInput``
    is raised, whatever ``data`` holds.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        document = _plain_document(bytes(data), max_depth)
        if document is not _NOT_PLAIN:
            return document
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnparseableInput(
                "The body is not valid UTF-8, which JSON must be.",
                [Problem(f"byte {exc.start}", "is not part of a valid UTF-8 sequence; send the text encoded as UTF-8")],
            ) from None
    else:
        text = data
    try:
        document = json.loads(
            text, object_pairs_hook=_object, parse_int=_integer, parse_float=_float, parse_constant=_constant
        )
    except json.JSONDecodeError as exc:
        raise UnparseableInput(
            "The body is not valid JSON.", [Problem(f"line {exc.lineno}, column {exc.colno}", exc.msg)]
        ) from None
    except RecursionError:
        raise UnparseableInput(
            "The body nests deeper than the hub accepts.", [Problem("$", f"more than {max_depth} levels of nesting")]
        ) from None
    except (ValueError, TypeError):  # e.g. a number the converters reject outright
        raise UnparseableInput(
            "The body is not valid JSON.", [Problem("$", "holds a value JSON cannot carry")]
        ) from None
    problems = _walk(document, max_depth)
    if problems:
        deep = all(p.message.startswith("nests more than") for p in problems)
        title = "The body nests deeper than the hub accepts." if deep else "The body is JSON the hub does not accept."
        raise UnparseableInput(title, problems)
    return document
