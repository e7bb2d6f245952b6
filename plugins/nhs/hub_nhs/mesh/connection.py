"""How the hub reaches a MESH mailbox: endpoint, mailbox, secrets from the environment, TLS files.

Contract: ``MeshConnection.from_options(options)`` reads one options table (a
listener's ``[listeners.mesh]`` or a partner's ``receive.options``) and
``open()`` returns a ``mesh_client.MeshClient``. Secrets never live in config
files: the password and the shared key are read from the environment variables
the options name (defaults ``HUB_MESH_PASSWORD`` and ``HUB_MESH_SHARED_KEY``).
``mesh_client`` is synchronous: call it from a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh_client import MeshClient

DEFAULT_CHUNK_BYTES = 20 * 1024 * 1024


class MeshConfigError(ValueError):
    """A MESH option is missing or wrong; the message names the option."""


@dataclass(frozen=True)
class MeshConnection:
    """One mailbox on one MESH endpoint, as the hub signs in to it."""

    url: str
    mailbox: str
    password: str
    shared_key: bytes
    client_cert: str | None = None
    client_key: str | None = None
    ca_file: str | None = None
    max_chunk_size: int = DEFAULT_CHUNK_BYTES
    timeout_seconds: float = 60.0

    @classmethod
    def from_options(cls, options: dict[str, Any], *, where: str, url: str | None = None,
                     mailbox_key: str = "mailbox", base_dir: Path | None = None) -> MeshConnection:  # fmt: skip
        """Read a connection from ``options``; ``where`` names the table in error messages.

        Certificate and CA files are named relative to ``base_dir`` (the config directory) when given.
        """

        def path(name: str) -> str | None:
            value = options.get(name)
            if value is None or base_dir is None:
                return value
            return str((base_dir / str(value)).resolve())

        endpoint = options.get("url") or url or os.environ.get("HUB_MESH_URL")
        mailbox = options.get(mailbox_key) or os.environ.get("HUB_MESH_MAILBOX")
        password_env = str(options.get("password_env", "HUB_MESH_PASSWORD"))
        key_env = str(options.get("shared_key_env", "HUB_MESH_SHARED_KEY"))
        missing = [name for name, value in (("url", endpoint), (mailbox_key, mailbox)) if not value]
        missing += [f"environment variable {env}" for env in (password_env, key_env) if not os.environ.get(env)]
        if missing:
            raise MeshConfigError(f"{where}: MESH needs {', '.join(missing)}")
        return cls(
            url=str(endpoint),
            mailbox=str(mailbox).upper(),
            password=os.environ[password_env],
            shared_key=os.environ[key_env].encode("utf-8"),
            client_cert=path("client_cert"),
            client_key=path("client_key"),
            ca_file=path("ca_file"),
            max_chunk_size=int(options.get("max_chunk_bytes", DEFAULT_CHUNK_BYTES)),
            timeout_seconds=float(options.get("timeout_seconds", 60.0)),
        )

    def open(self, answered: list[int] | None = None) -> MeshClient:
        """A new client signed in as this mailbox (the caller closes it).

        With ``answered``, the HTTP status of every answer MESH gives the client is appended to it: mesh_client
        raises the same ``MeshError`` for a send MESH refuses for good and one it cannot take just now, so the
        status is what tells them apart.
        """
        cert = (self.client_cert, self.client_key) if self.client_cert and self.client_key else None
        client = MeshClient(self.url, self.mailbox, self.password, shared_key=self.shared_key, cert=cert,
                            verify=self.ca_file, max_chunk_size=self.max_chunk_size, timeout=self.timeout_seconds,
                            max_retries=1, application_name="partner-hub")  # fmt: skip
        if answered is not None:
            # a requests response hook on the client's session (mesh_client keeps it as ``_session``)
            client._session.hooks["response"].append(lambda response, *args, **kwargs: answered.append(
                response.status_code))  # fmt: skip
        return client
