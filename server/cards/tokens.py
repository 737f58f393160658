"""Card-link tokens: 16 random bytes, base64url in the link, SHA-256 in the database."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

TOKEN_BYTES = 16
# 16 bytes in unpadded base64url are exactly 22 characters.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")


def new_token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    return TOKEN_RE.match(value) is not None


def card_path(token: str) -> str:
    return f"/card/{token}"
