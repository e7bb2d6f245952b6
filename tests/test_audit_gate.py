"""``make audit``'s gate (.ci/audit): a known vulnerability fails unless allowed with a reason; missing advisory data
is said, and fails unless ``--allow-unaudited``; without live advisories, a copy of an OSV advisory database is read.

pip-audit is stood in for by a script that writes the report a real run writes (its JSON format), so each verdict
is checked without depending on what PyPI's advisory database says today; docs/reliability.md has a real run. The
OSV advisories are written by the tests, about a distribution really installed here (pytest), at its version and not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

AUDIT = Path(__file__).resolve().parents[1] / ".ci" / "audit"
VULN = {"id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2099-0001"], "fix_versions": ["2.0"], "description": "x"}


def run_gate(tmp_path: Path, dependencies: list[dict[str, Any]], allow: str = "", *extra: str) -> Any:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"dependencies": dependencies, "fixes": []}))
    fake = tmp_path / "pip-audit"
    fake.write_text(f"#!{sys.executable}\nimport shutil, sys\n"
                    f"shutil.copy({str(report)!r}, sys.argv[sys.argv.index('--output') + 1])\n")  # fmt: skip
    fake.chmod(0o755)
    allow_file = tmp_path / "allow.toml"
    allow_file.write_text(allow)
    return subprocess.run([sys.executable, str(AUDIT), "--pip-audit", str(fake), "--python", sys.executable,
                           "--allow", str(allow_file), *extra], capture_output=True, text=True, timeout=60)  # fmt: skip


def test_a_clean_audit_passes(tmp_path: Path) -> None:
    result = run_gate(tmp_path, [{"name": "requests", "version": "2.32.0", "vulns": []}])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 audited" in result.stdout


def test_a_known_vulnerability_fails_unless_allowed_with_a_reason(tmp_path: Path) -> None:
    vulnerable = [{"name": "Requests", "version": "1.0", "vulns": [VULN]}]
    refused = run_gate(tmp_path, vulnerable)
    assert refused.returncode == 1 and "VULNERABLE  Requests 1.0: GHSA-aaaa-bbbb-cccc" in refused.stdout
    allowed = run_gate(tmp_path, vulnerable, '[[allow]]\nid = "cve-2099-0001"\npackage = "requests"\n'
                                             'reason = "the hub never calls the affected function"\n')  # fmt: skip
    assert allowed.returncode == 0, allowed.stdout
    assert "allowed: the hub never calls the affected function" in allowed.stdout
    unexplained = run_gate(tmp_path, vulnerable, '[[allow]]\nid = "CVE-2099-0001"\npackage = "requests"\n')
    assert unexplained.returncode != 0 and "has no reason" in unexplained.stderr


def test_missing_advisory_data_is_said_and_fails_unless_allowed(tmp_path: Path) -> None:
    skipped = [{"name": "lxml", "version": "6.2.0",
                "skip_reason": "Dependency not found on PyPI and could not be audited: lxml (6.2.0)"}]  # fmt: skip
    strict = run_gate(tmp_path, skipped)
    assert strict.returncode == 3 and "FAILED: no advisory data for 1 of 1" in strict.stdout
    lenient = run_gate(tmp_path, skipped, "", "--allow-unaudited")
    assert lenient.returncode == 0 and "WARNING: no advisory data for 1 of 1" in lenient.stdout


def test_an_audit_that_cannot_run_is_said_and_fails_unless_allowed(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pip-audit").write_text("#!/bin/sh\necho 'cannot reach pypi.org' >&2\nexit 1\n")  # writes no report
    (broken / "pip-audit").chmod(0o755)
    strict = subprocess.run([sys.executable, str(AUDIT), "--pip-audit", str(broken / "pip-audit"),
                             "--python", sys.executable], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert strict.returncode == 3 and "cannot reach pypi.org" in strict.stderr and "FAILED" in strict.stderr
    lenient = subprocess.run([sys.executable, str(AUDIT), "--pip-audit", str(broken / "pip-audit"),
                              "--python", sys.executable, "--allow-unaudited"], capture_output=True, text=True,
                             timeout=60)  # fmt: skip
    assert lenient.returncode == 0 and "WARNING: pip-audit gave no report" in lenient.stderr


def osv_copy(tmp_path: Path) -> Path:
    """OSV advisories: one affecting the installed pytest (YAML), two not (JSON: other versions, withdrawn)."""
    folder = tmp_path / "vulns"
    (folder / "pytest").mkdir(parents=True)
    (folder / "pytest" / "PYSEC-2099-1.yaml").write_text(
        "id: PYSEC-2099-1\naliases: [CVE-2099-0002]\nmodified: '2026-07-01T00:00:00Z'\naffected:\n"
        "- package: {name: PyTest, ecosystem: PyPI}\n  ranges:\n  - type: ECOSYSTEM\n"
        f"    events: [{{introduced: '0'}}, {{fixed: '{pytest.__version__}.post1'}}]\n"
    )
    others: dict[str, dict[str, Any]] = {
        "PYSEC-2099-2": {"events": [{"introduced": "0"}, {"fixed": "1.0"}]},
        "PYSEC-2099-3": {"events": [{"introduced": "0"}], "withdrawn": "2026-01-01T00:00:00Z"},
    }
    for name, body in others.items():
        record = {"id": name, "modified": "2026-06-01T00:00:00Z", "withdrawn": body.get("withdrawn"),
                  "affected": [{"package": {"name": "pytest", "ecosystem": "PyPI"},
                                "ranges": [{"type": "ECOSYSTEM", "events": body["events"]}]}]}  # fmt: skip
        (folder / "pytest" / f"{name}.json").write_text(json.dumps({k: v for k, v in record.items() if v}))
    return folder


def test_without_live_advisories_the_osv_copy_judges_the_installed_distributions(tmp_path: Path) -> None:
    broken = tmp_path / "pip-audit"
    broken.write_text("#!/bin/sh\necho 'cannot reach pypi.org' >&2\nexit 1\n")
    broken.chmod(0o755)
    command = [sys.executable, str(AUDIT), "--pip-audit", str(broken), "--python", sys.executable,
               "--advisories", str(osv_copy(tmp_path))]  # fmt: skip
    found = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert found.returncode == 1, found.stdout + found.stderr
    assert f"VULNERABLE  pytest {pytest.__version__}: PYSEC-2099-1, CVE-2099-0002" in found.stdout
    assert "PYSEC-2099-2" not in found.stdout and "PYSEC-2099-3" not in found.stdout
    assert "2 advisories, the newest modified 2026-07-01" in found.stdout
    allow = tmp_path / "allow.toml"
    allow.write_text('[[allow]]\nid = "CVE-2099-0002"\npackage = "pytest"\nreason = "a test tool, never served"\n')
    allowed = subprocess.run([*command, "--allow", str(allow)], capture_output=True, text=True, timeout=120)
    assert allowed.returncode == 0 and "allowed: a test tool, never served" in allowed.stdout, allowed.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    unreadable = [*command[:-1], str(empty)]
    strict = subprocess.run(unreadable, capture_output=True, text=True, timeout=120)
    assert strict.returncode == 3 and "no OSV advisory" in strict.stderr
    lenient = subprocess.run([*unreadable, "--allow-unaudited"], capture_output=True, text=True, timeout=120)
    assert lenient.returncode == 0 and "no OSV advisory" in lenient.stderr


def test_live_advisories_are_preferred_to_the_osv_copy(tmp_path: Path) -> None:
    live = run_gate(tmp_path, [{"name": "pytest", "version": pytest.__version__, "vulns": []}], "",
                    "--advisories", str(osv_copy(tmp_path)))  # fmt: skip
    assert live.returncode == 0 and "PYSEC-2099-1" not in live.stdout and "OSV" not in live.stdout, live.stdout
