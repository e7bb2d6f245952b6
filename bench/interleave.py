"""Run several benchmark commands in interleaved rounds (the order rotated each round) and print medians.

Each configuration is ``NAME=COMMAND`` (a shell command run from the current directory). The floor
(``../shared/bench/floor.py``, which prints one JSON line) and ``bench/throughput.py`` (which prints a table) are
understood: from each run the script takes delivered/s, accepted/s, committed/s (batch), the p50 and p99
submit-to-partner and the CPU row, then prints every run as it ends, and at the end the medians per configuration
and, when a configuration is named ``floor``, each median's ratio to the floor's (and each round's ratio to the floor
of the same round). A machine shared with other work moves every figure; interleaving spreads that over all of
them, and the per-round ratios show how much.

    PY=/work/main/.venv/bin/python
    $PY bench/interleave.py --rounds 3 \\
        "floor=$PY ../shared/bench/floor.py --n 10000" \\
        "sqlite=$PY bench/throughput.py --mode max --messages 10000"

It asserts nothing about timing; a run that fails is shown as such and left out of the medians.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

FIGURES = {
    "delivered/s": re.compile(r"delivered/s \((?:first submit|backlog drain)[^)]*\)\s+([\d,]+)"),
    "accepted/s": re.compile(r"accepted/s \(202s, sending phase\)\s+([\d,]+)"),
    "committed/s": re.compile(r"committed/s \(accepted lines\)\s+([\d,]+)"),
    "p50 ms": re.compile(r"submit-to-partner p50 / p99 / max \(ms\)\s+([\d,.]+) / "),
    "p99 ms": re.compile(r"submit-to-partner p50 / p99 / max \(ms\)\s+[\d,.]+ / ([\d,.]+) / "),
}
CPU = re.compile(r"cpu \(100% = one core\)\s+(.+?)\s*$", re.MULTILINE)


def figures_of(output: str) -> dict[str, float]:
    """The figures one run printed (the floor's JSON line or throughput.py's table)."""
    for line in output.splitlines():
        if line.startswith("{") and "delivered_per_s" in line:
            data = json.loads(line)
            return {"delivered/s": data["delivered_per_s"], "accepted/s": data["accepted_per_s"],
                    "p50 ms": data["p50_ms"], "p99 ms": data["p99_ms"]}  # fmt: skip
    found: dict[str, float] = {}
    for name, pattern in FIGURES.items():
        match = pattern.search(output)
        if match:
            found[name] = float(match.group(1).replace(",", ""))
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the rounds; 0 when every run succeeded."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("configs", nargs="+", metavar="NAME=COMMAND")
    args = parser.parse_args(argv)
    configs = [tuple(c.split("=", 1)) for c in args.configs]
    if any(len(c) != 2 for c in configs):
        parser.error("each configuration is NAME=COMMAND")
    names = [c[0] for c in configs]
    results: dict[str, list[dict[str, float] | None]] = {name: [] for name in names}
    failed = False
    print(f"interleaved runs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.rounds} rounds", flush=True)
    for round_no in range(args.rounds):
        order = configs[round_no % len(configs) :] + configs[: round_no % len(configs)]
        for name, command in order:
            started = time.monotonic()
            done = subprocess.run(command, shell=True, capture_output=True, text=True)
            output = done.stdout + done.stderr
            figures = figures_of(done.stdout)
            cpu = CPU.findall(done.stdout)
            ok = done.returncode == 0 and ("delivered/s" in figures or "committed/s" in figures)
            failed = failed or not ok
            results[name].append(figures if ok else None)
            shown = ", ".join(f"{k} {v:,.1f}" for k, v in figures.items())
            stamp = f"{datetime.now(UTC):%H:%M:%S}"
            took = f"({time.monotonic() - started:.0f} s)"
            print(f"round {round_no + 1} {stamp} {name}: {shown} [{'; '.join(cpu)}] {took}"
                  f"{'' if ok else ' FAILED: ' + output[-800:]}", flush=True)  # fmt: skip
    print("\nmedians [per round]:")
    floor = results.get("floor")
    for name in names:
        runs = results[name]
        keys = sorted({k for r in runs if r for k in r})
        parts = []
        for key in keys:
            values = [r[key] if r and key in r else float("nan") for r in runs]
            good = [v for v in values if v == v]
            if good:
                parts.append(f"{key} {statistics.median(good):,.1f} [{', '.join(f'{v:,.1f}' for v in values)}]")
        line = f"  {name}: " + "; ".join(parts)
        if floor is not None and name != "floor":
            ratios = []
            for mine, base in zip(runs, floor, strict=True):
                if mine and base and "delivered/s" in mine and base.get("delivered/s"):
                    ratios.append(mine["delivered/s"] / base["delivered/s"])
                else:
                    ratios.append(float("nan"))
            good = [r for r in ratios if r == r]
            mine_d = [r["delivered/s"] for r in runs if r and "delivered/s" in r]
            floor_d = [r["delivered/s"] for r in floor if r and "delivered/s" in r]
            if good and mine_d and floor_d:
                line += (f"; ratio to the floor per round [{', '.join(f'{r:.2f}' for r in ratios)}], "
                         f"median of ratios {statistics.median(good):.2f}, "
                         f"ratio of medians {statistics.median(mine_d) / statistics.median(floor_d):.2f}")  # fmt: skip
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
