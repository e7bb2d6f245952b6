"""Soak: push many messages through a running hub and watch what it holds (RSS, fds, connections, store size).

The deployment is ``bench/throughput.py``'s (a real ``hub serve``, a partner sink, one trust sending
HousingRequests to councils by HTTP push; ``--store``, ``--workers`` and ``--serve`` as there). The messages go in
chunks of ``--chunk`` (max mode, ``--concurrency`` in flight); after each chunk the bench waits until the whole chunk
has reached the sink and then samples, for every hub process (``hub serve`` and ``hub worker``):

- RSS (``VmRSS``) and its high-water mark (``VmHWM``), from ``/proc/PID/status``;
- open file descriptors (``/proc/PID/fd``) and of them the TCP connections (sockets in ``/proc/PID/net/tcp*``,
  any state but LISTEN);
- the store's size on disk: the SQLite file with its WAL, or ``pg_database_size`` on PostgreSQL.

It prints one row per sample, then the verdict: RSS is flat when no sample after the warm-up (the first
``--settle`` of the messages) is more than 10% above the RSS at the end of the warm-up, per process. It asserts
nothing about timing and exits 1 only when something failed (a refusal, a message missing at the sink) or RSS was not
flat.

    .venv/bin/python bench/soak.py --soak 1000000          # about 30 min at ~600 msg/s on the 2-core machine
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from bench_processes import BenchFailure  # noqa: E402  (bench/ is not a package)
from load_generator import MessageFactory, Phase, make_councils  # noqa: E402
from throughput import (  # noqa: E402
    Deployment,
    _Interrupted,
    build_parser,
    check_args,
    run,
)

from hub.config import load_settings  # noqa: E402

FLAT = 0.10  # RSS may grow this much after the warm-up and still count as flat


# -- what a process holds --------------------------------------------------------------------------------------
def _status(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of a process in KiB (empty when it is gone)."""
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def _socket_inodes(pid: int) -> tuple[int, set[str]]:
    """The number of open fds of a process, and the inodes of its sockets."""
    fds = 0
    sockets: set[str] = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir(f"/proc/{pid}/fd"):
            fds += 1
            with contextlib.suppress(OSError):
                target = os.readlink(entry.path)
                if target.startswith("socket:["):
                    sockets.add(target[8:-1])
    return fds, sockets


def _tcp_connections(pid: int, inodes: set[str]) -> int:
    """How many of ``inodes`` are TCP sockets not listening (state 0A), from ``/proc/PID/net/tcp`` and ``tcp6``."""
    count = 0
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                parts = line.split()
                if len(parts) > 9 and parts[9] in inodes and parts[3] != "0A":
                    count += 1
    return count


@dataclass(frozen=True)
class ProcessSample:
    """What one process held at one instant."""

    rss_kib: int
    hwm_kib: int
    fds: int
    connections: int


def sample_process(pid: int) -> ProcessSample:
    """RSS, its high-water mark, open fds and TCP connections of ``pid`` now."""
    status = _status(pid)
    fds, sockets = _socket_inodes(pid)
    return ProcessSample(status.get("VmRSS", 0), status.get("VmHWM", 0), fds, _tcp_connections(pid, sockets))


def store_bytes(store_url: str) -> int:
    """The store's size on disk: the SQLite file and its WAL and shared memory, or the PostgreSQL database's."""
    if store_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0
    path = load_path(store_url)
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def load_path(store_url: str) -> Path:
    """The SQLite file a ``sqlite:///...`` URL names."""
    from hub.store.url import sqlite_path

    return Path(sqlite_path(store_url))


# -- the soak --------------------------------------------------------------------------------------------------
@dataclass
class Sample:
    """One row: messages delivered so far, elapsed time, what each hub process held, the store's size."""

    delivered: int
    elapsed: float
    rate: float
    processes: dict[str, ProcessSample]
    store: int


