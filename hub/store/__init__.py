"""Durable storage of messages, deliveries and their timelines.

``open_store(url)`` opens the backend the URL's scheme names (``hub.store.url``);
the ports it implements are in ``hub.store.ports``, the records it keeps in
``hub.store.records``, the shaping every backend shares in ``hub.store.views``
and ``hub.store.audit_chain``.
"""

from __future__ import annotations

import importlib

from hub.bodies import CodecRegistry
from hub.store.index_rebuild import IndexRebuild
from hub.store.ports import (
    AuditLog,
    DeliveryQueue,
    IndexRebuilding,
    KeyMaintenance,
    Lifecycle,
    ReadModel,
    Store,
    StoreOptions,
)
from hub.store.records import (
    AcceptResult,
    DeliveryJob,
    DeliveryState,
    Intake,
    NewDelivery,
    NewMessage,
    Outcome,
    ReplyTarget,
)
from hub.store.url import BACKENDS, SETTING, scheme_of

__all__ = [
    "AcceptResult",
    "AuditLog",
    "DeliveryJob",
    "DeliveryQueue",
    "DeliveryState",
    "IndexRebuild",
    "IndexRebuilding",
    "Intake",
    "KeyMaintenance",
    "Lifecycle",
    "NewDelivery",
    "NewMessage",
    "Outcome",
    "ReadModel",
    "ReplyTarget",
    "Store",
    "StoreOptions",
    "open_store",
]


def open_store(
    url: str, codecs: CodecRegistry | None = None, *, setting: str = SETTING, options: StoreOptions | None = None
) -> Store:
    """Open the store ``url`` names (``Settings.store_url``), migrated and ready.

    The scheme picks the backend (``sqlite:///path`` now); an unknown one is a
    ``ConfigError`` naming ``setting``. Without ``codecs`` the store can do
    everything but read or write a body (which needs the keys): maintenance
    commands open it that way. ``options`` size a backend's connection pool.
    """
    from hub.bodies import NoKeysCodec

    module, _, function = BACKENDS[scheme_of(url, setting)].partition(":")
    opener = getattr(importlib.import_module(module), function)
    store: Store = opener(url, codecs or CodecRegistry(NoKeysCodec()), options or StoreOptions())
    return store
