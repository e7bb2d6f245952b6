"""Dead letters: deliveries that ran out of retries, and inbound transmissions refused whole."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.store.ports import Store


@dataclass
class DeadLetters:
    """What needs an operator's attention.

    ``dead_deliveries``: each dead delivery with ``delivery_id``, ``message``,
    ``type``, ``partner``, ``attempts`` and ``last_error``; it can be replayed.
    ``refused_transmissions``: newest first, each transmission a listener refused
    and let go of (``at``, ``listener``, ``reference``, ``from``, ``status``,
    ``error``, ``reason``, ``problems`` and the listener's own codes); nothing of it
    was stored, so it cannot be replayed: the sender must fix and resend it.
    """

    dead_deliveries: list[dict[str, Any]]
    refused_transmissions: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form ``hub dlq list --json`` prints."""
        return {"dead_deliveries": self.dead_deliveries, "refused_transmissions": self.refused_transmissions}


def dead_letters(store: Store, limit: int = 100) -> DeadLetters:
    """Up to ``limit`` dead deliveries and up to ``limit`` refused transmissions. Reads only."""
    return DeadLetters(store.dead_letters(limit), store.refused_transmissions(limit))
