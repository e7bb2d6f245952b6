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

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prometheus_client import values
from prometheus_client.metrics import Counter, Gauge, Histogram, MetricWrapperBase

log = logging.getLogger("hub.metrics")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Bounds (seconds) of the latency histograms' buckets."""


LiveMode = Literal["livesum", "livemax", "livemin", "liveall", "livemostrecent"]
"""How the running processes' values of a gauge combine; only live modes, so a stopped process's value goes."""


@dataclass(frozen=True)
class MetricSpec:
    """One metric the hub records: its kind (``counter``, ``histogram`` or ``gauge``), help text and label names.

    A gauge recorded by processes (rather than read from the store at a scrape) names how the processes' values
    combine (``gauge_mode``, prometheus-client's ``multiprocess_mode``: ``livesum`` adds the running processes').
    """

    kind: str
    help: str
    labels: tuple[str, ...]
    gauge_mode: LiveMode = "livesum"


CATALOGUE: Mapping[str, MetricSpec] = {
    "hub_messages_accepted_total": MetricSpec("counter", "Inbound messages committed", ("type",)),
    "hub_messages_duplicate_total": MetricSpec("counter", "Inbound duplicates answered, not stored", ("type",)),
    "hub_requests_refused_total": MetricSpec("counter", "Requests refused before reaching a handler", ("reason",)),
    "hub_transmissions_refused_total": MetricSpec(
        "counter", "Inbound transmissions a listener refused whole", ("listener",)
    ),
    "hub_deliveries_total": MetricSpec("counter", "Delivery attempts by result", ("partner", "result")),
    "hub_partner_replies_total": MetricSpec(
        "counter", "Decisions partners gave in their answers to deliveries", ("partner", "status")
    ),
    "hub_submit_to_delivery_seconds": MetricSpec(
        "histogram", "Time from the inbound message's commit to the partner's 2xx", ("partner",)
    ),
    "hub_processes": MetricSpec("gauge", "Hub processes running on this machine, by role", ("role",), "livesum"),
}
"""Every metric hub processes record, by the name ``/metrics`` shows. ``inc``/``observe``/``set`` take these names."""

STORE_GAUGES_HELP: Mapping[str, str] = {
    "hub_deliveries": "Deliveries in the store by state",
    "hub_messages_stored": "Messages in the store, derived ones included",
}
"""Help texts of the gauges read from the store at each scrape (``hub/runtime.py`` computes them)."""

SampleSource = Callable[[], Mapping[str, float]]
"""A gauge read at each scrape: returns ``{"name{label=\\"value\\"}": number}``."""

NamedSource = tuple[str, SampleSource]
"""A gauge source with the name its failures are logged under (a plugin's ``GaugeSpec`` name, or ``store``)."""

_switch = threading.Lock()
_recorder: _Recorder | None = None
_pid = os.getpid()


def _refresh_pid() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_refresh_pid)


def process_id() -> int:
    """This process's id, kept current across ``fork`` (``os.getpid`` is a system call on every metric write)."""
    return _pid


def open_metrics(directory: Path | str) -> Metrics:
    """A hub's ``Metrics``, recording into ``directory`` (created, mode 0700, if missing).

    Call it before anything records a metric (``build_hub`` does). Every ``Metrics`` of one directory in a
    process records through the same values (two hubs built on one configuration add up, never overwrite each
    other); each has gauges of its own.
    """
    global _recorder
    path = Path(directory).resolve()
    with _switch:
        if _recorder is None or _recorder.directory != path:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.chmod(0o700)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
            value_class = values.MultiProcessValue(process_identifier=process_id)
            values.ValueClass = value_class
            _recorder = _Recorder(path, value_class)
        return Metrics(_recorder)


