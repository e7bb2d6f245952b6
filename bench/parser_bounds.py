"""How long and how much Python memory each parser takes for one fuzzed input, at worst over N inputs.

The same targets as ``tests/fuzz/atheris_parsers.py`` (strict JSON, every loaded adapter's parse for each media
type, sealed envelopes, MLLP framing), fed the same inputs as the suite's fuzz tests (``hub.testing.fuzzing``:
arbitrary bytes, meaningful tokens and damaged valid inputs, up to 256 KiB), the same ones every run. For each
target it prints the inputs run, the largest, the highest peak of Python allocations in one call
(``tracemalloc``) and the slowest call. It asserts nothing: the tests hold the bounds (5 s, 64 MiB); this
shows how far below them the parsers stay (docs/reliability.md).

    python bench/parser_bounds.py [--inputs 300]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from hub.testing.fuzzing import inputs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))
from atheris_parsers import targets  # the fuzz targets live beside the tests


def measure(
    read: Callable[[bytes], object], allowed: tuple[type[BaseException], ...], seeds: list[bytes], count: int
) -> dict[str, float]:
    """The worst over ``count`` inputs: how many were run, the largest, the highest peak, the slowest call."""
    worst = {"inputs": 0, "largest": 0, "peak": 0, "slowest": 0.0}

    @settings(max_examples=count, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(inputs(seeds))
    def one(data: bytes) -> None:
        tracemalloc.start()
        started = time.perf_counter()
        try:
            read(data)
        except allowed:
            pass
        finally:
            took = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        worst["inputs"] += 1
        worst["largest"] = max(worst["largest"], len(data))
        worst["peak"] = max(worst["peak"], peak)
        worst["slowest"] = max(worst["slowest"], took)

    one()
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--inputs", type=int, default=300, help="inputs per target")
    args = parser.parse_args()
    for name, (read, allowed, seeds) in targets().items():
        worst = measure(read, allowed, seeds, args.inputs)
        print(f"{name}: {worst['inputs']:.0f} inputs up to {worst['largest']:,.0f} bytes; peak "
              f"{worst['peak'] / 2**20:.1f} MiB, slowest {worst['slowest'] * 1000:.0f} ms", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
