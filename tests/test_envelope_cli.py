"""The envelope command line and the partner guide's worked examples."""

from __future__ import annotations

import json
import re
import stat
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from envelope_kit import (
    BODY,
    META,
    fresh_keys,
    seal,
)

from hub.envelope import (
    Jwk,
    generate_key,
    load_jwk,
    open_envelope,
)
from hub.envelope.cli import envelope as envelope_cli


@pytest.fixture(scope="module")
def keys() -> dict[str, Jwk]:
    return fresh_keys()


# -- command line ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("sig", "enc"), [("EdDSA", "X25519"), ("ES256", "P-256")])
def test_cli_keygen_seal_and_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: str, enc: str) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for kind, alg, name in (("sig", sig, "trust"), ("enc", enc, "council")):
        result = runner.invoke(envelope_cli, ["keygen", "--kind", kind, "--alg", alg, "--out", name])
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE((tmp_path / f"{name}.jwk").stat().st_mode) == 0o600
        assert "d" not in json.loads((tmp_path / f"{name}.pub.jwk").read_text())
        assert result.output.strip() == load_jwk((tmp_path / f"{name}.jwk").read_text()).kid
    (tmp_path / "body.json").write_bytes(BODY)
    sealed = runner.invoke(
        envelope_cli,
        [
            "seal",
            "--sign-key",
            "trust.jwk",
            "--to",
            "council.pub.jwk",
            "--type",
            "Referral",
            "--sender",
            "trust-a",
            "--recipient",
            "council-luton",
            "--message-id",
            "m-1",
            "body.json",
        ],
    )
    assert sealed.exit_code == 0, sealed.output
    (tmp_path / "sealed.jose").write_text(sealed.output)
    opened = runner.invoke(
        envelope_cli,
        [
            "open",
            "--key",
            "council.jwk",
            "--from",
            "trust.pub.jwk",
            "--sender",
            "trust-a",
            "--recipient",
            "council-luton",
            "--metadata",
            "sealed.jose",
        ],
    )
    assert opened.exit_code == 0, opened.output
    assert opened.stdout_bytes == BODY
    assert json.loads(opened.stderr)["message_id"] == "m-1"
    refused = runner.invoke(
        envelope_cli, ["open", "--key", "council.jwk", "--from", "trust.pub.jwk", "--sender", "trust-b", "sealed.jose"]
    )
    assert refused.exit_code == 1 and "refused: envelope is not from the expected sender" in refused.stderr
    again = runner.invoke(envelope_cli, ["keygen", "--kind", "sig", "--alg", sig, "--out", "trust"])
    assert again.exit_code == 2 and "already exists" in again.stderr
    mismatch = runner.invoke(envelope_cli, ["keygen", "--kind", "sig", "--alg", "X25519", "--out", "x"])
    assert mismatch.exit_code == 2


def test_cli_seals_to_several_recipients_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for kind, alg, name in (("sig", "EdDSA", "s"), ("enc", "X25519", "a"), ("enc", "P-256", "b")):
        assert runner.invoke(envelope_cli, ["keygen", "--kind", kind, "--alg", alg, "--out", name]).exit_code == 0
    (tmp_path / "body").write_bytes(BODY)
    sealed = runner.invoke(
        envelope_cli,
        [
            "seal",
            "--sign-key",
            "s.jwk",
            "--to",
            "a.pub.jwk",
            "--to",
            "b.pub.jwk",
            "--type",
            "Referral",
            "--sender",
            "trust-a",
            "--recipient",
            "org-a",
            "--recipient",
            "org-b",
            "body",
        ],
    )
    assert sealed.exit_code == 0, sealed.output
    assert len(json.loads(sealed.output)["recipients"]) == 2
    (tmp_path / "sealed.json").write_text(sealed.output)
    opened = runner.invoke(
        envelope_cli, ["open", "--key", "b.jwk", "--from", "s.pub.jwk", "--recipient", "org-b", "sealed.json"]
    )
    assert opened.exit_code == 0 and opened.stdout_bytes == BODY


# -- the partner guide's examples run ---------------------------------------------------------------
def test_the_worked_examples_in_docs_envelopes_md_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "envelopes.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)
    assert len(blocks) == 3  # the hub's library, jwcrypto, joserfc
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    names = (("sig", "EdDSA", "hub.sig"), ("enc", "X25519", "hub.enc"), ("sig", "EdDSA", "council-sig"))
    for kind, alg, name in (*names, ("enc", "X25519", "council")):
        assert runner.invoke(envelope_cli, ["keygen", "--kind", kind, "--alg", alg, "--out", name]).exit_code == 0
    key = {name: load_jwk(Path(f"{name}.jwk").read_text()) for name in ("hub.sig", "hub.enc", "council-sig", "council")}
    meta = replace(META, sender="hub", issued_at=None)
    rotating = [generate_key("enc", "P-256"), key["council"]]  # the JSON form, while the council has two keys
    compact, general = (
        seal(key["hub.sig"], key["council"], meta),
        seal(key["hub.sig"], rotating, meta, serialization="json"),
    )
    for envelope in (compact, general):
        Path("envelope.jose").write_text(envelope)
        for stale in Path().glob("reply*.jose"):
            stale.unlink()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc's note on EdDSA
            for number, block in enumerate(blocks):
                exec(compile(block, f"docs/envelopes.md python block {number + 1}", "exec"), {})
        assert capsys.readouterr().out.count(f"{META.message_type}") == 3
        check_replies(key)


def check_replies(key: dict[str, Jwk]) -> None:
    """The replies the guide's examples sealed open for the hub."""
    for reply in ("reply-from-library.jose", "reply.jose"):
        opened = open_envelope(
            Path(reply).read_text(),
            sender_keys=key["council-sig"].public(),
            recipient_keys=key["hub.enc"],
            expected_sender="council-luton",
            expected_recipient="hub",
            max_age=60,
        )
        assert opened.payload == b'{"status": "accepted"}'
        assert opened.metadata.message_type == "Acknowledgement"