class Metrics:
    """A hub's metrics: recorded by this process, and the whole machine's when rendered.

    Obtain it from ``open_metrics``. ``inc``, ``observe`` and ``set`` take a name from ``CATALOGUE`` and its labels
    as keywords; a name not in it raises ``KeyError``, wrong labels ``ValueError``. ``gauges`` holds the named
    sources read at each scrape (the store's and plugins').
    """

    def __init__(self, recorder: _Recorder) -> None:
        self.directory = recorder.directory
        self.gauges: list[NamedSource] = []
        self._recorder = recorder
        self._children = recorder.children

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` to a counter."""
        key = (name, tuple(labels.values()))
        (self._children.get(key) or self._recorder.create(key, name, labels)).inc(amount)

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Add an observation to a histogram."""
        key = (name, tuple(labels.values()))
        (self._children.get(key) or self._recorder.create(key, name, labels)).observe(value)

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set this process's value of a gauge (combined across processes by its ``gauge_mode``)."""
        key = (name, tuple(labels.values()))
        (self._children.get(key) or self._recorder.create(key, name, labels)).set(value)

    def render(self) -> bytes:
        """The Prometheus text exposition of every process's counters and histograms, and the gauges read now."""
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        forget_stopped_processes(self.directory)
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, path=str(self.directory))
        registry.register(ScrapeGauges(self.gauges))
        return generate_latest(registry)

    def close(self) -> None:
        """Mark this process as stopped: its live gauges go (its counters stay, see the module docstring)."""
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(os.getpid(), str(self.directory))


class _Recorder:
    """What a process records into one metrics directory: prometheus-client's value class, metrics and label sets."""

    def __init__(self, directory: Path, value_class: Any) -> None:
        self.directory = directory
        self.value_class = value_class
        self.families: dict[str, MetricWrapperBase] = {}
        self.children: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._lock = threading.Lock()
        self._warned = False

    def create(self, key: tuple[str, tuple[str, ...]], name: str, labels: dict[str, str]) -> Any:
        """The value of metric ``name`` with ``labels``, created on first use (``key`` caches it)."""
        with self._lock:
            child = self.children.get(key)
            if child is not None:
                return child
            if values.ValueClass is not self.value_class:  # another hub opened another directory in this process
                if not self._warned:
                    self._warned = True
                    log.warning("metrics: this process now records into another hub's metrics directory; %s no "
                                "longer records new label sets", self.directory)  # fmt: skip
                return _IGNORED
            family = self.families.get(name)
            if family is None:
                family = self.families[name] = _family(name)
            child = self.children[key] = family.labels(**labels)
            return child


def _family(name: str) -> MetricWrapperBase:
    try:
        spec = CATALOGUE[name]
    except KeyError:
        raise KeyError(f"metric {name!r} is not in hub.metrics.CATALOGUE; declare it there first") from None
    if spec.kind == "counter":
        return Counter(name, spec.help, spec.labels, registry=None)
    if spec.kind == "histogram":
        return Histogram(name, spec.help, spec.labels, registry=None, buckets=LATENCY_BUCKETS)
    return Gauge(name, spec.help, spec.labels, registry=None, multiprocess_mode=spec.gauge_mode)


class _Ignored:
    """What a superseded ``Metrics`` records into: nothing."""

    def inc(self, amount: float = 1) -> None:
        pass

    def observe(self, value: float) -> None:
        pass

    def set(self, value: float) -> None:
        pass


_IGNORED = _Ignored()


_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def forget_stopped_processes(directory: Path) -> list[int]:
    """Remove the live gauges of processes that no longer run (stopped without ``close``); returns their pids.

    The directory belongs to one machine (one set of process ids): a process id is checked on this machine.
    """
    from prometheus_client.multiprocess import mark_process_dead

    stopped = sorted({int(m[1]) for f in os.listdir(directory) if (m := _LIVE_GAUGE_FILE.match(f))} - {os.getpid()})
    stopped = [pid for pid in stopped if not _running(pid)]
    for pid in stopped:
        mark_process_dead(pid, str(directory))
    return stopped


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        return True
    return True


class ScrapeGauges:
    """A prometheus-client collector of the gauges read at a scrape, from ``{"name{labels}": value}`` sources.

    A source that raises, or returns a key that is not ``name`` or ``name{label="value",...}``, is logged and
    left out of that scrape; the others still appear.
    """

    def __init__(self, sources: Iterable[NamedSource]) -> None:
        self.sources = list(sources)

    def collect(self) -> Iterator[Any]:
        """One ``GaugeMetricFamily`` per metric name the sources return."""
        from prometheus_client.core import GaugeMetricFamily

        families: dict[str, GaugeMetricFamily] = {}
        for source_name, source in self.sources:
            try:
                samples = [(*parse_sample_key(key), float(value)) for key, value in source().items()]
            except Exception:
                log.exception("gauge %s failed; left out of this scrape", source_name)
                continue
            for name, labels, value in samples:
                family = families.get(name)
                if family is None:
                    text = STORE_GAUGES_HELP.get(name) or f"Read at each scrape by the gauge {source_name}"
                    family = families[name] = GaugeMetricFamily(name, text)
                family.add_sample(name, labels, value)
        yield from families.values()


def parse_sample_key(key: str) -> tuple[str, dict[str, str]]:
    """``'name{a="b"}'`` as ``("name", {"a": "b"})``, read by prometheus-client's parser; ``ValueError`` if not one."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        samples = [s for family in text_string_to_metric_families(f"{key} 0\n") for s in family.samples]
    except Exception as exc:
        raise ValueError(f"not a Prometheus sample name: {key!r} ({exc})") from None
    if len(samples) != 1:
        raise ValueError(f"not one Prometheus sample name: {key!r}")
    return samples[0].name, dict(samples[0].labels)


__all__ = ["CATALOGUE", "LATENCY_BUCKETS", "MetricSpec", "Metrics", "ScrapeGauges", "open_metrics"]
