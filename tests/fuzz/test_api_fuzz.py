"""Schema-driven fuzzing of the whole HTTP API (schemathesis) from the running hub's own ``/openapi.json``.

Schemathesis generates requests, valid and invalid, for every operation of the document and sends them to a
real hub on loopback, once per identity: a partner of each kind (an NHS trust, a council, a hostel), an
operator, and a scheduler identity (which may only fire pathway timers, so every other operation must say 403
as the document declares). Every check is on: no 5xx, every status, content type, header and body as the
document says (so every error is ``application/problem+json`` with the ``Problem`` schema), invalid data
refused, valid data not refused for a reason the document could have said, authentication enforced where
declared, 405 with ``Allow``. The run must test every operation the document has.

The example count and seed are bounded and fixed in ``make test`` (``FUZZ_EXAMPLES``, seed 8, so a run is
reproducible); ``make fuzz`` runs the same test longer with ``HUB_FUZZ_EXAMPLES`` and ``HUB_FUZZ_SEED`` (see
docs/reliability.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.auth import generate_token, hash_token
from hub.testing.world import HubWorld, build_world

HOOKS = Path(__file__).resolve().parent
SCHEDULER = "fuzz-scheduler"
IDENTITIES = ["trust-a", "council-luton", "steps-luton", "ops", SCHEDULER]

# 422 (and 400 for a non-canonical format) can answer data the document calls valid: the NHS number's
# Modulus 11, the sender being the caller, an answer to a message never received, a FHIR Bundle's or an
# HL7 message's content are rules no JSON Schema of these bodies states. Every other status is as declared.
FUZZ_CONFIG = """
[checks]
enabled = true
positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "422"]
"""
FUZZ_EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "10"))
FUZZ_SEED = os.environ.get("HUB_FUZZ_SEED", "8")


@pytest.fixture(scope="module")
def fuzzed_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubWorld]:
    """One hub with the standard partners and a scheduler identity for the module (``tokens[SCHEDULER]``)."""
    token = generate_token()
    identity = {"name": SCHEDULER, "token_sha256": hash_token(token)}
    with build_world(tmp_path_factory.mktemp("api-fuzz") / "config",
                     settings={"pathway": {"scheduler_identities": [identity]}}) as world:  # fmt: skip
        world.tokens[SCHEDULER] = token
        yield world


def operation_count(spec: dict[str, Any]) -> int:
    """How many operations the document has (methods under its paths)."""
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(1 for operations in spec["paths"].values() for method in operations if method in methods)


@pytest.mark.parametrize("who", IDENTITIES)
def test_the_fuzzer_finds_nothing_the_openapi_document_does_not_say(
    fuzzed_world: HubWorld, who: str, tmp_path: Path
) -> None:
    spec = requests.get(f"{fuzzed_world.url}/openapi.json", timeout=5).json()
    config = tmp_path / "schemathesis.toml"
    config.write_text(FUZZ_CONFIG)
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
               "run", f"{fuzzed_world.url}/openapi.json", "--checks", "all", "--mode", "all",
               "--max-examples", str(FUZZ_EXAMPLES), "--seed", FUZZ_SEED, "--workers", "1", "--request-timeout", "10",
               "--header", f"Authorization: Bearer {fuzzed_world.tokens[who]}", "--warnings", "off"]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "ndjson_hooks",
           "PYTHONPATH": os.pathsep.join([str(HOOKS), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]
    tested = re.search(r"^\s*Tested: (\d+)\s*$", result.stdout, re.MULTILINE)
    assert tested is not None, result.stdout[-3000:]
    assert int(tested.group(1)) == operation_count(spec), result.stdout[-3000:]
