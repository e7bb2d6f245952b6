"""How a hub process records its metrics: prometheus-client's values in files of the hub's metrics directory.

See ``hub.metrics`` for the design: ``open_metrics`` installs the multiprocess value class before any value exists.

The files are memory-mapped. prometheus-client sizes them with ``truncate``, which leaves holes: on a full disk the
first write into a hole kills the process with SIGBUS. ``open_metrics`` has prometheus-client make its files with
``AllocatedMmapedDict`` instead, which allocates each file's space before mapping it, so a full disk is an
``OSError`` at that moment; a value that cannot get its space is then not recorded (the hub logs it once a
minute at most) and is tried again at its next use.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client import mmap_dict, values
from prometheus_client.metrics import Counter, Gauge, Histogram, MetricWrapperBase

from hub.metrics.catalogue import CATALOGUE, LATENCY_BUCKETS
from hub.metrics.scrape import NamedSource, ScrapeGauges, forget_stopped_processes
from hub.plugin_api.problems import ConfigError

log = logging.getLogger("hub.metrics")

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
    other); each has gauges of its own. A directory that cannot be made, or is not this account's to write,
    raises ``ConfigError`` naming it, before anything is recorded.
    """
    global _recorder
    path = Path(directory).resolve()
    with _switch:
        if _recorder is None or _recorder.directory != path:
            _prepare(path)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
            values.MmapedDict = AllocatedMmapedDict  # type: ignore[misc]  # files without holes (see the docstring)
            value_class = values.MultiProcessValue(process_identifier=process_id)
            values.ValueClass = value_class
            _recorder = _Recorder(path, value_class)
        return Metrics(_recorder)


def _prepare(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.stat().st_uid == os.getuid():  # tighten one made looser by hand; another account's is left as it is
            path.chmod(0o700)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(13, "not writable by this account")
    except OSError as exc:
        raise ConfigError(f"metrics directory {path}: {exc.strerror or exc} (set [metrics] dir in hub.toml, or "
                          "HUB_METRICS_DIR)") from None  # fmt: skip


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
        self._dropped_logged_at = float("-inf")

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
            try:
                child = self.children[key] = family.labels(**labels)
            except OSError as exc:  # no space for its file on a full disk: not recorded now, tried at its next use
                now = time.monotonic()
                if now - self._dropped_logged_at >= 60:
                    self._dropped_logged_at = now
                    log.warning("metrics: a value of %s could not be recorded (%s); the metrics miss it until "
                                "there is space in %s", name, exc.strerror or exc, self.directory)  # fmt: skip
                return _IGNORED
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


class AllocatedMmapedDict(mmap_dict.MmapedDict):
    """prometheus-client's file of values, with its space allocated before it is mapped (never a file with holes).

    ``posix_fallocate`` raises ``OSError`` (ENOSPC) on a full disk where a write into a hole of a mapped file
    would raise SIGBUS and kill the process.
    """

    def __init__(self, filename: str, read_mode: bool = False) -> None:
        if not read_mode:
            with open(filename, "a+b") as file:
                if os.fstat(file.fileno()).st_size == 0:
                    try:
                        os.posix_fallocate(file.fileno(), 0, mmap_dict._INITIAL_MMAP_SIZE)
                    except OSError:  # an empty file would break every scrape (it has no header): none at all
                        os.unlink(filename)
                        raise
        super().__init__(filename, read_mode)

    def _init_value(self, key: str) -> None:
        needed = self._used + len(key.encode("utf-8")) + 32  # the entry's length, key, padding, value and timestamp
        capacity = self._capacity
        while needed > capacity:
            capacity *= 2
        if capacity != self._capacity:
            os.posix_fallocate(self._f.fileno(), 0, capacity)
        super()._init_value(key)
