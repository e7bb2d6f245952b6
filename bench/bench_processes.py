"""The processes a hub bench runs beside the hub (a partner sink, delivery workers) and the meters that read them."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from hub.testing.running_hub import stop_process

SINK_SCRIPT = Path(__file__).resolve().with_name("partner_sink.py")


class BenchFailure(Exception):
    """Something the benchmark measures went wrong (not slow: wrong)."""


# -- the processes ---------------------------------------------------------------------------------------------
class SinkProcess:
    """``bench/partner_sink.py`` in a child process."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the sink."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> SinkProcess:
        """Start the sink and wait until it answers ``GET /count``."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(SINK_SCRIPT), "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchFailure(f"the partner sink exited with {self.process.returncode}: see {self.log_path}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/count", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        self.stop()
        raise BenchFailure(f"the partner sink did not start in {timeout}s: see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        stop_process(self.process, grace=10)


class WorkerProcess:
    """``hub worker`` in a child process (delivery apart from ``hub serve --no-worker``)."""

    def __init__(self, config_dir: Path, number: int = 1) -> None:
        self.config_dir = config_dir
        self.log_path = config_dir / ("worker.log" if number == 1 else f"worker{number}.log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (it has no readiness endpoint; the warm-up shows it delivers)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub", "worker", "--config", str(self.config_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        stop_process(self.process, grace=15)


class CpuMeter:
    """CPU seconds used by a process (from /proc) or by this one, to show who is saturated."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float | None:
        """User + system CPU seconds so far, or None when they cannot be read."""
        if self.pid is None:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return usage.ru_utime + usage.ru_stime
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self._tick


class PostgresMeter:
    """CPU seconds used by every PostgreSQL server process on this machine (the database is part of the hub here).

    Backends that ended between two samples are missed, so this is a lower bound; other databases' work on the
    same server is counted too.
    """

    def __init__(self) -> None:
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float | None:
        """User + system CPU seconds of the processes named ``postgres`` now."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                head, _, rest = stat.read_text().rpartition(")")
                if head.endswith("(postgres"):
                    fields = rest.split()
                    total += int(fields[11]) + int(fields[12])
        return total / self._tick


class MachineMeter:
    """CPU seconds used by everything on the machine (``/proc/stat``: all but idle and iowait)."""

    def __init__(self) -> None:
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float | None:
        """Busy CPU seconds of all cores so far, or None off Linux."""
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        except (OSError, ValueError):
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        return (user + nice + system + irq + softirq + steal) / self._tick


@dataclass
class CpuSample:
    """CPU seconds of the three processes at one instant."""

    values: dict[str, float | None]
    at: float


class Cpu:
    """CPU use of the hub, the sink and the load generator over one phase."""

    def __init__(self, meters: dict[str, CpuMeter | PostgresMeter]) -> None:
        self.meters = meters
        self.machine = MachineMeter()

    def sample(self) -> CpuSample:
        """Read every meter now."""
        values = {name: meter.seconds() for name, meter in self.meters.items()}
        return CpuSample({**values, "machine": self.machine.seconds()}, time.monotonic())

    @staticmethod
    def describe(start: CpuSample, end: CpuSample) -> str:
        """Average CPU use between two samples (100% = one core), e.g. ``hub 98%, sink 9%, loadgen 16%, others 3%``.

        ``others`` is what the rest of the machine used meanwhile (other people's work on a shared machine).
        """
        elapsed = max(end.at - start.at, 1e-9)
        used: dict[str, float | None] = {}
        for name, before in start.values.items():
            after = end.values.get(name)
            used[name] = None if before is None or after is None else (after - before) / elapsed
        machine = used.pop("machine", None)
        parts = [f"{name} ?" if value is None else f"{name} {100 * value:.0f}%" for name, value in used.items()]
        if machine is not None and None not in used.values():
            parts.append(f"others {max(0.0, 100 * (machine - sum(v for v in used.values() if v is not None))):.0f}%")
        return ", ".join(parts)
