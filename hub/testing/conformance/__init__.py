"""The conformance suite: what every adapter and every transport must do, as test classes a plugin inherits.

One line in a plugin's tests runs it (the class's tests are collected under the subclass's name)::

    from hub.testing.conformance import AdapterConformance, DeliveryConformance, TransportConformance

    class TestMyAdapter(AdapterConformance):
        adapter_name = "my-format"
        def render_samples(self): return [my_canonical_message()]
        def parse_samples(self): return [(MY_BODY, "application/x-my-format")]

- ``AdapterConformance`` (no hub process): what it renders it parses back (``round_trip_fields``); garbage
  (empty, truncated, bit-flipped, random, deeply nested bodies) is refused with the hub's error type
  (``HubError``: ``UnparseableInput`` or ``InvalidMessage``), never another exception; no submitted value is
  echoed in an error (every run of digits of a valid body is replaced by a marker, and every string of a
  rendered message, and the errors must not carry the marker).
- ``TransportConformance`` (no hub process): against a partner end (``HttpEnd`` by default, a
  ``PartnerSimulator``; a transport that speaks something else gives its own ``end`` fixture): a delivery is
  ok with the partner's receipt; the same message sent twice carries the same idempotency key; a partner's
  passing failures (5xx, 408, 429, down) are retryable and its refusals (other 4xx) final, and neither
  raises; no rendered content is echoed in the outcome's error.
- ``DeliveryConformance`` (a real hub, ``build_world``): a message routed to a partner speaking the adapter is
  delivered sealed to a sealing partner (and opens to what the adapter renders), with the message id as
  ``Idempotency-Key``; a 503 is retried and then delivered, a 400 is final (dead-lettered, never retried); the
  partner's receipt is recorded on the delivery, and a synchronous reply (a decision in the answer) is recorded
  as the delivery's state with its reference.

Each class reads only what the subclass sets or overrides; see each class's docstring. One module per kind:
``adapters``, ``transports`` (with its partner ends), ``delivery`` (through a running hub), and ``inputs`` (the
marker, the garbage and marked inputs the classes share); import them from here.
"""

from __future__ import annotations

from hub.testing.conformance.adapters import AdapterConformance
from hub.testing.conformance.delivery import ConformanceWorld, DeliveryConformance
from hub.testing.conformance.inputs import MARKER, conformance_partner, garbage_bodies, marked_bodies, marked_message
from hub.testing.conformance.transports import Delivered, HttpEnd, TransportConformance

__all__ = [
    "MARKER",
    "AdapterConformance",
    "ConformanceWorld",
    "Delivered",
    "DeliveryConformance",
    "HttpEnd",
    "TransportConformance",
    "conformance_partner",
    "garbage_bodies",
    "marked_bodies",
    "marked_message",
]
