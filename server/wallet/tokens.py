"""Pass serial numbers and Apple's per-pass ``authenticationToken``.

A serial is 16 random bytes (hex). The token a device presents (``Authorization:
ApplePass <token>``) is derived from the serial with a key derived from SECRET_KEY
(HMAC-SHA-256, base64url), so a member who adds the same card to Wallet again gets
the very same pass (same serial, same token) instead of a second one, while the
database holds only the token's SHA-256 and a stolen database lets nobody update or
fetch a pass. Compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

SERIAL_RE = re.compile(r"^[0-9a-f]{32}$")
# Apple requires at least 16 characters; ours are 43.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,100}$")
_NO_HASH = "0" * 64  # compared against when the serial is unknown: the same work


def new_serial() -> str:
    return secrets.token_hex(16)


def auth_token(serial: str, secret_key: str) -> str:
    key = hashlib.sha256(b"tessera.wallet-pass-token:" + secret_key.encode()).digest()
    digest = hmac.new(key, serial.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(given: str | None, stored_hash: str | None) -> bool:
    """Whether ``given`` is the token whose hash is stored; constant time either way."""
    candidate = hash_token(given) if given and TOKEN_RE.match(given) else _NO_HASH
    return hmac.compare_digest(candidate, stored_hash or _NO_HASH) and stored_hash is not None


def from_header(value: str | None) -> str | None:
    """The token of an ``Authorization: ApplePass <token>`` header (the scheme, as any
    HTTP authentication scheme, in any case)."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "applepass" and token.strip() else None
