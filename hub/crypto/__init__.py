"""Protection of what the hub stores: the key ring, body encryption at rest, and the blind index."""
