"""The dashboard's session cookie and login rules, without a browser: signatures, both expiries, CSRF, the lock."""

from __future__ import annotations

from typing import Any

import pytest

from hub.services.errors import OperationRefused
from hub.services.users import LOCK_AFTER, LOCK_MAX_SECONDS, LOCK_SECONDS, add_user, lock_for, log_in, user_from_row
from hub.store import Store, open_store
from hub.ui import sessions
from hub.ui.sessions import ABSOLUTE_SECONDS, IDLE_SECONDS, Session

KEY = sessions.session_key(b"k" * 32)
T0 = 1_800_000_000.0


def test_a_cookie_reads_back_only_under_its_key_and_unaltered() -> None:
    session = Session.new("alice", T0)
    value = sessions.encode(session, KEY)
    assert sessions.decode(value, KEY) == session
    assert sessions.decode(value, sessions.session_key(b"other" * 8)) is None
    body, mac = value.split(".")
    forged = sessions.encode(Session("admin", T0, T0, session.csrf), sessions.session_key(b"guess" * 8))
    assert sessions.decode(f"{forged.split('.')[0]}.{mac}", KEY) is None
    assert sessions.decode(f"{body}x.{mac}", KEY) is None
    for junk in (None, "", "no-dot", "a.b.c", "!!.??"):
        assert sessions.decode(junk, KEY) is None


def test_a_session_ends_when_idle_too_long_or_too_old_whatever_its_use() -> None:
    session = Session.new("alice", T0)
    assert not session.expired(T0 + IDLE_SECONDS)
    assert session.expired(T0 + IDLE_SECONDS + 1)
    used = session
    for step in range(1, ABSOLUTE_SECONDS // IDLE_SECONDS + 2):
        used = used.touched(T0 + step * IDLE_SECONDS - 1)
    assert used.seen - used.issued > ABSOLUTE_SECONDS and used.expired(used.seen)
    assert Session.new("alice", T0 + 3600).expired(T0)  # issued in the future


def test_a_session_s_stamp_matches_its_user_only_while_role_and_password_hash_are_unchanged() -> None:
    row = {"name": "alice", "role": "operator", "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"}
    user = user_from_row(row)
    session = Session.new("alice", T0, sessions.stamp(user.credential, KEY))
    assert sessions.stamp_ok(sessions.decode(sessions.encode(session, KEY), KEY) or session, user.credential, KEY)
    assert session.touched(T0 + 1).stamp == session.stamp
    assert row["password_hash"] not in sessions.encode(session, KEY) + user.credential + repr(user)
    for changed in ({"role": "admin"}, {"password_hash": row["password_hash"][:-1] + "B"}):
        assert not sessions.stamp_ok(session, user_from_row(row | changed).credential, KEY), changed
    assert not sessions.stamp_ok(session, user.credential, sessions.session_key(b"other" * 8))
    assert not sessions.stamp_ok(Session.new("alice", T0), user.credential, KEY)  # a cookie from before stamps


def test_csrf_tokens_match_only_their_own_session() -> None:
    one, other = Session.new("", T0), Session.new("", T0)
    assert one.csrf != other.csrf
    assert sessions.csrf_ok(one, one.csrf)
    assert not sessions.csrf_ok(one, other.csrf) and not sessions.csrf_ok(one, None) and not sessions.csrf_ok(None, "x")


def test_the_lock_starts_after_five_failures_and_doubles_up_to_its_cap() -> None:
    assert [lock_for(n) for n in range(LOCK_AFTER)] == [0.0] * LOCK_AFTER
    assert lock_for(LOCK_AFTER) == LOCK_SECONDS and lock_for(LOCK_AFTER + 1) == 2 * LOCK_SECONDS
    assert lock_for(LOCK_AFTER + 30) == LOCK_MAX_SECONDS


def row(store: Store, name: str) -> dict[str, Any]:
    found = store.user(name)
    assert found is not None
    return found


def test_a_login_checks_the_argon2_hash_and_a_lock_holds_until_it_ends(tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        add_user(store, "alice", "operator", "a long enough password", actor="test")
        assert str(row(store, "alice")["password_hash"]).startswith("$argon2id$")
        for bad in [("Alice!", "viewer", "a long enough password"), ("bob", "root", "a long enough password"),
                    ("bob", "viewer", "short"), ("alice", "viewer", "a long enough password")]:  # fmt: skip
            with pytest.raises(OperationRefused):
                add_user(store, *bad, actor="test")
        assert log_in(store, "alice", "a long enough password", via="test", now=T0).user is not None
        assert log_in(store, "nobody", "x", via="test", now=T0).reason == "unknown"
        for n in range(LOCK_AFTER):
            assert log_in(store, "alice", "wrong", via="test", now=T0 + n).reason == "wrong"
        locked = log_in(store, "alice", "a long enough password", via="test", now=T0 + LOCK_AFTER)
        assert locked.reason == "locked"
        after = row(store, "alice")["locked_until"]
        assert log_in(store, "alice", "a long enough password", via="test", now=after + 1).user is not None
    finally:
        store.close()
