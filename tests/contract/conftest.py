"""Fixtures of the store contract suite: every test runs once per backend in ``stores.BACKENDS``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from contract.stores import BACKENDS, Backend, keyring

from hub.bodies import CodecRegistry
from hub.crypto.at_rest import AesGcmCodec
from hub.crypto.keyring import FileKeyRing
from hub.store import Store, open_store


@dataclass
class Opened:
    """A store under test, with what made it: reopen it, or reach behind it."""

    store: Store
    url: str
    keys: FileKeyRing
    backend: Backend

    def reopen(self, codecs: CodecRegistry | None = None) -> Store:
        """Another store on the same data (as another process would open it)."""
        return open_store(self.url, codecs if codecs is not None else CodecRegistry(AesGcmCodec(self.keys)))

    def execute(self, statement: str, *args: object) -> int:
        """Run one statement on the data behind the store's back; return the rows it changed."""
        return self.backend.execute(self.url, statement, args)


@pytest.fixture(params=sorted(BACKENDS))
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    """A fresh, empty store of each backend, encrypting bodies with a fresh key ring."""
    backend = BACKENDS[request.param]
    keys = keyring(tmp_path)
    url = backend.fresh_url(tmp_path)
    try:
        store = open_store(url, CodecRegistry(AesGcmCodec(keys)))
        yield Opened(store, url, keys, backend)
        store.close()
    finally:
        backend.drop(url)


@pytest.fixture
def store(opened: Opened) -> Store:
    """The store under test."""
    return opened.store
