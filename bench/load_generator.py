"""The bench's messages and its load generator: what is sent, how (max, rate, batch), and what is measured."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from bench_processes import BenchFailure

from hub.testing.running_hub import RunningHub

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "housing-request.json"
SENDER_ID = "bench-trust"
MODES = ("max", "rate", "batch")
BATCH_MEDIA_TYPE = "application/x-ndjson"


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
