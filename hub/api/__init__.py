"""The HTTP API (``/v1``), served by ``hub serve``."""

from hub.api.app import create_app

__all__ = ["create_app"]
