"""The store interface, as imported before it was split: the records and the ``Store`` union.

New code imports the records from ``hub.store.records`` and the ports from ``hub.store.ports``.
"""

from hub.store.ports import AuditLog, DeliveryQueue, KeyMaintenance, Lifecycle, ReadModel, Store
from hub.store.records import (
    DELIVERY_STATES,
    FINAL_DELIVERY_STATES,
    AcceptResult,
    DeliveryJob,
    DeliveryState,
    Intake,
    NewDelivery,
    NewMessage,
    Outcome,
    ReplyTarget,
)

__all__ = [
    "DELIVERY_STATES",
    "FINAL_DELIVERY_STATES",
    "AcceptResult",
    "AuditLog",
    "DeliveryJob",
    "DeliveryQueue",
    "DeliveryState",
    "Intake",
    "KeyMaintenance",
    "Lifecycle",
    "NewDelivery",
    "NewMessage",
    "Outcome",
    "ReadModel",
    "ReplyTarget",
    "Store",
]
