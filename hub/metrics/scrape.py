"""What ``/metrics`` reads at a scrape besides the processes' files: gauges from ``{"name{labels}": value}`` sources,
and the removal of the live gauges of processes that stopped without saying so."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hub.metrics.catalogue import STORE_GAUGES_HELP

log = logging.getLogger("hub.metrics")

SampleSource = Callable[[], Mapping[str, float]]
"""A gauge read at each scrape: returns ``{"name{label=\\"value\\"}": number}``."""

NamedSource = tuple[str, SampleSource]
"""A gauge source with the name its failures are logged under (a plugin's ``GaugeSpec`` name, or ``store``)."""


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
