"""What recording metrics costs on the hot path: the calls one delivered message makes, timed in a loop.

Per message the hub makes one ``inc`` at intake (``hub_messages_accepted_total``), and one ``inc``
(``hub_deliveries_total``) and one ``observe`` (``hub_submit_to_delivery_seconds``) when the delivery is recorded.
This times those three calls ``--n`` times with:

- ``multiprocess``: ``hub.metrics`` as the hub runs it (prometheus-client, values in mmapped files);
- ``in-memory``: the same prometheus-client metrics with in-memory values (what it does without a metrics directory),
  to separate the file writes from the library's own work;
- ``old``: with ``--old FILE``, the hand-written ``Metrics`` the hub had before (``git show ce3659b:hub/metrics.py``).

It prints nanoseconds per message (the three calls) for each, medians of ``--repeat`` interleaved runs, and what
that is in one core's share at 1,000 and 3,000 messages/s. It asserts nothing.

    python bench/metrics_cost.py --n 200000 --old /tmp/old_metrics.py
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PARTNERS = [f"council-{i}" for i in range(8)]


def per_message(metrics: Any, n: int, with_help: bool = False) -> float:
    """Seconds for ``n`` messages' worth of metric calls (``with_help`` for the old API's help= arguments)."""
    extra: dict[str, str] = {"help": "h"} if with_help else {}
    inc, observe = metrics.inc, metrics.observe
    started = time.perf_counter()
    for i in range(n):
        partner = PARTNERS[i & 7]
        inc("hub_messages_accepted_total", type="HousingRequest", **extra)
        inc("hub_deliveries_total", partner=partner, result="delivered", **extra)
        observe("hub_submit_to_delivery_seconds", 0.004, partner=partner, **extra)
    return time.perf_counter() - started


def load_old(path: Path) -> Any:
    """The old hand-written ``Metrics`` class, loaded from a copy of its module."""
    spec = importlib.util.spec_from_file_location("old_hub_metrics", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Metrics()


def main(argv: list[str] | None = None) -> int:
    """Time each variant and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="messages per run (default 100000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant; the median is shown (default 5)")
    parser.add_argument("--old", type=Path, help="a copy of the old hub/metrics.py, to time it too")
    args = parser.parse_args(argv)

    from prometheus_client import values

    from hub.metrics import Metrics, open_metrics
    from hub.metrics.recording import _Recorder

    variants: dict[str, Callable[[], float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        multiprocess = open_metrics(Path(scratch) / "metrics")
        variants["multiprocess"] = lambda: per_message(multiprocess, args.n)
        in_memory = Metrics(_Recorder(Path(scratch) / "unused", values.MutexValue))
        variants["in-memory"] = lambda: _in_memory(in_memory, args.n)
        if args.old:
            old = load_old(args.old)
            variants["old"] = lambda: per_message(old, args.n, with_help=True)
        runs: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeat):  # interleaved, so that a noisy moment hurts every variant alike
            for name, run in variants.items():
                runs[name].append(run())
        results = {name: statistics.median(times) for name, times in runs.items()}
        multiprocess.close()
    print(f"metric calls per message (2 inc + 1 observe), n={args.n}, median of {args.repeat}")
    print(f"{'variant':<14}{'ns/message':>12}{'core at 1k/s':>14}{'core at 3k/s':>14}")
    for name, seconds in results.items():
        per = seconds / args.n
        print(f"{name:<14}{per * 1e9:>12.0f}{per * 1000:>13.2%}{per * 3000:>14.2%}")
    return 0


def _in_memory(metrics: Any, n: int) -> float:
    """Time ``metrics`` after creating its values while prometheus-client's in-memory value class is installed."""
    from prometheus_client import values

    installed = values.ValueClass
    values.ValueClass = values.MutexValue
    try:
        per_message(metrics, len(PARTNERS))  # creates every label set the timed loop uses, in memory
    finally:
        values.ValueClass = installed
    return per_message(metrics, n)


if __name__ == "__main__":
    sys.exit(main())
