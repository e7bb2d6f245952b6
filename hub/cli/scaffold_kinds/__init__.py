"""What ``hub adapter new NAME --kind KIND`` writes for each kind: the plugin module, its tests, and a README section.

Each kind is a ``Kind``: the hook it implements, the plugin module's text and the tests' text, with ``{name}``
(the registered name), ``{package}`` (the Python package) and ``{cls}`` (a class-name stem) filled in by
``str.format`` (so literal braces in the templates are doubled). The tests use the hub's pytest plugin
(``hub_world_factory``, ``partner_simulator``) and its conformance suite (``hub.testing.conformance``), and
need nothing but the hub itself: what they exchange is registered by a test-only plugin the package's tests carry
(``VOCABULARY``: the ``ExampleMessage`` type and the ``example`` partner kind, installed on the tests' path as a
distribution with an entry point, so in-process and ``hub serve`` hubs load it like any plugin), between the
partners ``example-sender`` and ``example-receiver``.
"""

from __future__ import annotations

from hub.cli.scaffold_kinds.adapter import ADAPTER
from hub.cli.scaffold_kinds.destination import DESTINATION
from hub.cli.scaffold_kinds.kind import Kind
from hub.cli.scaffold_kinds.listener import LISTENER
from hub.cli.scaffold_kinds.transform import TRANSFORM
from hub.cli.scaffold_kinds.transport import TRANSPORT
from hub.cli.scaffold_kinds.vocabulary import SAMPLES, VOCABULARY_ENTRY_POINTS, VOCABULARY_METADATA, VOCABULARY_MODULE

KINDS: dict[str, Kind] = {k.name: k for k in (ADAPTER, TRANSPORT, TRANSFORM, LISTENER, DESTINATION)}
"""Every kind ``hub adapter new`` writes, by ``--kind``."""

__all__ = ["KINDS", "SAMPLES", "VOCABULARY_ENTRY_POINTS", "VOCABULARY_METADATA", "VOCABULARY_MODULE", "Kind"]
