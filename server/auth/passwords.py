"""Password hashing with argon2.

Hashing costs tens of milliseconds on purpose; requests call the ``*_off_loop`` forms,
which run it in a worker thread (argon2 releases the GIL), so a login never stalls the
cards and checks being served meanwhile.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both paths cost the same.

    Made on first use rather than at import: every ``manage.py`` command imports this
    module, and most of them never verify a password (one hash is a fifth of a second
    on a busy two-core machine).
    """
    return _hasher.hash("tessera-dummy-password")


MIN_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    dummy = _dummy_hash()  # made on the first verification, known address or not
    try:
        return _hasher.verify(password_hash or dummy, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


def password_problem(password: str) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > 1000:
        return "Use at most 1000 characters."
    return None
