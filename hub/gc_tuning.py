"""The cyclic garbage collector set for a long-running hub process (``hub serve``, ``hub worker``).

CPython's collector makes a young-generation pass every 700 net allocations, and now and then a full pass over
every object it tracks. A hub process holds about 130,000 such objects from start-up alone (plugins, JSON Schemas,
the web framework), all alive for as long as the process: a full pass walks them all to free nothing. Under load
that came to 15-20% of the process's CPU in batch intake (docs/performance.md). ``settle`` is called once start-up
has built everything: it freezes what exists then (``gc.freeze``: those objects are never walked again; they are
alive anyway) and makes young passes rarer. Reference counting still frees everything that is not in a cycle at
once, and cycles are still collected, only in larger rounds; memory stays flat (``bench/soak.py``).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Net allocations between young-generation passes (CPython's default is 700)."""


def settle() -> None:
    """Collect once, freeze what start-up built, and make young-generation passes rarer."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


__all__ = ["YOUNG_THRESHOLD", "settle"]
