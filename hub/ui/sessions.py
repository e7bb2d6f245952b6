"""The dashboard's session cookie: signed, HttpOnly, SameSite=Strict, Secure under TLS, with two expiries.

The cookie holds ``{"u": user or "", "t": issued, "s": last seen, "c": CSRF token, "p": credential stamp}`` as
base64url JSON, then a dot, then its HMAC-SHA256 under the session key. Nothing personal is in it (a user name,
times, and the stamp: an HMAC under the session key of a digest of the user's role and password hash, never the
hash). A session ends ``IDLE_SECONDS`` after its last request or ``ABSOLUTE_SECONDS`` after the login, whichever
comes first; the user's row is read on every request as well, and the session ends at its next request when the
user was disabled or its stamp no longer matches the row (``stamp_ok``): a new password or another role ends every
session of the user opened before (the dashboard gives an admin who resets their own password a new stamp).

Every form carries the session's CSRF token (anonymous visitors get a session without a user for the login
form); a POST whose token does not match the cookie's is refused (``csrf_ok``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

COOKIE = "hub_session"
IDLE_SECONDS = 15 * 60
ABSOLUTE_SECONDS = 8 * 60 * 60
_LABEL = b"hub dashboard session cookie v1"


def session_key(secret: bytes) -> bytes:
    """The key cookies are signed with, derived from a secret of the hub's key ring (never used for anything else)."""
    return hmac.new(secret, _LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class Session:
    """One browser's session: ``user`` ("" before login), issued and last-seen times, its CSRF token and the
    credential stamp of the user when it logged in (``stamp``; "" before login)."""

    user: str
    issued: float
    seen: float
    csrf: str
    stamp: str = ""

    @staticmethod
    def new(user: str, now: float, stamp: str = "") -> Session:
        """A fresh session (a new CSRF token: a login never keeps the token of the session before it)."""
        return Session(user, now, now, secrets.token_urlsafe(32), stamp)

    def expired(self, now: float) -> bool:
        """Past its idle or its absolute expiry (or issued in the future: a clock or a forgery)."""
        return now - self.seen > IDLE_SECONDS or now - self.issued > ABSOLUTE_SECONDS or self.issued > now + 60

    def touched(self, now: float) -> Session:
        """The same session, seen now."""
        return Session(self.user, self.issued, now, self.csrf, self.stamp)


def stamp(credential: str, key: bytes) -> str:
    """The stamp a session of a user whose credential digest is ``credential`` carries (HMAC under ``key``)."""
    mac = hmac.new(key, b"credential stamp\x00" + credential.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def stamp_ok(session: Session, credential: str, key: bytes) -> bool:
    """True when ``session`` was stamped for this credential digest (the user's role and password unchanged)."""
    return bool(session.stamp) and hmac.compare_digest(session.stamp.encode(), stamp(credential, key).encode())


def encode(session: Session, key: bytes) -> str:
    """The cookie's value for ``session``."""
    payload = json.dumps({"u": session.user, "t": session.issued, "s": session.seen, "c": session.csrf,
                          "p": session.stamp}, separators=(",", ":")).encode()  # fmt: skip
    body = base64.urlsafe_b64encode(payload).rstrip(b"=")
    mac = base64.urlsafe_b64encode(hmac.new(key, body, hashlib.sha256).digest()).rstrip(b"=")
    return f"{body.decode()}.{mac.decode()}"


def decode(value: str | None, key: bytes) -> Session | None:
    """The session in a cookie's value; None when there is none, or its signature or shape is wrong."""
    if not value or value.count(".") != 1:
        return None
    body, mac = value.encode().split(b".")
    expected = base64.urlsafe_b64encode(hmac.new(key, body, hashlib.sha256).digest()).rstrip(b"=")
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        return Session(str(data["u"]), float(data["t"]), float(data["s"]), str(data["c"]), str(data.get("p", "")))
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None


def csrf_ok(session: Session | None, token: str | None) -> bool:
    """True when a form's ``token`` is its session's CSRF token."""
    return session is not None and token is not None and hmac.compare_digest(session.csrf.encode(), token.encode())
