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
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

from hub.config import load_settings
from hub.testing.running_hub import RunningHub, free_port
from hub.testing.world import HubWorld, Partner, build_world

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from bench_processes import (  # noqa: E402  (bench/ is not a package: run as a script, bench/ is on sys.path)
    BenchFailure,
    Cpu,
    CpuMeter,
    PostgresMeter,
    SinkProcess,
    WorkerProcess,
)
from load_generator import (  # noqa: E402
    MODES,
    SENDER_ID,
    Council,
    LoadGenerator,
    MessageFactory,
    Phase,
    make_councils,
)


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
