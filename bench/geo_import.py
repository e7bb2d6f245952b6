"""Benchmark ``hub geo import`` on a generated ONSPD-shaped CSV: time and peak memory (RSS).

Usage::

    .venv/bin/python bench/geo_import.py [--rows 1000000] [--keep DIR]

Writes a CSV with the ONSPD's shape (many columns; ``pcds`` and ``oslaua``
among them), runs ``hub geo import`` on it in a child process and reports the
child's wall time and peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``),
next to the peak RSS of a child that only starts the CLI (``hub --help``), so
the import's own memory is the difference. Memory is bounded when the peak does
not grow with ``--rows`` (try 100000 and 1000000).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEADER = "pcd,pcd2,pcds,dointr,doterm,oscty,ced,oslaua,osward,parish,usertype,oseast1m,osnrth1m,ctry,rgn,lsoa21\n"


def synthetic_postcode(n: int) -> str:
    """The n-th of many distinct, well-formed (not real) postcodes."""
    inward, rest = n % 6760, n // 6760
    area = LETTERS[rest // 9 // 26 % 26] + LETTERS[rest // 9 % 26]
    return f"{area}{rest % 9 + 1} {inward // 676}{LETTERS[inward // 26 % 26]}{LETTERS[inward % 26]}"


def write_csv(path: Path, rows: int) -> None:
    """An ONSPD-shaped CSV of ``rows`` rows."""
    with path.open("w") as out:
        out.write(HEADER)
        for n in range(rows):
            pc = synthetic_postcode(n)
            authority = f"E0{6 + n % 4}{n % 1000:06d}"
            out.write(f"{pc:<7},{pc},{pc},199801,,E99999999,E58000001,{authority},E05000001,E43000001,0,"
                      f"{500000 + n % 1000},{200000 + n % 997},E92000001,E12000006,E01000001\n")  # fmt: skip


def child_peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """Run ``command`` in a fresh process; return (seconds, its peak RSS in MB)."""
    code = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "elapsed = time.perf_counter() - start\n"
        "assert done.returncode == 0, done.returncode\n"
        "print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, check=True)
    seconds, peak = out.stdout.split()
    return float(seconds), float(peak)


def main() -> None:
    """Generate, import, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="Directory to keep the CSV and geo.db in.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        source, target = directory / "ONSPD-synthetic.csv", directory / "geo.db"
        started = time.perf_counter()
        write_csv(source, args.rows)
        print(f"generated {args.rows} rows, {source.stat().st_size / 2**20:.0f} MB, in "
              f"{time.perf_counter() - started:.1f}s")  # fmt: skip
        hub = [sys.executable, "-m", "hub"]
        _, baseline = child_peak_rss_mb([*hub, "--help"])
        seconds, peak = child_peak_rss_mb([*hub, "geo", "import", str(source), "--into", str(target)])
        print(f"hub geo import: {seconds:.1f}s ({args.rows / seconds:,.0f} rows/s), peak RSS {peak:.1f} MB "
              f"(the CLI alone: {baseline:.1f} MB; the import's own: {peak - baseline:.1f} MB); "
              f"geo.db {target.stat().st_size / 2**20:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
