"""Durable storage of messages, deliveries and their timelines."""

from hub.store.base import (
    AcceptResult,
    DeliveryJob,
    Intake,
    NewDelivery,
    NewMessage,
    Outcome,
    ReplyTarget,
    Store,
)

__all__ = [
    "AcceptResult",
    "DeliveryJob",
    "Intake",
    "NewDelivery",
    "NewMessage",
    "Outcome",
    "ReplyTarget",
    "Store",
    "open_store",
]


def open_store(settings, codecs=None):  # type: ignore[no-untyped-def]
    """Open the store the settings name (only SQLite for now), migrated and ready.

    Without ``codecs`` the store can do everything but read or write a body
    (which needs the keys): maintenance commands open it that way.
    """
    from hub.bodies import CodecRegistry, NoKeysCodec
    from hub.store.sqlite import SQLiteStore

    return SQLiteStore(settings.store_path, codecs or CodecRegistry(NoKeysCodec()))
