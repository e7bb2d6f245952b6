"""In-process metrics, exposed at ``/metrics`` in the Prometheus text format.

Labels carry message types, partner ids and states only: never personal data.
Counters and gauges are written exactly (``12345678``, never ``1.23457e+07``), so
``rate()`` over a busy hub's counters stays right.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    """A cumulative histogram with fixed buckets (seconds)."""

    def __init__(self, buckets: Iterable[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        """Add one observation."""
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1


class Metrics:
    """Counters and histograms of one hub process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], int | float] = defaultdict(int)
        self.histograms: dict[tuple[str, tuple[tuple[str, str], ...]], Histogram] = {}
        self.help: dict[str, str] = {}
        self.gauges: list[Callable[[], dict[str, float]]] = []

    def inc(self, name: str, amount: int | float = 1, help: str = "", **labels: str) -> None:
        """Add to a counter."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self.counters[key] += amount
            if help:
                self.help.setdefault(name, help)

    def observe(self, name: str, value: float, help: str = "", **labels: str) -> None:
        """Add an observation to a histogram."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            hist = self.histograms.get(key)
            if hist is None:
                hist = self.histograms[key] = Histogram()
            hist.observe(value)
            if help:
                self.help.setdefault(name, help)

    def render(self) -> str:
        """The Prometheus text exposition of everything recorded."""
        lines: list[str] = []
        typed: set[str] = set()

        def header(name: str, kind: str) -> None:
            if name not in typed:
                typed.add(name)
                if name in self.help:
                    lines.append(f"# HELP {name} {self.help[name]}")
                lines.append(f"# TYPE {name} {kind}")

        with self._lock:
            for (name, labels), value in sorted(self.counters.items()):
                header(name, "counter")
                lines.append(f"{name}{_labels(labels)} {sample_value(value)}")
            for (name, labels), hist in sorted(self.histograms.items()):
                header(name, "histogram")
                cumulative = 0
                for bound, count in zip(self.buckets_of(hist), hist.counts, strict=False):
                    cumulative += count
                    lines.append(f"{name}_bucket{_labels(labels, le=bound)} {cumulative}")
                lines.append(f"{name}_sum{_labels(labels)} {hist.total:.6f}")
                lines.append(f"{name}_count{_labels(labels)} {hist.n}")
        for gauge in self.gauges:
            for name, value in sorted(gauge().items()):
                base, _, _state = name.partition("{")
                header(base, "gauge")
                lines.append(f"{name} {sample_value(value)}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def buckets_of(hist: Histogram) -> list[str]:
        """Bucket bounds as Prometheus ``le`` strings, ending with +Inf."""
        return [f"{b:g}" for b in hist.buckets] + ["+Inf"]


def sample_value(value: float) -> str:
    """A sample value in the exposition format, exact: integers in full, other floats as their shortest round trip."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**63:
        return str(int(value))
    return repr(value)


def _labels(labels: tuple[tuple[str, str], ...], le: str | None = None) -> str:
    items = list(labels) + ([("le", le)] if le is not None else [])
    if not items:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in items)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
