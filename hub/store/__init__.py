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
    """Open the store the settings name (only SQLite for now), migrated and ready."""
    from hub.bodies import CodecRegistry, PlainCodec
    from hub.store.sqlite import SQLiteStore

    return SQLiteStore(settings.store_path, codecs or CodecRegistry(PlainCodec()))
