"""End-to-end throughput and latency of the hub: a real ``hub serve``, a real partner, loopback HTTP.

Three processes: this load generator, the hub (``hub.testing.RunningHub``) and a
partner sink (``bench/partner_sink.py``) that answers 200 and records when each
message arrived. One NHS trust sends ``HousingRequest`` messages; a route sends
each to the council holding its ``payload.target_authority_gss``; every council
receives by HTTP push at the sink.

Modes (``--mode all`` runs them in this order, on one hub):

- ``max``: ``--messages`` single-message POSTs to ``/v1/messages`` from
  ``--concurrency`` keep-alive workers, as fast as they go: accepted/s (202s per
  second of the sending phase) and delivered/s (arrivals at the sink per second,
  first submit to last arrival);
- ``rate``: the same messages sent open loop at ``--rate`` msg/s (sends are
  scheduled at fixed intervals whatever the answers): p50/p99 submit-to-partner;
- ``batch``: NDJSON of ``--batch-size`` lines per ``POST /v1/messages:batch``:
  messages committed/s, then how fast the backlog drains to the partner.

It prints figures and never asserts anything about timing; it exits 1 only when
something failed (a refusal, a message missing at the sink after the timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import orjson
import requests

from hub.config import load_settings
from hub.testing.running_hub import RunningHub, free_port, stop_process
from hub.testing.world import HubWorld, Partner, build_world

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "housing-request.json"
SINK_SCRIPT = Path(__file__).resolve().with_name("partner_sink.py")
SENDER_ID = "bench-trust"
MODES = ("max", "rate", "batch")
BATCH_MEDIA_TYPE = "application/x-ndjson"


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


# -- messages --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Council:
    """A receiving partner: its id and the GSS code that routes to it."""

    id: str
    gss_code: str


def make_councils(count: int) -> list[Council]:
    """``count`` councils with distinct, valid housing-authority GSS codes (E06000001, ...)."""
    return [Council(f"bench-council-{n}", f"E06{n:06d}") for n in range(1, count + 1)]


class MessageFactory:
    """Canonical HousingRequests built from ``examples/housing-request.json``, each with a fresh message_id."""

    def __init__(self, councils: list[Council], sealer: Any = None) -> None:
        self.template: dict[str, Any] = orjson.loads(EXAMPLE.read_bytes())
        self.councils = councils
        self.sealer = sealer  # with --sealed: (message) -> envelope bytes, done before any clock starts
        self._next = 0

    def one(self) -> tuple[str, bytes]:
        """``(message_id, JSON body)`` for the next message (councils in turn)."""
        council = self.councils[self._next % len(self.councils)]
        self._next += 1
        message = copy.deepcopy(self.template)
        message_id = str(uuid.uuid4())
        message["message_id"] = message_id
        message["correlation_id"] = str(uuid.uuid4())
        message["sender"] = {"org_id": SENDER_ID}  # only codes the bench partner holds
        message["recipient"] = {"org_id": council.id, "gss_code": council.gss_code}
        message["payload"]["target_authority_gss"] = council.gss_code
        return message_id, self.sealer(message) if self.sealer else orjson.dumps(message)

    def many(self, count: int) -> list[tuple[str, bytes]]:
        """``count`` messages, built before any clock starts."""
        return [self.one() for _ in range(count)]


# -- measuring -------------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ms(values: list[float], *quantiles: float) -> str:
    """Percentiles of ``values`` (seconds) in milliseconds, e.g. ``1.8 / 6.2``."""
    return " / ".join(f"{1000 * percentile(values, q):,.1f}" for q in quantiles)


@dataclass
class Phase:
    """What one mode measured."""

    mode: str
    figures: list[tuple[str, str, str]] = field(default_factory=list)  # (figure, value, target)
    failures: list[str] = field(default_factory=list)
    cpu: str = ""

    def add(self, name: str, value: str, target: str = "") -> None:
        """Add one row to the table."""
        self.figures.append((name, value, target))


@dataclass
class Submitted:
    """Submit times by message id, and what went wrong while sending."""

    at: dict[str, float] = field(default_factory=dict)
    ack_latency: list[float] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    first: float = float("inf")
    last_answer: float = 0.0


class LoadGenerator:
    """Sends to the hub and reads arrivals from the sink, over one keep-alive ``aiohttp`` session."""

    def __init__(
        self, hub_url: str | list[str], sink_url: str, token: str, hub: RunningHub | list[RunningHub], *,
        deliveries: bool = True, media_type: str = "application/json",
    ) -> None:  # fmt: skip
        self.deliveries = deliveries
        self.hub_urls = [hub_url] if isinstance(hub_url, str) else list(hub_url)
        self.hub_url = self.hub_urls[0]
        self._turn = 0
        self.sink_url = sink_url
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": media_type}
        self.batch_headers = {"Authorization": f"Bearer {token}", "Content-Type": BATCH_MEDIA_TYPE}
        self.hubs = [hub] if isinstance(hub, RunningHub) else list(hub)
        self.session: aiohttp.ClientSession | None = None

    def next_hub_url(self) -> str:
        """The hub to send the next request to: the ``hub serve`` processes in turn (one, unless ``--serve``)."""
        self._turn += 1
        return self.hub_urls[self._turn % len(self.hub_urls)]

    async def __aenter__(self) -> LoadGenerator:
        # idle connections are closed before uvicorn's 5 s keep-alive timeout can close them under a new request
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=2.0)
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    @property
    def http(self) -> aiohttp.ClientSession:
        """The open session."""
        assert self.session is not None
        return self.session

    def _check_hub(self) -> None:
        for hub in self.hubs:
            process = hub.process
            if process is not None and process.poll() is not None:
                raise BenchFailure(f"the hub exited with {process.returncode}: see {hub.log_path}")

    async def post_one(self, sent: Submitted, message_id: str, body: bytes) -> None:
        """POST one message; record its submit time and whether it got a 202."""
        started = time.time()
        sent.at[message_id] = started
        sent.first = min(sent.first, started)
        try:
            url = f"{self.next_hub_url()}/v1/messages"
            async with self.http.post(url, data=body, headers=self.headers) as response:
                answer = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            sent.errors.append(f"{message_id}: {type(exc).__name__}: {exc}")
            return
        done = time.time()
        sent.last_answer = max(sent.last_answer, done)
        if status == 202:
            sent.accepted.add(message_id)
            sent.ack_latency.append(done - started)
        else:
            sent.errors.append(f"{message_id}: HTTP {status}: {answer[:300]!r}")

    async def reset_sink(self) -> None:
        """Forget earlier arrivals."""
        async with self.http.post(f"{self.sink_url}/reset") as response:
            response.raise_for_status()

    async def wait_for_arrivals(self, expected: set[str], timeout: float) -> dict[str, float]:
        """Poll the sink until every id in ``expected`` has arrived or ``timeout`` passes; return the arrivals."""
        if not self.deliveries:
            return {}
        deadline = time.monotonic() + timeout
        while True:
            self._check_hub()
            async with self.http.get(f"{self.sink_url}/count") as response:
                count = (await response.json())["count"]
            if count >= len(expected) or time.monotonic() > deadline:
                async with self.http.get(f"{self.sink_url}/stats") as response:
                    arrivals: dict[str, float] = orjson.loads(await response.read())["arrivals"]
                if expected <= arrivals.keys() or time.monotonic() > deadline:
                    return arrivals
            await asyncio.sleep(0.05)

    # -- the modes ---------------------------------------------------------------------------------------------
    async def run_max(self, messages: list[tuple[str, bytes]], concurrency: int, timeout: float) -> Phase:
        """As fast as ``concurrency`` workers go: accepted/s and delivered/s."""
        await self.reset_sink()
        sent = Submitted()
        queue: Iterator[tuple[str, bytes]] = iter(messages)

        async def worker() -> None:
            for message_id, body in queue:
                await self.post_one(sent, message_id, body)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        phase = Phase("max")
        arrivals = await self.wait_for_arrivals(sent.accepted, timeout)
        self._delivery_figures(phase, sent, arrivals, timeout, send_label="accepted/s (202s, sending phase)",
                               delivered_target=">= 2,500 msg/s")  # fmt: skip
        return phase

    async def run_rate(self, messages: list[tuple[str, bytes]], rate: float, timeout: float) -> Phase:
        """Open loop at ``rate`` msg/s: sends are scheduled at fixed intervals, whatever the answers."""
        await self.reset_sink()
        sent = Submitted()
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[None]] = []
        send_times: list[float] = []
        start = loop.time() + 0.01
        for index, (message_id, body) in enumerate(messages):
            delay = start + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            send_times.append(time.time())
            tasks.append(asyncio.create_task(self.post_one(sent, message_id, body)))
        await asyncio.gather(*tasks)
        phase = Phase("rate")
        span = send_times[-1] - send_times[0]
        offered = (len(messages) - 1) / span if span > 0 else float("nan")
        phase.add("offered rate, achieved (msg/s)", f"{offered:,.0f}")
        arrivals = await self.wait_for_arrivals(sent.accepted, timeout)
        self._delivery_figures(phase, sent, arrivals, timeout, send_label="accepted/s (202s, sending phase)",
                               latency_target="p99 <= 20 ms at 1,000 msg/s")  # fmt: skip
        return phase

    async def run_batch(
        self, messages: list[tuple[str, bytes]], batch_size: int, concurrency: int, timeout: float
    ) -> Phase:
        """NDJSON batches: messages committed per second, then the drain to the partner."""
        await self.reset_sink()
        phase = Phase("batch")
        chunks = [messages[i : i + batch_size] for i in range(0, len(messages), batch_size)]
        bodies = [(chunk, b"\n".join(body for _, body in chunk) + b"\n") for chunk in chunks]
        sent = Submitted()
        request_latency: list[float] = []
        queue = iter(bodies)

        async def worker() -> None:
            for chunk, body in queue:
                started = time.time()
                sent.first = min(sent.first, started)
                for message_id, _ in chunk:
                    sent.at[message_id] = started
                url = f"{self.next_hub_url()}/v1/messages:batch"
                try:
                    async with self.http.post(url, data=body, headers=self.batch_headers) as response:
                        answer = await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    sent.errors.append(f"batch of {len(chunk)}: {type(exc).__name__}: {exc}")
                    continue
                done = time.time()
                sent.last_answer = max(sent.last_answer, done)
                request_latency.append(done - started)
                if status != 200:
                    sent.errors.append(f"batch of {len(chunk)}: HTTP {status}: {answer[:300]!r}")
                    continue
                results = orjson.loads(answer)["results"]
                for result in results:
                    message_id = chunk[result["line"] - 1][0]
                    # an accepted line says status 202 or "accepted" (the 202 body's own status)
                    if result.get("status") in (202, "accepted"):
                        sent.accepted.add(message_id)
                    else:
                        sent.errors.append(f"{message_id}: line {result['line']}: {orjson.dumps(result)[:300]!r}")
                if len(results) != len(chunk):
                    sent.errors.append(f"batch of {len(chunk)}: {len(results)} results")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = sent.last_answer - sent.first
        phase.add("batch requests", f"{len(bodies)} x {batch_size} lines, {concurrency} at a time")
        phase.add("committed/s (accepted lines)", f"{len(sent.accepted) / elapsed:,.0f}" if elapsed > 0 else "-",
                  ">= 20,000 msg/s")  # fmt: skip
        phase.add("batch request p50 / max (ms)", _ms(request_latency, 50, 100))
        arrivals = await self.wait_for_arrivals(sent.accepted, timeout)
        self._delivery_figures(phase, sent, arrivals, timeout, send_label=None, drain=True)
        return phase

    def _delivery_figures(
        self,
        phase: Phase,
        sent: Submitted,
        arrivals: dict[str, float],
        timeout: float,
        *,
        send_label: str | None,
        latency_target: str = "",
        delivered_target: str = "",
        drain: bool = False,
    ) -> None:
        delivered = [arrivals[m] - sent.at[m] for m in sent.accepted if m in arrivals]
        missing = len(sent.accepted) - len(delivered)
        last_arrival = max((arrivals[m] for m in sent.accepted if m in arrivals), default=sent.first)
        phase.add("messages sent / accepted / delivered", f"{len(sent.at)} / {len(sent.accepted)} / {len(delivered)}")
        if send_label is not None:
            elapsed = sent.last_answer - sent.first
            phase.add(send_label, f"{len(sent.accepted) / elapsed:,.0f}" if elapsed > 0 else "-")
            phase.add("submit-to-202 p50 / p99 (ms)", _ms(sent.ack_latency, 50, 99))
        phase.failures += sent.errors[:20]
        if len(sent.errors) > 20:
            phase.failures.append(f"... and {len(sent.errors) - 20} more refusals or errors")
        if not self.deliveries:
            return
        span = last_arrival - sent.first
        label = "delivered/s (first submit to last arrival)"
        if drain:
            label = "delivered/s (backlog drain, first submit to last arrival)"
        phase.add(label, f"{len(delivered) / span:,.0f}" if span > 0 else "-", delivered_target)
        phase.add("submit-to-partner p50 / p99 / max (ms)", _ms(delivered, 50, 99, 100), latency_target)
        if missing:
            phase.failures.append(f"{missing} accepted messages had not reached the partner after {timeout:g}s")


# -- running ---------------------------------------------------------------------------------------------------
def build_parser(description: str = "Measure the hub end to end (a real 'hub serve', a partner sink, loopback HTTP).",
                 ) -> argparse.ArgumentParser:  # fmt: skip
    """The command line's options (``bench/soak.py`` adds its own)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--mode", choices=("all", *MODES), default="all", help="which measurement(s) to run")
    parser.add_argument("--messages", type=int, default=10000, help="messages per mode")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent requests in max mode")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered msg/s in rate mode (open loop)")
    parser.add_argument("--batch-size", type=int, default=1000, help="NDJSON lines per batch request")
    parser.add_argument("--batch-concurrency", type=int, default=2, help="batch requests in flight at once")
    parser.add_argument("--receivers", type=int, default=1, help="receiving councils (all pushed to the sink)")
    parser.add_argument("--delivery-concurrency", type=int, default=64, help="hub.toml [delivery] concurrency")
    parser.add_argument("--warmup", type=int, default=200, help="messages sent and delivered before measuring")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for deliveries after a mode")
    parser.add_argument("--worker-process", action="store_true",
                        help="deliver from a separate 'hub worker' process beside 'hub serve --no-worker'")  # fmt: skip
    parser.add_argument("--workers", type=int, default=0,
                        help="deliver from this many 'hub worker' processes beside 'hub serve --no-worker' "
                             "(--worker-process is --workers 1)")  # fmt: skip
    parser.add_argument("--serve", type=int, default=1,
                        help="'hub serve' processes (PostgreSQL); requests go to them in turn")  # fmt: skip
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the hub's store: SQLite in the temporary directory, or a fresh PostgreSQL database "
                             "on HUB_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test), "
                             "dropped afterwards")  # fmt: skip
    parser.add_argument("--poll-interval", type=float, default=None,
                        help="hub.toml [delivery] poll_interval_seconds (a separate worker polls)")  # fmt: skip
    parser.add_argument("--sealed", action="store_true",
                        help="every partner seals: the hub opens each envelope and seals each delivery")  # fmt: skip
    parser.add_argument("--intake-only", action="store_true",
                        help="run the hub with --no-worker: measure intake alone, nothing is delivered")  # fmt: skip
    parser.add_argument("--keep", type=Path, default=None, help="write config, store and logs here and keep them")
    parser.add_argument("--py-spy", type=Path, default=None, metavar="FILE",
                        help="record the hub with py-spy (.svg flamegraph, .json speedscope, .txt raw)")  # fmt: skip
    parser.add_argument("--py-spy-gil", action="store_true", help="with --py-spy: only samples holding the GIL")
    return parser


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """Refuse option values that make no sense; ``--worker-process`` becomes ``--workers 1``."""
    for name in ("messages", "concurrency", "batch_size", "batch_concurrency", "receivers", "delivery_concurrency",
                 "serve"):  # fmt: skip
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.rate <= 0:
        parser.error("--rate must be greater than 0")
    if args.workers < 0:
        parser.error("--workers must be 0 or more")
    if args.worker_process:
        args.workers = max(args.workers, 1)
    if args.serve > 1 and args.store != "postgresql":
        parser.error("--serve above 1 needs --store postgresql (SQLite is one process: docs/scaling.md)")
    return args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = build_parser()
    return check_args(parser, parser.parse_args(argv))


