"""Partner and operator tokens: issue new ones and write their digests into ``partners.toml``.

A token is shown once, to be handed to its owner; the hub keeps only its SHA-256
digest (``token_sha256``), so a lost token is replaced, never recovered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hub.auth import generate_token, hash_token


@dataclass(frozen=True)
class IssuedToken:
    """A new token and the ``token_sha256`` digest that goes in its owner's table."""

    token: str
    sha256: str

    @property
    def toml_line(self) -> str:
        """The line to add to the owner's ``[[partner]]`` (or operator) table."""
        return f'token_sha256 = "{self.sha256}"'


def issue_token() -> IssuedToken:
    """A fresh random token and its digest; nothing is written."""
    token = generate_token()
    return IssuedToken(token, hash_token(token))


def add_tokens(partners_file: Path) -> dict[str, str]:
    """Give every table with an ``id`` in ``partners_file`` a new token; return ``{id: token}`` in file order.

    Writes the digest line right after each ``id = "..."`` line and leaves every
    other line as it was (comments included). Meant for a fresh copy of the example
    deployment, whose tables carry no digest yet.
    """
    tokens: dict[str, str] = {}
    out = []
    for line in partners_file.read_text().splitlines():
        out.append(line)
        stripped = line.strip()
        if stripped.startswith("id = "):
            ident = json.loads(stripped.split("=", 1)[1].strip())
            issued = issue_token()
            tokens[ident] = issued.token
            out.append(issued.toml_line)
    partners_file.write_text("\n".join(out) + "\n")
    return tokens
