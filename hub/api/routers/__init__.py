"""The hub's HTTP routes, one router per concern; ``create_app`` includes them all."""
