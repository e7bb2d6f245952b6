"""The plugin API and the public face: what plugins receive, and what ``from hub import ...`` offers."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import hub
from hub.auth import generate_token, hash_token
from hub.config import load_config
from hub.testing import write_config

TRUST = {"id": "trust-a", "kind": "nhs_trust", "receive": {"mode": "pull"}}
COUNCIL = {"id": "council-luton", "kind": "council", "gss_code": "E06000032", "receive": {"mode": "pull"}}


def test_the_partner_plugins_receive_carries_no_token_digest_yet_the_token_still_authenticates(tmp_path: Path) -> None:
    token = generate_token()
    write_config(tmp_path, partners=[dict(TRUST, token_sha256=hash_token(token)), COUNCIL])
    directory = load_config(tmp_path).partners
    partner = directory.partners["trust-a"]
    assert isinstance(partner, hub.Partner)
    assert "token_hashes" not in {f.name for f in dataclasses.fields(partner)}
    assert hash_token(token) not in repr(partner)
    caller = directory.authenticate(token)
    assert caller is not None and caller.id == "trust-a"
    assert directory.has_token("trust-a") and not directory.has_token("council-luton")


def test_the_public_face_loads_the_http_and_xml_helpers_on_first_use() -> None:
    code = (
        "import sys, hub\n"
        "assert 'fastapi' not in sys.modules and 'lxml' not in sys.modules, 'imported too early'\n"
        "from hub import OperatorCaller, hardened_parser\n"
        "assert 'fastapi' in sys.modules and 'lxml' in sys.modules\n"
        "import hub.safe_xml, hub.plugin_api.callers\n"
        "assert hardened_parser is hub.safe_xml.hardened_parser\n"
        "assert OperatorCaller is hub.plugin_api.callers.OperatorCaller\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_name_the_public_face_does_not_have_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        hub.nothing_here  # noqa: B018


def test_everything_the_public_face_lists_can_be_imported() -> None:
    for name in hub.__all__:
        assert getattr(hub, name) is not None, name
