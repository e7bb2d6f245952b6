"""No input gives a server error; and when the hub does fail, the failure is audited and honest.

A message whose ``type`` is a list or an object is refused like any other bad type (422, per line in a batch).
A failure inside the hub (here a third-party validation plugin that crashes on one message) is a 500 problem
that says an operator was told and gives an incident id, does not invite the sender to send the same thing
again, is on the audit log, and leaves the keep-alive connection open for the next request.
"""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

from hub.config import load_settings
from hub.testing.messages import housing_request

CRASH_MARK = "crash-the-validator"

FAULTY_PLUGIN = f"""
    from hub import hookimpl

    @hookimpl
    def hub_validate_message(message, sender_id):
        if message.get("correlation_id") == {CRASH_MARK!r}:
            raise RuntimeError("a bug in a third-party plugin")
        return []
"""


def install_faulty_plugin(site: Path) -> None:
    """A plugin distribution in ``site``, loaded through its entry point like any third party's."""
    site.mkdir(parents=True)
    (site / "faulty_validator.py").write_text(textwrap.dedent(FAULTY_PLUGIN))
    info = site / "faulty_validator-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: faulty-validator\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[hub.adapters]\nfaulty = faulty_validator\n")


def audit_rows(world, kind: str) -> list[dict[str, Any]]:
    """The audit log's rows of one kind, oldest first: read from the SQLite file itself.

    This reads what lies in the store on purpose: the test is about the row the hub writes on its hash-chained
    audit log when a request fails, and that row belongs to no message, while the store's ports read the log only
    as a message's timeline (``message_view``) or to verify the chain (``verify_audit``, which this test also runs).
    """
    path = load_settings(world.config_dir).store_path
    assert path is not None, "the test world's store is a SQLite file"
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT actor, detail FROM events WHERE kind=? ORDER BY seq", (kind,)).fetchall()
    finally:
        conn.close()
    return [{"actor": actor, **json.loads(detail or "{}")} for actor, detail in rows]


@pytest.mark.parametrize("bad_type", [[], ["HousingRequest"], {}, {"a": 1}, 7, True])
def test_a_type_that_is_not_a_string_is_refused_not_a_server_error(world, bad_type) -> None:
    message = dict(housing_request(), type=bad_type)
    response = world.send("trust-a", message)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["location"] for e in response.json()["errors"]] == ["$.type"]
    batch = world.as_("trust-a").post(f"{world.url}/v1/messages:batch", data=json.dumps(message).encode(),
                                      headers={"Content-Type": "application/x-ndjson"}, timeout=10)  # fmt: skip
    assert batch.status_code == 200, batch.text
    (line,) = batch.json()["results"]
    assert line["status"] == 422 and line["errors"][0]["location"] == "$.type"
    assert world.db_count() == 0


def test_a_server_error_is_audited_keeps_the_connection_and_does_not_invite_a_retry(
    make_world, tmp_path: Path, monkeypatch
) -> None:
    install_faulty_plugin(tmp_path / "site")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")]))
    world = make_world()
    crashing = dict(housing_request(), correlation_id=CRASH_MARK)
    host, port = world.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Authorization": f"Bearer {world.tokens['trust-a']}", "Content-Type": "application/json"}
    try:
        conn.request("POST", "/v1/messages", body=json.dumps(crashing), headers=headers)
        failed = conn.getresponse()
        problem = json.loads(failed.read())
        sock = conn.sock
        assert failed.status == 500
        assert failed.getheader("content-type") == "application/problem+json"
        assert sock is not None, "the hub closed the connection after its 500"
        # the same connection carries the next request
        conn.request("POST", "/v1/messages", body=json.dumps(housing_request()), headers=headers)
        accepted = conn.getresponse()
        accepted.read()
        assert accepted.status == 202
        assert conn.sock is sock
    finally:
        conn.close()
    assert problem["type"] == "urn:partner-hub:problem:internal"
    assert problem["incident"] and problem["incident"] in problem["detail"]
    assert "operator" in problem["detail"] and "send it again" not in problem["detail"].lower()

    batch_body = "\n".join(json.dumps(m) for m in (dict(housing_request(), correlation_id=CRASH_MARK),
                                                   housing_request()))  # fmt: skip
    batch = world.as_("trust-a").post(f"{world.url}/v1/messages:batch", data=batch_body.encode(),
                                      headers={"Content-Type": "application/x-ndjson"}, timeout=10)  # fmt: skip
    assert batch.status_code == 200
    first, second = batch.json()["results"]
    assert first["status"] == 500 and second["status"] == 202
    assert first["incident"] in first["detail"] and "operator" in first["detail"]
    assert "send it again" not in first["detail"].lower()

    failures = audit_rows(world, "request_failed")
    assert [(f["actor"], f["status"], f["path"]) for f in failures] == [
        ("trust-a", 500, "/v1/messages"),
        ("trust-a", 500, "/v1/messages:batch"),
    ]
    assert [f["incident"] for f in failures] == [problem["incident"], first["incident"]]
    assert failures[1]["line"] == 1
    assert world.cli("audit", "verify").returncode == 0  # the rows are links of the chain, like any other
    log = world.hub.log_path.read_text()
    assert problem["incident"] in log and first["incident"] in log
    assert crashing["payload"]["person"]["family_name"] not in log