def make_sealer(world: HubWorld) -> Any:
    """Seal each message as the bench trust for the hub (with the trust's own key from the world)."""
    from hub.envelope import EnvelopeMetadata, seal_envelope

    signing, _ = world.own_keys[SENDER_ID]
    hub_key = world.hub_encryption_key()

    def seal(message: dict[str, Any]) -> bytes:
        metadata = EnvelopeMetadata(message["message_id"], message["type"], SENDER_ID, "hub")
        return seal_envelope(orjson.dumps(message), metadata=metadata, signing_key=signing,
                             recipient_keys=[hub_key]).encode("ascii")  # fmt: skip

    return seal


def build_config(
    directory: Path,
    sink_url: str,
    councils: list[Council],
    delivery: int,
    poll: float | None = None,
    *,
    sealed: bool = False,
    hub_args: list[str] | None = None,
) -> HubWorld:
    """The bench deployment (not yet started): one sending trust, councils pushed to the sink, one route by GSS code.

    With ``sealed`` every partner has envelope keys: the trust's messages arrive sealed and the hub opens
    them, and every delivery to a council is sealed by the hub (the sink accepts without opening).
    """
    partners = [Partner(SENDER_ID, "nhs_trust", {"ods_code": "RWK"}, receive="pull", sealed=sealed,
                        settings={"name": "Bench trust"})]  # fmt: skip
    partners += [Partner(c.id, "council", {"gss_code": c.gss_code}, sealed=sealed, settings={"name": c.id},
                         receive={"mode": "push", "url": f"{sink_url}/partners/{c.id}"}) for c in councils]  # fmt: skip
    routes = [{"name": "bench", "type": "HousingRequest",
               "to": {"code": "gss_code", "field": "payload.target_authority_gss"}}]  # fmt: skip
    settings: dict[str, dict[str, Any]] = {
        "delivery": {"concurrency": delivery, **({"poll_interval_seconds": poll} if poll else {})},
        "server": {"max_body_bytes": 64 * 1024 * 1024},
    }
    return build_world(directory, partners, routes=routes, settings=settings, fast=False, operators=(), start=False,
                       hub_args=hub_args or ())  # fmt: skip


