"""Operator operations, shared by the CLI, the HTTP API and the coming dashboard.

Each module is one operation (or a few close ones) written as plain, blocking
functions over the store and the other parts of a hub. They never run SQL of
their own and never print: they return records, and a face (``hub.cli``,
``hub.api``) turns those into text, JSON or HTTP. Async callers run them off
the event loop (``asyncio.to_thread``).

- ``messages``: list, view (the body read audited), find by NHS number (audited)
- ``dead_letters``: dead deliveries and refused transmissions
- ``replay``: put dead deliveries back in the queue and tell observers
- ``partner_stats``: how fast partners acknowledge and answer
- ``retention``: crypto-shred what is kept too long
- ``keys``: the key ring's list, rotation, re-wrapping and retirement
- ``audit``: verify the hash-chained audit log
- ``tokens``: issue partner tokens and write their digests
- ``hub_data``: the read-only view of the hub's data that plugins receive

An operation that cannot be done as asked raises ``OperationRefused`` with a
sentence that says what and what to do (``hub.services.errors``).
"""

from hub.services.errors import OperationRefused

__all__ = ["OperationRefused"]
