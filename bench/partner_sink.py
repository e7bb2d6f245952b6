"""A loopback partner for the benchmark: answers 200 to every push and records when each message arrived.

Run as its own process (``python bench/partner_sink.py --port 8123``) so that it
does not share a GIL with the load generator or the hub. For every ``POST`` it
records ``time.time()`` keyed by the ``Idempotency-Key`` header (the hub puts the
message id there); the first arrival counts, later ones are counted as duplicates.

Endpoints besides ``POST /<anything>``:

- ``GET /count``: ``{"count": n, "duplicates": d}`` (cheap, for polling);
- ``GET /stats``: the same plus ``arrivals``, ``{message_id: arrival time}``;
- ``POST /reset``: forget everything (between benchmark phases).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time

import orjson
from aiohttp import web


class Sink:
    """Arrival times by message id, and the handlers that fill and report them."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.unkeyed = 0

    async def handle(self, request: web.BaseRequest) -> web.Response:
        """Route a request: control endpoints, or a delivery to record."""
        if request.method == "GET":
            if request.path == "/count":
                return self._json({"count": len(self.arrivals), "duplicates": self.duplicates})
            if request.path == "/stats":
                return self._json(
                    {
                        "count": len(self.arrivals),
                        "duplicates": self.duplicates,
                        "unkeyed": self.unkeyed,
                        "arrivals": self.arrivals,
                    }
                )
            return web.Response(status=404)
        if request.method == "POST" and request.path == "/reset":
            self.arrivals = {}
            self.duplicates = 0
            self.unkeyed = 0
            return self._json({"status": "reset"})
        at = time.time()
        await request.read()
        key = request.headers.get("Idempotency-Key")
        if key is None:
            self.unkeyed += 1
        elif key in self.arrivals:
            self.duplicates += 1
        else:
            self.arrivals[key] = at
        return web.Response(status=200, text="ok")

    @staticmethod
    def _json(data: object) -> web.Response:
        return web.Response(body=orjson.dumps(data), content_type="application/json")


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    sink = Sink()
    server = web.Server(sink.handle, access_log=None)
    runner = web.ServerRunner(server, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Parse the command line and run the sink (on uvloop when it is installed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
