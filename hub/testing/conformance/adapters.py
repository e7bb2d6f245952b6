"""``AdapterConformance``: what every adapter must do, without a hub process (round trip, garbage and fuzzed bodies
refused with the hub's error type and never a crash, no submitted value echoed in an error)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from hub.plugin_api.problems import HubError
from hub.plugin_api.records import Adapter, Parsed, Rendered, RenderError
from hub.testing.conformance.inputs import (
    MARKER,
    around_marker,
    conformance_partner,
    error_text,
    field_at,
    garbage_bodies,
    loaded_plugins,
    marked_bodies,
    marked_message,
)


class AdapterConformance:
    """Tests every adapter must pass; subclass it as ``TestSomething`` and set what it needs.

    - ``adapter_name``: the registered name of the adapter under test (it is loaded as the hub loads it,
      through the installed entry points);
    - ``render_samples()``: canonical messages it renders (at least one);
    - ``parse_samples()``: bodies in its format with their media type, each one it parses (needed when
      ``content_types`` is not empty);
    - ``round_trip_types``: the message types it both renders and parses (None: every type of
      ``render_samples``; an empty tuple: it parses none of what it renders, and the round trip is skipped
      saying so); ``round_trip_fields``: the dotted paths that must come back equal;
    - ``partner_options``: the ``receive.options`` a partner speaking the adapter would have.
    """

    adapter_name: ClassVar[str] = ""
    round_trip_types: ClassVar[tuple[str, ...] | None] = None
    round_trip_fields: ClassVar[tuple[str, ...]] = ("type", "payload")
    partner_options: ClassVar[dict[str, Any]] = {}
    sender_id: ClassVar[str] = "conformance-sender"

    def render_samples(self) -> list[dict[str, Any]]:
        """Canonical messages the adapter renders."""
        raise NotImplementedError(f"{type(self).__name__}: return the canonical messages the adapter renders")

    def parse_samples(self) -> list[tuple[bytes, str]]:
        """``(body, content_type)`` pairs the adapter parses."""
        return []

    @pytest.fixture(scope="class")
    @classmethod
    def adapter(cls) -> Adapter:
        """The adapter as the hub loads it (through the installed entry points)."""
        adapters = loaded_plugins().adapters
        if cls.adapter_name not in adapters:
            pytest.fail(f"no loaded plugin registers an adapter {cls.adapter_name!r} (loaded: "
                        f"{', '.join(sorted(adapters))}); is the plugin installed (pip install -e .)?")  # fmt: skip
        found: Adapter = adapters[cls.adapter_name]
        return found

    def _parse(self, adapter: Adapter, body: bytes, content_type: str) -> list[dict[str, Any]]:
        result = adapter.parse(body, content_type=content_type, sender_id=self.sender_id)
        assert isinstance(result, Sequence) and not isinstance(result, (str, bytes)), (
            f"parse returned a {type(result).__name__}, not a list of messages"
        )
        messages = []
        for item in result:
            message = item.message if isinstance(item, Parsed) else item
            assert isinstance(message, dict), f"parse gave a {type(item).__name__}, not a dict or Parsed"
            messages.append(message)
        return messages

    def test_it_renders_every_sample_as_bytes_with_a_media_type(self, adapter: Adapter) -> None:
        samples = self.render_samples()
        assert samples, "render_samples() must give at least one canonical message"
        for message in samples:
            rendered = adapter.render(message, partner=conformance_partner(self.adapter_name, **self.partner_options))
            assert isinstance(rendered, Rendered) and isinstance(rendered.body, bytes) and rendered.body
            assert re.fullmatch(r"[a-z]+/[A-Za-z0-9.+-]+", rendered.content_type.split(";")[0].strip())

    def test_it_parses_every_sample(self, adapter: Adapter) -> None:
        if not adapter.content_types:
            pytest.skip(f"{self.adapter_name} is render-only (no content_types)")
        samples = self.parse_samples()
        assert samples, "parse_samples() must give at least one body the adapter parses"
        for body, content_type in samples:
            assert content_type in adapter.content_types, f"{content_type} is not in the adapter's content_types"
            assert self._parse(adapter, body, content_type), "parse gave no message"

    def test_what_it_renders_it_parses_back(self, adapter: Adapter) -> None:
        if not adapter.content_types:
            pytest.skip(f"{self.adapter_name} is render-only (no content_types)")
        if self.round_trip_types == ():
            pytest.skip(f"{self.adapter_name} parses none of the types it renders (round_trip_types = ())")
        checked = 0
        for message in self.render_samples():
            if self.round_trip_types is not None and message.get("type") not in self.round_trip_types:
                continue
            rendered = adapter.render(message, partner=conformance_partner(self.adapter_name, **self.partner_options))
            media_type = rendered.content_type.split(";")[0].strip()
            assert media_type in adapter.content_types, f"it renders {media_type}, which it does not parse"
            (back,) = self._parse(adapter, rendered.body, media_type)
            for path in self.round_trip_fields:
                assert field_at(back, path) == field_at(message, path), f"{path} changed in the round trip"
            checked += 1
        assert checked, "no render sample is of a round-trip type"

    def test_garbage_is_refused_with_the_hubs_error_and_never_a_crash(self, adapter: Adapter) -> None:
        if not adapter.content_types:
            pytest.skip(f"{self.adapter_name} is render-only (no content_types)")
        valid = [body for body, _ in self.parse_samples()]
        crashes = []
        for content_type in adapter.content_types:
            for label, body in garbage_bodies(valid):
                try:
                    self._parse(adapter, body, content_type)
                except HubError as exc:
                    assert 400 <= exc.status < 500, f"{label}: a {type(exc).__name__} ({exc.status}) for bad input"
                except RecursionError:
                    crashes.append(f"{label} as {content_type}: RecursionError")
                except Exception as exc:
                    crashes.append(f"{label} as {content_type}: {type(exc).__name__}: {exc}"[:300])
        assert not crashes, "bad bodies must raise UnparseableInput or InvalidMessage:\n" + "\n".join(crashes)

    def test_fuzzed_bodies_get_only_the_hubs_refusals_in_bounded_time_and_memory(self, adapter: Adapter) -> None:
        """Generated bodies (arbitrary bytes, and the samples damaged by a few edits each) are parsed or refused
        with a 4xx ``HubError``, each within the bounds of ``hub.testing.fuzzing`` (needs hypothesis)."""
        if not adapter.content_types:
            pytest.skip(f"{self.adapter_name} is render-only (no content_types)")
        pytest.importorskip("hypothesis", reason="the fuzz test needs hypothesis (pip install hypothesis)")
        from hub.testing.fuzzing import fuzz

        seeds = [body for body, _ in self.parse_samples()]
        for content_type in adapter.content_types:

            def read(body: bytes, content_type: str = content_type) -> None:
                try:
                    self._parse(adapter, body, content_type)
                except HubError as exc:
                    assert 400 <= exc.status < 500, f"a {type(exc).__name__} ({exc.status}) for bad input"
                    raise

            fuzz(read, seeds)

    def test_no_submitted_value_is_echoed_in_an_error(self, adapter: Adapter) -> None:
        """Marked inputs (the samples with their numbers, or a message's payload strings, replaced by ``MARKER``)
        are refused without the marker in the error; at least one must be refused, or nothing was checked."""
        echoes = []
        refused = 0
        if adapter.content_types:
            samples = self.parse_samples()
            for label, body in marked_bodies([b for b, _ in samples]):
                content_type = samples[int(label.split()[1].rstrip(","))][1]
                try:
                    self._parse(adapter, body, content_type)
                except HubError as exc:
                    refused += 1
                    if MARKER in error_text(exc):
                        echoes.append(f"{label}: ...{around_marker(error_text(exc))}...")
        for message in self.render_samples():
            marked = marked_message(message)
            try:
                rendered = adapter.render(marked, partner=conformance_partner(self.adapter_name,
                                                                              **self.partner_options))  # fmt: skip
            except (RenderError, HubError, ValueError) as exc:
                refused += 1
                if MARKER in error_text(exc):
                    echoes.append(f"render of a marked {message.get('type')}: ...{around_marker(error_text(exc))}...")
                continue
            media_type = rendered.content_type.split(";")[0].strip()
            if media_type in adapter.content_types:
                try:
                    self._parse(adapter, rendered.body, media_type)
                except HubError as exc:
                    refused += 1
                    if MARKER in error_text(exc):
                        echoes.append(
                            f"parse of a marked {message.get('type')}: ...{around_marker(error_text(exc))}..."
                        )
        nothing = ("no marked input was refused, so no error was checked: give parse samples with numbers (dates, "
                   "ids, codes) the adapter checks, or render samples it refuses when marked")  # fmt: skip
        if not refused and not adapter.content_types:  # render-only, and it renders whatever it is given
            pytest.skip("render-only adapter (no content_types) that refused no marked message: no error to check")
        assert refused, nothing
        assert not echoes, "errors must name places and rules, never values:\n" + "\n".join(echoes)