def start_py_spy(pid: int, output: Path, gil: bool) -> subprocess.Popen[bytes] | None:
    """``py-spy record`` on the hub (all threads), or None (with a warning) when py-spy is missing."""
    exe = Path(sys.executable).with_name("py-spy")
    command = str(exe) if exe.exists() else "py-spy"
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(output.suffix, "raw")
    try:
        return subprocess.Popen(
            [command, "record", "--pid", str(pid), "--rate", "250", "--threads", "--nonblocking", "--format", fmt,
             "--output", str(output), *(["--gil"] if gil else [])],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    except FileNotFoundError:
        print("warning: py-spy is not installed ('pip install py-spy'); not profiling", file=sys.stderr)
        return None


def print_report(args: argparse.Namespace, phases: list[Phase], started: datetime) -> None:
    """The parameters, then one table of figures."""
    print()
    print(f"hub end-to-end benchmark, {started:%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"  messages/mode={args.messages} concurrency={args.concurrency} rate={args.rate:g}/s "
          f"batch-size={args.batch_size} batch-concurrency={args.batch_concurrency} receivers={args.receivers} "
          f"delivery-concurrency={args.delivery_concurrency} warmup={args.warmup}"
          f"{' intake-only (no delivery)' if args.intake_only else ''}")  # fmt: skip
    print(f"  store={args.store} serve={args.serve} workers={args.workers}{' sealed' if args.sealed else ''}")
    rows = [(p.mode, name, value, target) for p in phases for name, value, target in p.figures]
    rows += [(p.mode, "cpu (100% = one core)", p.cpu, "") for p in phases if p.cpu]
    rows.sort(key=lambda r: [p.mode for p in phases].index(r[0]))
    widths = [max(len(str(r[i])) for r in [("mode", "figure", "value", "target"), *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(("mode", "figure", "value", "target"), widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(line)
    failures = [f"{p.mode}: {f}" for p in phases for f in p.failures]
    if failures:
        print("FAILED:")
        for failure in failures:
            print(f"  {failure}")


@dataclass
class Deployment:
    """What ``run`` started: the world (config, first ``hub serve``), every hub process, the sink, and their pids."""

    args: argparse.Namespace
    world: HubWorld
    hubs: list[RunningHub]
    workers: list[WorkerProcess]
    sink: SinkProcess
    directory: Path
    pids: dict[str, int]

    def generator(self, *, deliveries: bool = True, media_type: str = "application/json") -> LoadGenerator:
        """A load generator sending to every ``hub serve`` in turn."""
        return LoadGenerator([h.url for h in self.hubs], self.sink.url, self.world.tokens[SENDER_ID], self.hubs,
                             deliveries=deliveries, media_type=media_type)  # fmt: skip


async def run_modes(deployment: Deployment) -> list[Phase]:
    """Warm up, then run each selected mode and collect its figures."""
    args, world, pids = deployment.args, deployment.world, deployment.pids
    sealer = make_sealer(world) if args.sealed else None
    factory = MessageFactory(make_councils(args.receivers), sealer)
    meters: dict[str, CpuMeter | PostgresMeter] = {name: CpuMeter(pid) for name, pid in pids.items()}
    meters["loadgen"] = CpuMeter(None)
    if args.store == "postgresql":
        meters["postgres"] = PostgresMeter()
    cpu = Cpu(meters)
    phases: list[Phase] = []
    media_type = "application/jose" if args.sealed else "application/json"
    async with deployment.generator(deliveries=not args.intake_only, media_type=media_type) as gen:
        if args.warmup:
            warm = await gen.run_max(factory.many(args.warmup), min(args.concurrency, 16), args.timeout)
            if warm.failures:
                warm.mode = "warmup"
                return [warm]
        modes = MODES if args.mode == "all" else (args.mode,)
        if args.sealed and "batch" in modes:  # a sealing partner sends each message in its own envelope
            print("--sealed: skipping batch mode (sealing partners cannot use the batch endpoint)", file=sys.stderr)
            modes = tuple(m for m in modes if m != "batch")
        for mode in modes:
            messages = factory.many(args.messages)
            print(f"running {mode} ({len(messages)} messages)...", file=sys.stderr, flush=True)
            before = cpu.sample()
            if mode == "max":
                phase = await gen.run_max(messages, args.concurrency, args.timeout)
            elif mode == "rate":
                phase = await gen.run_rate(messages, args.rate, args.timeout)
            else:
                phase = await gen.run_batch(messages, args.batch_size, args.batch_concurrency, args.timeout)
            phase.cpu = Cpu.describe(before, cpu.sample())
            phases.append(phase)
    return phases


class _Interrupted:
    """Whether SIGINT or SIGTERM arrived (Ctrl-C also reaches the hub, which may exit first)."""

    seen = False

    @classmethod
    def handler(cls, signum: int, frame: FrameType | None) -> None:
        cls.seen = True
        raise KeyboardInterrupt


def _stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    """SIGINT makes py-spy write its output and exit."""
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()


def run(args: argparse.Namespace, directory: Path, runner: Any = None) -> list[Phase]:
    """Start the sink, the hub(s) (and workers), run the modes, and stop every process, whatever happens.

    ``runner`` is the coroutine function given the ``Deployment`` (``run_modes`` unless another script's).
    """
    runner = runner or run_modes
    if args.store == "postgresql":
        os.environ["HUB_TEST_STORE"] = "postgresql"  # build_world makes a fresh database, dropped at exit
    sink = SinkProcess(free_port(), directory / "sink.log")
    world: HubWorld | None = None
    workers: list[WorkerProcess] = []
    more_hubs: list[RunningHub] = []
    spy: subprocess.Popen[bytes] | None = None
    try:
        sink.start()
        separate = args.intake_only or args.workers > 0
        world = build_config(
            directory,
            sink.url,
            make_councils(args.receivers),
            args.delivery_concurrency,
            args.poll_interval,
            sealed=args.sealed,
            hub_args=["--no-worker"] if separate else None,
        )
        started = time.monotonic()
        hub = world.hub.start()
        startup = Phase("start")
        startup.add("hub start-up to /readyz 200 (s)", f"{time.monotonic() - started:.2f}", "< 2 s")
        assert hub.process is not None and sink.process is not None
        pids = {"hub": hub.process.pid, "sink": sink.process.pid}
        for n in range(2, args.serve + 1):
            more_hubs.append(RunningHub(world.config_dir, extra_args=list(hub.extra_args)).start())
            assert more_hubs[-1].process is not None
            pids[f"hub{n}"] = more_hubs[-1].process.pid
        for n in range(1, 0 if args.intake_only else args.workers + 1):
            worker = WorkerProcess(directory, n)
            workers.append(worker)
            worker.start()
            assert worker.process is not None
            pids["worker" if n == 1 else f"worker{n}"] = worker.process.pid
        store = load_settings(world.config_dir).store_url
        print(f"pids {pids}; hubs at {', '.join(h.url for h in [hub, *more_hubs])}, sink at {sink.url}, "
              f"store {describe_store(store)}", file=sys.stderr)  # fmt: skip
        if args.py_spy is not None:
            spy = start_py_spy(hub.process.pid, args.py_spy.resolve(), args.py_spy_gil)
        deployment = Deployment(args, world, [hub, *more_hubs], workers, sink, directory, pids)
        try:
            import uvloop
        except ImportError:
            return [startup, *asyncio.run(runner(deployment))]
        return [startup, *uvloop.run(runner(deployment))]
    finally:
        if spy is not None:
            _stop_py_spy(spy)
        for worker in workers:
            worker.stop()
        for extra in more_hubs:
            extra.stop()
        if world is not None:
            world.stop()
        sink.stop()


def describe_store(url: str) -> str:
    """Where the store is, without user or password."""
    if url.startswith("postgresql"):
        from hub.store.url import describe

        return describe(url)
    return url


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every message was accepted and delivered, 1 otherwise."""
    args = parse_args(argv)
    signal.signal(signal.SIGINT, _Interrupted.handler)
    signal.signal(signal.SIGTERM, _Interrupted.handler)
    started = datetime.now(UTC)
    with contextlib.ExitStack() as stack:
        if args.keep is not None:
            directory = args.keep.resolve()
            directory.mkdir(parents=True, exist_ok=True)
        else:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-bench-")))
        try:
            phases = run(args, directory)
        except KeyboardInterrupt:
            print("interrupted: the hub and the sink are stopped", file=sys.stderr)
            return 130
        except (BenchFailure, RuntimeError) as exc:
            if _Interrupted.seen:
                print("interrupted: the hub and the sink are stopped", file=sys.stderr)
                return 130
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    print_report(args, phases, started)
    if args.py_spy is not None:
        print(f"py-spy profile of the hub: {args.py_spy}")
    return 1 if any(p.failures for p in phases) else 0


if __name__ == "__main__":
    sys.exit(main())