@dataclass
class Soak:
    """The samples so far and the verdict on them."""

    processes: list[str]
    settle_after: int
    samples: list[Sample] = field(default_factory=list)

    def header(self) -> str:
        """The table's column names."""
        cells = [f"{'delivered':>10}", f"{'time':>7}", f"{'msg/s':>6}"]
        for name in self.processes:
            cells += [f"{name + ' RSS MiB':>14}", f"{'HWM':>6}", f"{'fds':>5}", f"{'conns':>5}"]
        return "  ".join([*cells, f"{'store MiB':>10}"])

    @staticmethod
    def row(sample: Sample, processes: list[str]) -> str:
        """One sample as a line of the table."""
        cells = [f"{sample.delivered:>10,}", f"{sample.elapsed:>7.0f}", f"{sample.rate:>6.0f}"]
        for name in processes:
            p = sample.processes[name]
            cells += [f"{p.rss_kib / 1024:>14.1f}", f"{p.hwm_kib / 1024:>6.1f}", f"{p.fds:>5}", f"{p.connections:>5}"]
        return "  ".join([*cells, f"{sample.store / 2**20:>10.1f}"])

    def verdict(self) -> tuple[bool, list[str]]:
        """Whether each process's RSS stayed within 10% of its value at the end of the warm-up, and why."""
        settled = [s for s in self.samples if s.delivered >= self.settle_after]
        if len(settled) < 2:
            return False, [f"too few samples after the warm-up ({len(settled)}): run more messages"]
        flat = True
        lines = []
        for name in self.processes:
            base = settled[0].processes[name].rss_kib
            peak = max(settled, key=lambda s: s.processes[name].rss_kib)
            last = settled[-1].processes[name].rss_kib
            growth = peak.processes[name].rss_kib / base - 1 if base else float("inf")
            ok = growth <= FLAT
            flat = flat and ok
            lines.append(
                f"{name}: RSS {base / 1024:.1f} MiB after {settled[0].delivered:,} messages, highest "
                f"{peak.processes[name].rss_kib / 1024:.1f} MiB (after {peak.delivered:,}), last {last / 1024:.1f} MiB "
                f"after {settled[-1].delivered:,}: {growth:+.1%} -> {'flat' if ok else 'NOT flat'} (within 10%)"
            )
            fds = [s.processes[name].fds for s in settled]
            conns = [s.processes[name].connections for s in settled]
            lines.append(f"{name}: open fds {min(fds)}-{max(fds)}, TCP connections {min(conns)}-{max(conns)}")
        sizes = [s.store for s in settled]
        if len(settled) >= 2 and settled[-1].delivered > settled[0].delivered:
            per = (sizes[-1] - sizes[0]) / (settled[-1].delivered - settled[0].delivered)
            lines.append(
                f"store: {sizes[0] / 2**20:,.0f} -> {sizes[-1] / 2**20:,.0f} MiB, {per:,.0f} bytes per message"
            )
        return flat, lines


async def soak(deployment: Deployment) -> list[Phase]:
    """Chunks of max mode until ``--soak`` messages are delivered, sampling after each chunk."""
    args = deployment.args
    factory = MessageFactory(make_councils(args.receivers))
    store_url = load_settings(deployment.world.config_dir).store_url
    names = [n for n in deployment.pids if n.startswith(("hub", "worker"))]
    state = Soak(names, settle_after=int(args.soak * args.settle))
    phase = Phase("soak")
    print(f"soak: {args.soak:,} messages in chunks of {args.chunk:,}; warm-up until {state.settle_after:,}",
          flush=True)  # fmt: skip
    print(state.header(), flush=True)
    started = time.monotonic()
    delivered = 0
    async with deployment.generator() as gen:
        while delivered < args.soak:
            count = min(args.chunk, args.soak - delivered)
            chunk_started = time.monotonic()
            result = await gen.run_max(factory.many(count), args.concurrency, args.timeout)
            if result.failures:
                phase.failures += result.failures
                break
            delivered += count
            took = time.monotonic() - chunk_started
            processes = {name: sample_process(deployment.pids[name]) for name in names}
            sample = Sample(delivered, time.monotonic() - started, count / took, processes, store_bytes(store_url))
            state.samples.append(sample)
            print(Soak.row(sample, names), flush=True)
    flat, lines = state.verdict()
    for line in lines:
        phase.add("soak", line)
    phase.add("verdict", f"RSS {'flat' if flat else 'NOT flat'} within 10% after the warm-up")
    if not flat:
        phase.failures.append("RSS was not flat within 10% after the warm-up")
    return [phase]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """throughput.py's options and the soak's own."""
    parser = build_parser("Soak the hub: many messages, sampling RSS, fds, connections and the store's size.")
    parser.add_argument("--soak", type=int, default=1_000_000, help="messages to push through (and deliver)")
    parser.add_argument("--chunk", type=int, default=20_000, help="messages between samples")
    parser.add_argument("--settle", type=float, default=0.1,
                        help="the warm-up, as a share of --soak: RSS is compared with its value after it")  # fmt: skip
    parser.set_defaults(timeout=1800.0)  # a chunk on a machine busy with other work can take many minutes
    args = check_args(parser, parser.parse_args(argv))
    if args.soak < 1 or args.chunk < 1 or not 0 <= args.settle < 1:
        parser.error("--soak and --chunk must be at least 1, --settle between 0 and 1")
    if args.intake_only:
        parser.error("--intake-only: a soak delivers every message")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 0 when everything was delivered and RSS stayed flat."""
    args = parse_args(argv)
    signal.signal(signal.SIGINT, _Interrupted.handler)
    signal.signal(signal.SIGTERM, _Interrupted.handler)
    print(f"hub soak, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, store {args.store}, {os.cpu_count()} cores", flush=True)
    with contextlib.ExitStack() as stack:
        if args.keep is not None:
            directory = args.keep.resolve()
            directory.mkdir(parents=True, exist_ok=True)
        else:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-soak-")))
        try:
            phases = run(args, directory, soak)
        except KeyboardInterrupt:
            print("interrupted: the hub and the sink are stopped", file=sys.stderr)
            return 130
        except (BenchFailure, RuntimeError) as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    for phase in phases:
        for name, value, _ in phase.figures:
            print(f"{name}: {value}")
        for failure in phase.failures:
            print(f"FAILED: {phase.mode}: {failure}")
    print(f"finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    return 1 if any(p.failures for p in phases) else 0


if __name__ == "__main__":
    sys.exit(main())
