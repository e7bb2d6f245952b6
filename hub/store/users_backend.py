"""The dashboard's users (``ports_console.UserStore``) on either backend, written once.

A backend provides its write transaction and its reads (``PathwayOnBackend``'s ``_pathway_write`` and
``_pathway_read``, ``?`` placeholders); every change and every login, failed or not, is on the audit chain in the
same transaction, with the user's name as its actor.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store.pathway_backend import Append, Execute
from hub.store.ports_console import UserStore

COLUMNS = ("name", "role", "password_hash", "created_at", "disabled_at", "failed_logins", "locked_until",
           "last_login_at")  # fmt: skip
SELECT = f"SELECT {', '.join(COLUMNS)} FROM users"


class UsersOnBackend(UserStore):
    """Implements ``UserStore`` with a backend's ``_pathway_write`` and ``_pathway_read``."""

    @abc.abstractmethod
    def _pathway_write(self, job: Callable[[Execute, Append], Any]) -> Any:
        """Run ``job(execute, append)`` in one write transaction and return what it returns."""

    @abc.abstractmethod
    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read (``?`` placeholders)."""

    def add_user(self, name: str, role: str, password_hash: str, now: float, actor: str) -> bool:
        def job(ex: Execute, append: Append) -> bool:
            if ex("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is not None:
                return False
            ex("INSERT INTO users (name, role, password_hash, created_at, failed_logins) VALUES (?, ?, ?, ?, 0)",
               (name, role, password_hash, now))  # fmt: skip
            append([HubEvent("user_added", "", now, detail={"user": name, "role": role}, actor=actor)])
            return True

        return bool(self._pathway_write(job))

    def user(self, name: str) -> dict[str, Any] | None:
        rows = self._pathway_read(f"{SELECT} WHERE name = ?", (name,))
        return dict(zip(COLUMNS, rows[0], strict=True)) if rows else None

    def users(self) -> list[dict[str, Any]]:
        rows = self._pathway_read(f"{SELECT} ORDER BY name")
        return [{k: v for k, v in zip(COLUMNS, row, strict=True) if k != "password_hash"} for row in rows]

    def disable_user(self, name: str, now: float, actor: str) -> bool:
        def job(ex: Execute, append: Append) -> bool:
            changed = ex("UPDATE users SET disabled_at = ? WHERE name = ? AND disabled_at IS NULL", (now, name))
            if changed.rowcount != 1:
                return False
            append([HubEvent("user_disabled", "", now, detail={"user": name}, actor=actor)])
            return True

        return bool(self._pathway_write(job))

    def disable_user_keeping_an_admin(self, name: str, now: float, actor: str) -> str:
        def job(ex: Execute, append: Append) -> str:
            row = ex("SELECT role FROM users WHERE name = ? AND disabled_at IS NULL", (name,)).fetchone()
            if row is None:
                return "missing"
            if row[0] == "admin":  # lock every enabled admin's row first (PostgreSQL): two admins disabled at once
                # by two processes would otherwise each see the other still enabled
                ex("UPDATE users SET role = role WHERE role = 'admin' AND disabled_at IS NULL", ())
                admins = ex("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL", ()).fetchone()
                if int(admins[0]) <= 1:
                    return "last_admin"
            ex("UPDATE users SET disabled_at = ? WHERE name = ? AND disabled_at IS NULL", (now, name))
            append([HubEvent("user_disabled", "", now, detail={"user": name}, actor=actor)])
            return "disabled"

        return str(self._pathway_write(job))

    def reset_user_password(self, name: str, password_hash: str, now: float, actor: str) -> bool:
        def job(ex: Execute, append: Append) -> bool:
            changed = ex("UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL "
                         "WHERE name = ? AND disabled_at IS NULL", (password_hash, name))  # fmt: skip
            if changed.rowcount != 1:
                return False
            append([HubEvent("user_password_reset", "", now, detail={"user": name}, actor=actor)])
            return True

        return bool(self._pathway_write(job))

    def login_succeeded(self, name: str, now: float, detail: dict[str, Any]) -> None:
        def job(ex: Execute, append: Append) -> None:
            ex("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE name = ?", (now, name))
            append([HubEvent("login", "", now, detail=detail, actor=name)])

        self._pathway_write(job)

    def login_failed(self, name: str, now: float, lock_for: Callable[[int], float], detail: dict[str, Any]) -> int:
        def job(ex: Execute, append: Append) -> int:
            ex("UPDATE users SET failed_logins = failed_logins + 1 WHERE name = ?", (name,))
            row = ex("SELECT failed_logins FROM users WHERE name = ?", (name,)).fetchone()
            failures = int(row[0]) if row else 0
            seconds = lock_for(failures) if failures else 0.0
            if seconds > 0:
                ex("UPDATE users SET locked_until = ? WHERE name = ?", (now + seconds, name))
            append([HubEvent("login_failed", "", now, detail={**detail, "failures": failures,
                                                               "locked_seconds": seconds}, actor=name)])  # fmt: skip
            return failures

        return int(self._pathway_write(job))

    def record_view(self, events: list[HubEvent]) -> None:
        self._pathway_write(lambda ex, append: append(events))
