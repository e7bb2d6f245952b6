"""The dashboard's users: adding, listing and disabling them, and checking a login with lockout.

Passwords are kept only as argon2id hashes (``argon2-cffi``: memory-hard, salted, its parameters in the hash).
A user has one of ``ROLES``:

- ``viewer``: every screen, but never personal data (no bodies, no NHS-number search, error texts hidden);
- ``navigator``: a viewer that may also see personal data (bodies, NHS-number search), each read audited;
- ``operator``: a navigator that may also replay and drop dead letters;
- ``admin``: an operator that may also manage users.

After ``LOCK_AFTER`` failed logins in a row a user is locked for ``LOCK_SECONDS``, doubling with each further
failure up to ``LOCK_MAX_SECONDS``; a login while locked fails without the password being checked. Every login,
failed or not, is on the audit chain with the name tried as its actor (``hub.store.ports_console.UserStore``).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.plugin_api.ui_screens import UI_ROLES
from hub.services.errors import OperationRefused
from hub.store.ports import Store

ROLES = UI_ROLES
PERSONAL_DATA_ROLES = frozenset({"navigator", "operator", "admin"})
CHANGE_ROLES = frozenset({"operator", "admin"})
ADMIN_ROLES = frozenset({"admin"})

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MIN_PASSWORD = 12
LOCK_AFTER = 5
LOCK_SECONDS = 30.0
LOCK_MAX_SECONDS = 900.0

_hasher = PasswordHasher()
# checked when the name is unknown, so that a login takes as long whether the name exists or not
_UNKNOWN = _hasher.hash("no such user: this hash matches no password anyone is given")


@dataclass(frozen=True)
class User:
    """Who is logged in, and what the role lets them do."""

    name: str
    role: str
    credential: str = field(default="", repr=False, compare=False)
    """A digest of the role and the password hash (never the hash): it changes when either does, so a session
    stamped with it ends then (``hub.ui.sessions.stamp_ok``)."""

    @property
    def sees_personal_data(self) -> bool:
        """May see bodies and search by NHS number (each read audited)."""
        return self.role in PERSONAL_DATA_ROLES

    @property
    def may_manage_users(self) -> bool:
        """May add, disable and reset the password of users in the dashboard."""
        return self.role in ADMIN_ROLES

    @property
    def may_change(self) -> bool:
        """May replay and drop dead letters."""
        return self.role in CHANGE_ROLES


@dataclass(frozen=True)
class LoginResult:
    """A login's outcome: ``user`` when it succeeded, else ``reason`` (``wrong``, ``unknown``, ``disabled``,
    ``locked``) for the audit chain; the page shows every refusal alike, so it tells no one which names exist."""

    user: User | None
    reason: str | None = None


def lock_for(failures: int) -> float:
    """Seconds a user is locked for after ``failures`` failed logins in a row (0: not locked)."""
    if failures < LOCK_AFTER:
        return 0.0
    return float(min(LOCK_SECONDS * 2 ** (failures - LOCK_AFTER), LOCK_MAX_SECONDS))


def name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a user name, or None."""
    if not NAME.fullmatch(name):
        return ("a user name is 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or "
                "digit")  # fmt: skip
    return None


def add_user(store: Store, name: str, role: str, password: str, *, actor: str) -> None:
    """Add a user with an argon2 hash of ``password``; refused with the reason when anything is wrong."""
    why = name_problem(name)
    if why:
        raise OperationRefused(f"{name!r}: {why}")
    if role not in ROLES:
        raise OperationRefused(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise OperationRefused(f"the password must be at least {MIN_PASSWORD} characters long")
    if not store.add_user(name, role, _hasher.hash(password), time.time(), actor):
        raise OperationRefused(f"there is already a user named {name!r}")


def list_users(store: Store) -> list[dict[str, Any]]:
    """Every user (never a hash): name, role, created, disabled, failed logins, locked until, last login."""
    return store.users()


def disable_user(store: Store, name: str, *, actor: str) -> None:
    """Disable ``name``: its sessions end at their next request and it cannot log in again. Refused when there is
    no such enabled user, or it is the last enabled admin (someone must be left to manage users)."""
    done = store.disable_user_keeping_an_admin(name, time.time(), actor)
    if done == "missing":
        raise OperationRefused(f"there is no enabled user named {name!r}")
    if done == "last_admin":
        raise OperationRefused(f"{name!r} is the last enabled admin: add another admin before disabling it")


def reset_password(store: Store, name: str, password: str, *, actor: str) -> None:
    """Give ``name`` a new password (argon2-hashed) and lift its lock; refused when the password is too short or
    there is no such enabled user. Its dashboard sessions end at their next request (their stamp no longer matches)."""
    if len(password) < MIN_PASSWORD:
        raise OperationRefused(f"the password must be at least {MIN_PASSWORD} characters long")
    if not store.reset_user_password(name, _hasher.hash(password), time.time(), actor):
        raise OperationRefused(f"there is no enabled user named {name!r}")


def active_user(store: Store, name: str) -> User | None:
    """The user ``name`` if it exists and is not disabled (a session is checked with this on every request)."""
    row = store.user(name)
    if row is None or row["disabled_at"] is not None:
        return None
    return user_from_row(row)


def user_from_row(row: dict[str, Any]) -> User:
    """The ``User`` a row of the users table (``Store.user``) stands for, its ``credential`` digest included."""
    digest = hashlib.sha256(f"{row['role']}\x00{row['password_hash']}".encode()).hexdigest()
    return User(row["name"], row["role"], digest)


def log_in(store: Store, name: str, password: str, *, via: str, now: float | None = None) -> LoginResult:
    """Check ``password`` for ``name``; audit the login or its failure, counting failures toward the lock."""
    now = time.time() if now is None else now
    shown = name if NAME.fullmatch(name) else "(not a user name)"
    row = store.user(name) if shown == name else None
    reason: str | None = None
    if row is None:
        _verify(_UNKNOWN, password)
        reason = "unknown"
    elif row["disabled_at"] is not None:
        reason = "disabled"
    elif row["locked_until"] is not None and now < row["locked_until"]:
        reason = "locked"
    elif not _verify(row["password_hash"], password):
        reason = "wrong"
    if reason is None and row is not None:
        store.login_succeeded(name, now, {"via": via})
        return LoginResult(user_from_row(row))
    store.login_failed(shown, now, lock_for, {"via": via, "reason": reason})
    return LoginResult(None, reason)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
