"""The hub's metrics, shared by every hub process on one machine, exposed at ``/metrics`` in the Prometheus text format.

Every hub process (``hub serve``, ``hub worker``, a ``hub send``) records its counters and histograms with
prometheus-client in multiprocess mode: into files of its own (``counter_PID.db``, ``histogram_PID.db``, ...) in
the hub's metrics directory (``[metrics] dir`` in ``hub.toml``, by default ``metrics/`` in the state directory).
``render`` (what ``/metrics`` answers) merges the files of every process that ever wrote there with prometheus-client's
``MultiProcessCollector``, so any ``hub serve`` shows the whole hub on its machine, and adds the gauges read from the
store (and plugins') at that moment, once, never summed across processes.

prometheus-client decides how it keeps a value (in memory, or in a file of the multiprocess directory) when the value
is created, from ``prometheus_client.values.ValueClass``, which it sets at import from ``PROMETHEUS_MULTIPROC_DIR``.
So that the import order never matters (a plugin or a test may import prometheus-client first), ``open_metrics``
sets ``PROMETHEUS_MULTIPROC_DIR`` *and* installs a fresh multiprocess value class itself, before this module creates
any value: every value is created lazily, at the first ``inc`` or ``observe`` of a label set, on a ``Metrics`` that
only ``open_metrics`` returns. A process records into one directory: opening another (a test that builds a second
hub in the same process) moves the process there, and the earlier ``Metrics`` stops recording new label sets (it
logs that once) rather than mixing its counts into the other hub's files.

Files of processes that have stopped are handled so: ``close`` (called by ``Hub.close`` on a clean exit) marks the
process dead, which removes its live gauges; every scrape also removes the live gauges of processes that no longer
run (a ``kill -9``). Counters and histograms of stopped processes stay on purpose: their sum is the hub's total, and
it must never go down, or ``rate()`` sees a reset.

Labels carry message types, partner ids, states, reasons and roles only: never personal data.
"""

from __future__ import annotations

from hub.metrics.catalogue import CATALOGUE, LATENCY_BUCKETS, MetricSpec
from hub.metrics.recording import Metrics, open_metrics
from hub.metrics.scrape import NamedSource, ScrapeGauges

__all__ = ["CATALOGUE", "LATENCY_BUCKETS", "MetricSpec", "Metrics", "NamedSource", "ScrapeGauges", "open_metrics"]
