"""The rebuilds' part of the store port (``ports.IndexRebuilding``) on either backend, written once.

A backend says how to run a write job (``_rebuild_write``: one transaction, with its audit-chain
appender), a read (``_rebuild_read``) and how to take the rebuild lock (``_rebuild_lock``,
``hub.store.rebuild_lock``); the statements and the jobs are ``hub.store.index_rebuild``'s. Each
method takes the ``purpose`` of the keys being moved: ``index`` (the blind index) or ``fingerprint``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from hub.bodies import CodecRegistry
from hub.plugin_api.events import HubEvent
from hub.store import index_rebuild as rebuild
from hub.store.index_rebuild import IndexRebuild
from hub.store.rebuild_lock import RebuildLock

Append = Callable[[list[HubEvent]], None]
WriteJob = Callable[[Any, str, Append], Any]
"""``job(conn, backend, append)``: ``backend`` is ``sqlite`` or ``postgresql`` (``index_rebuild.statement``)."""


class RebuildsOnBackend(abc.ABC):
    """Implements ``IndexRebuilding`` with a backend's ``_rebuild_write``, ``_rebuild_read`` and ``_rebuild_lock``."""

    codecs: CodecRegistry

    @abc.abstractmethod
    def _rebuild_write(self, job: WriteJob) -> Any:
        """Run ``job(conn, backend, append)`` in one write transaction and return what it returns."""

    @abc.abstractmethod
    def _rebuild_read(self, job: Callable[[Any, str], Any]) -> Any:
        """Run ``job(conn, backend)`` on a reading connection and return what it returns."""

    @abc.abstractmethod
    def _rebuild_lock(self, purpose: str) -> RebuildLock | None:
        """Take the lock of the rebuild of ``purpose``'s keys without waiting; None while held elsewhere."""

    def begin_index_rebuild(
        self, old_key_id: str, new_key_id: str, now: float, actor: str, purpose: str = "index"
    ) -> IndexRebuild:
        """Start the rebuild to ``new_key_id`` (or return the one begun), on the audit chain."""
        rebuild.rekeying(purpose)  # an unknown purpose is refused before anything is written
        state: IndexRebuild = self._rebuild_write(
            lambda conn, backend, append: rebuild.begin_job(
                conn, backend, old_key_id, new_key_id, now, actor, append, purpose
            )
        )
        return state

    def index_rebuild(self, purpose: str = "index") -> IndexRebuild | None:
        """The latest rebuild of ``purpose``'s keys, or None."""
        state: IndexRebuild | None = self._rebuild_read(lambda conn, backend: rebuild.read_current(conn, backend,
                                                                                                  purpose))  # fmt: skip
        return state

    def rebuild_index_batch(
        self,
        new_key_id: str,
        reindex: Callable[[dict[str, Any]], str | None],
        batch_size: int,
        now: float,
        settle_seconds: float,
    ) -> tuple[IndexRebuild, int]:
        """One batch of the rebuild, values, copies and cursor in one transaction (its row locked on PostgreSQL)."""
        result: tuple[IndexRebuild, int] = self._rebuild_write(
            lambda conn, backend, append: rebuild.batch_job(
                conn, backend, self.codecs, new_key_id, reindex, batch_size, now, settle_seconds, append
            )
        )
        return result

    def lock_index_rebuild(self, new_key_id: str, runner: str, purpose: str = "index") -> RebuildLock | None:
        """Take the rebuild's lock and record ``runner``; None if held."""
        held = self._rebuild_lock(rebuild.rekeying(purpose).purpose)
        if held is not None:
            try:
                self._rebuild_write(lambda conn, backend, append: rebuild.run_by_job(conn, backend, new_key_id,
                                                                                     runner))  # fmt: skip
            except BaseException:
                held.release()
                raise
        return held
