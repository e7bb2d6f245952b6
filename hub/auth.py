"""API tokens: how they are made, hashed and checked.

Tokens are 256-bit random strings shown once to the partner. The hub keeps only
their SHA-256 digest (``sha256:<hex>``): because a token is random and long, a
fast hash is enough (password stretching protects guessable secrets, which these
are not), and a lookup by digest costs the same for right and wrong tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "hub_"
HASH_PREFIX = "sha256:"


def generate_token() -> str:
    """Return a new random API token (shown once, never stored in clear)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the digest stored in the partners file for ``token``."""
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_token_hash(value: str) -> bool:
    """True when ``value`` looks like a digest made by ``hash_token``."""
    if not value.startswith(HASH_PREFIX):
        return False
    digest = value[len(HASH_PREFIX) :]
    return len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored digest."""
    return hmac.compare_digest(hash_token(token), stored_hash)
