"""Fuzzing a parser with hypothesis: only the hub's own errors, and bounded time and memory for each input.

``fuzz(read, seeds)`` feeds ``read`` (one parser call on one ``bytes`` input) with generated inputs: arbitrary
bytes, and the ``seeds`` (valid inputs in the parser's format) damaged by a few edits each (a slice cut,
replaced, repeated or overwritten with bytes that mean something in many formats: quotes, brackets, angle
brackets, entities, separators, huge numbers). Each call must return, or raise one of ``allowed`` (by default
``HubError``: the refusal the hub turns into a 4xx problem); anything else fails the test with the input that
raised it (hypothesis shrinks it first). Each call is bounded:

- time: the hypothesis ``deadline`` (``DEADLINE``) per input;
- memory: the peak of Python allocations while the call runs, traced with ``tracemalloc``, at most
  ``PEAK_MEMORY_BYTES`` (allocations made by C libraries outside Python's allocator, such as libxml2's, are
  not traced: the hub's XML parser sets libxml2's own limits, hub.safe_xml);
- size: inputs are at most ``MAX_INPUT_BYTES`` (an edit that repeats a slice stops there).

The number of inputs is ``examples`` (default ``DEFAULT_EXAMPLES``); the environment variable
``HUB_FUZZ_PARSER_EXAMPLES`` overrides it for a long run (``make fuzz``), which also draws new inputs each
run, where the default run draws the same ones every time (``derandomize``), so a test run is reproducible.
Needs hypothesis (the hub's ``test`` extra).
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.plugin_api.problems import HubError

EXAMPLES_ENV = "HUB_FUZZ_PARSER_EXAMPLES"
DEFAULT_EXAMPLES = 150
MAX_INPUT_BYTES = 256 * 1024
PEAK_MEMORY_BYTES = 64 * 1024 * 1024
DEADLINE = timedelta(seconds=5)

# bytes that mean something in JSON, XML, HL7 v2, MLLP, forms, JOSE and URLs
TOKENS: tuple[bytes, ...] = (
    b'"', b"\\", b"{", b"}", b"[", b"]", b":", b",", b"null", b"true", b"1e999999", b"-0", b"99999999999999999999",
    b"\\u0000", b"\\ud800", b"<", b">", b"</", b"/>", b"<!DOCTYPE a [<!ENTITY e \"x\">]>", b"&e;", b"&amp;", b"&#0;",
    b"<![CDATA[", b"]]>", b"<?xml version=\"1.0\"?>", b"xmlns=\"\"", b"|", b"^", b"~", b"&", b"\r", b"\n", b"\x0b",
    b"\x1c", b"\x1c\r", b"MSH|^~\\&|", b"\x00", b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xef\xbb\xbf", b".", b"=",
    b"%", b"%zz", b"+", b"eyJ", b"==",
)  # fmt: skip


def _edit(body: bytes, kind: int, start: int, length: int, insert: bytes, times: int) -> bytes:
    start = start % (len(body) + 1)
    end = min(len(body), start + length)
    if kind == 0:  # cut a slice out
        return body[:start] + body[end:]
    if kind == 1:  # replace a slice
        return body[:start] + insert + body[end:]
    if kind == 2:  # insert
        return body[:start] + insert + body[start:]
    if kind == 3:  # repeat a slice, up to the size cap
        piece = body[start:end] or insert
        room = max(0, MAX_INPUT_BYTES - len(body)) // max(1, len(piece))
        return body[:end] + piece * min(times, room) + body[end:]
    return body[:start]  # truncate


def damaged(seeds: Sequence[bytes], tokens: Sequence[bytes] = TOKENS) -> st.SearchStrategy[bytes]:
    """One of ``seeds`` after one to four edits (cut, replace, insert, repeat, truncate)."""
    inserts = st.one_of(st.sampled_from(list(tokens)), st.binary(max_size=16),
                        st.text(max_size=8).map(lambda t: t.encode("utf-8", "surrogatepass")))  # fmt: skip
    edit = st.tuples(st.integers(0, 4), st.integers(0, 1 << 20), st.integers(0, 64), inserts, st.integers(1, 5000))

    def apply(seed: bytes, edits: list[tuple[int, int, int, bytes, int]]) -> bytes:
        for kind, start, length, insert, times in edits:
            seed = _edit(seed, kind, start, length, insert, times)
        return seed[:MAX_INPUT_BYTES]

    return st.builds(apply, st.sampled_from(list(seeds)), st.lists(edit, min_size=1, max_size=4))


def inputs(seeds: Sequence[bytes] = (), tokens: Sequence[bytes] = TOKENS) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, runs of ``tokens``, and (given ``seeds``) damaged seeds, the last most often."""
    noise = st.one_of(st.binary(max_size=2048), st.lists(st.sampled_from(list(tokens)), max_size=200).map(b"".join))
    return st.one_of(noise, *([damaged(seeds, tokens)] * 3 if seeds else []))


def fuzz_settings(examples: int | None = None) -> settings:
    """The hypothesis settings of a fuzz run (see the module's docstring)."""
    override = os.environ.get(EXAMPLES_ENV)
    return settings(
        max_examples=int(override) if override else (examples or DEFAULT_EXAMPLES),
        deadline=DEADLINE,
        derandomize=not override,
        database=None if not override else settings().database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


def bounded(read: Callable[[bytes], object], data: bytes, allowed: tuple[type[BaseException], ...]) -> None:
    """Call ``read(data)``; let through only ``allowed`` errors; fail if Python allocations peaked too high."""
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        read(data)
    except allowed:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1] - base
        if not already:
            tracemalloc.stop()
    assert peak <= PEAK_MEMORY_BYTES, f"{peak:,} bytes at peak for a {len(data):,}-byte input"


def fuzz(
    read: Callable[[bytes], object],
    seeds: Sequence[bytes] = (),
    *,
    allowed: tuple[type[BaseException], ...] = (HubError,),
    examples: int | None = None,
    tokens: Sequence[bytes] = TOKENS,
) -> None:
    """Run ``read`` on generated inputs (``inputs(seeds)``), each bounded (``bounded``); fail on the first that
    raises something not ``allowed`` or goes over a bound, shrunk to a small input."""

    @fuzz_settings(examples)
    @given(inputs(seeds, tokens))
    def one(data: bytes) -> None:
        bounded(read, data, allowed)

    one()


__all__ = ["DEADLINE", "MAX_INPUT_BYTES", "PEAK_MEMORY_BYTES", "bounded", "damaged", "fuzz", "fuzz_settings", "inputs"]
