"""Coverage-guided fuzzing of the hub's parsers with atheris (libFuzzer), for long runs outside the test suite.

Usage (``make fuzz-atheris`` runs every target)::

    python tests/fuzz/atheris_parsers.py --all --seconds 120 --out var/atheris
    python tests/fuzz/atheris_parsers.py --target fhir-r4:application/fhir+xml --seconds 600 --out var/atheris
    python tests/fuzz/atheris_parsers.py --list

Targets: strict JSON, every loaded adapter's parse for each media type it reads (canonical JSON, FHIR JSON and
XML, HL7 v2, council XML, forms), sealed envelopes, MLLP framing. Each starts from valid inputs (what the
adapters render for the example messages, a sealed envelope, framed messages) kept in ``OUT/corpus/TARGET``,
which grows as libFuzzer finds new paths and is reused next run. An input passes when the parser returns or
raises its own error (a 4xx ``HubError`` for an adapter, ``UnparseableInput``, ``EnvelopeError``; nothing for
framing). Bounds per input: 5 s (``-timeout``), 1 GiB of resident memory for the process (``-rss_limit_mb``,
which sees C allocations too, libxml2's included), inputs up to 256 KiB (``-max_len``). An input that breaks
a rule is written to ``OUT/TARGET-crash-*`` (or ``-timeout-``, ``-oom-``) and the run fails. Each target runs
in a process of its own (libFuzzer runs once per process); the summary gives the inputs each one ran.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_LEN = 256 * 1024
INSTRUMENTED = ("hub", "hub_nhs", "hub_council", "hub_hostels", "hub_charity_crm")


def targets() -> dict[str, tuple[Callable[[bytes], object], tuple[type[BaseException], ...], list[bytes]]]:
    """``{name: (read, allowed errors, seed inputs)}`` for every parser."""
    from hub.envelope import EnvelopeError, EnvelopeMetadata, generate_key, open_envelope, seal_envelope
    from hub.plugin_api.problems import HubError, UnparseableInput
    from hub.plugins import load_plugins
    from hub.strict_json import parse_json_strict
    from hub.testing.conformance import conformance_partner
    from hub.testing.messages import discharge_notice, housing_request

    messages = [discharge_notice(), housing_request()]
    found: dict[str, tuple[Callable[[bytes], object], tuple[type[BaseException], ...], list[bytes]]] = {
        "strict-json": (parse_json_strict, (UnparseableInput,), [json.dumps(m).encode() for m in messages]),
    }
    fixtures = Path(__file__).resolve().parents[2] / "plugins" / "nhs" / "tests" / "fixtures"
    for name, adapter in sorted(load_plugins().adapters.items()):
        rendered_bodies = []
        for message in messages:
            try:
                rendered_bodies.append(adapter.render(message, partner=conformance_partner(name)).body)
            except Exception:  # an adapter renders only its own types: the others give no seed
                continue
        for content_type in adapter.content_types:
            suffix = ".xml" if content_type.endswith("xml") else ".json"
            seeds = [*rendered_bodies, *(p.read_bytes() for p in sorted(fixtures.glob(f"fhir-*{suffix}"))
                                         if name.startswith("fhir"))]  # fmt: skip

            def parse(body: bytes, adapter: Any = adapter, content_type: str = content_type) -> None:
                try:
                    adapter.parse(body, content_type=content_type, sender_id="trust-a")
                except HubError as exc:
                    if not 400 <= exc.status < 500:
                        raise AssertionError(f"a {type(exc).__name__} ({exc.status}) for bad input") from exc
                    raise

            found[f"{name}:{content_type}"] = (parse, (HubError,), seeds)
    signing, ours = generate_key("sig", "EdDSA"), generate_key("enc", "X25519")
    meta = EnvelopeMetadata("6f1c2b9e-1d7a-4c3e-9a51-0b8f2f6c1e11", "DischargeNotice", "trust-a", "council-luton")
    sealed = seal_envelope(json.dumps(messages[0]).encode(), metadata=meta, signing_key=signing,
                           recipient_keys=ours.public())  # fmt: skip

    def open_sealed(data: bytes) -> object:
        return open_envelope(data, sender_keys=signing.public(), recipient_keys=ours, expected_sender="trust-a",
                             expected_recipient="council-luton")  # fmt: skip

    found["envelope"] = (open_sealed, (EnvelopeError,), [sealed.encode()])
    try:
        from hub_nhs.hl7v2.framing import FrameDecoder, frame
    except ImportError:
        return found

    def decode(data: bytes) -> None:
        decoder = FrameDecoder(4096)
        for start in range(0, len(data), 97):
            decoder.feed(data[start : start + 97])

    found["mllp-framing"] = (decode, (), [frame(b"MSH|^~\\&|A|B\rPID|1") * 2])
    return found


def safe_name(target: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", target)


def run_one(target: str, seconds: int, out: Path) -> None:
    """Fuzz one target in this process (atheris and libFuzzer run once per process); never returns."""
    import atheris

    with atheris.instrument_imports(include=list(INSTRUMENTED)):  # the hub's code and its plugins', not the libraries'
        read, allowed, seeds = targets()[target]
    corpus = out / "corpus" / safe_name(target)
    corpus.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(seeds):
        (corpus / f"seed-{number}").write_bytes(seed)

    def one(data: bytes) -> None:
        with contextlib.suppress(*allowed):
            read(data)

    atheris.Setup([sys.argv[0], str(corpus), f"-max_total_time={seconds}", "-timeout=5", "-rss_limit_mb=1024",
                   f"-max_len={MAX_LEN}", f"-artifact_prefix={out / safe_name(target)}-", "-print_final_stats=1"],
                  one, enable_python_coverage=True)  # fmt: skip
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description="Coverage-guided fuzzing of the hub's parsers (atheris)")
    parser.add_argument("--target", help="one target (see --list)")
    parser.add_argument("--all", action="store_true", help="every target, one after the other")
    parser.add_argument("--list", action="store_true", help="name the targets")
    parser.add_argument("--seconds", type=int, default=120, help="how long to fuzz each target")
    parser.add_argument("--out", type=Path, default=Path("var/atheris"), help="corpus and crashing inputs")
    args = parser.parse_args()
    if args.list:
        print("\n".join(targets()))
        return 0
    if args.target:
        args.out.mkdir(parents=True, exist_ok=True)
        run_one(args.target, args.seconds, args.out.resolve())
    if not args.all:
        parser.error("give --target NAME, --all or --list")
    failed = []
    for target in targets():
        result = subprocess.run([sys.executable, __file__, "--target", target, "--seconds", str(args.seconds),
                                 "--out", str(args.out)], capture_output=True, text=True)  # fmt: skip
        runs = re.search(r"stat::number_of_executed_units:\s+(\d+)", result.stderr)
        peak = re.search(r"stat::peak_rss_mb:\s+(\d+)", result.stderr)
        print(f"{target}: {'ok' if result.returncode == 0 else 'FAILED'}, {runs.group(1) if runs else '?'} inputs "
              f"in {args.seconds} s, peak RSS {peak.group(1) if peak else '?'} MB", flush=True)  # fmt: skip
        if result.returncode != 0:
            failed.append(target)
            print(result.stderr[-4000:], file=sys.stderr)
    if failed:
        print(f"failed: {', '.join(failed)} (the inputs are in {args.out})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
